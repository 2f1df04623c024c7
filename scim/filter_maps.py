"""What SCIM clients may filter on (RFC 7644 §3.4.2.2): the FilterMaps of Users and Groups.

Each entry maps a lowercased attribute path to where it is stored; `scim.filters.compile_filter` turns a filter
into SQL with it. Related rows are matched only where SCIM may see them (R3, R7); the callers scope the resources.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.orm import aliased

from models import Cohort, CohortMember, Role, User, UserEmail
from scim.definitions import GROUP_RESOURCE, USER_RESOURCE
from scim.filters import Computed, Field, FilterMap, Related

__all__ = ["GROUP_FILTERS", "USER_FILTERS"]


def _active(op: str, value: bool | None) -> ColumnElement[bool]:
    """`active` is the member rung (docs/design.md R1): true is role MEMBER, false is role BANNED."""
    if op == "pr":
        return true()  # every SCIM user has it
    return User.role == (Role.MEMBER if value else Role.BANNED)


_EMAILS = Related((UserEmail,), User.id, UserEmail.user_id)
_email_value = Field(UserEmail.value_ci, folded=True, via=_EMAILS)
# An alias, so the member lookup never collides with (or correlates to) a `users` table in the caller's query.
_member = aliased(User, name="member_user")
# Only members SCIM may see can be matched, or a filter would reveal which groups hold a promoted
# or local account (R3, R7).
_MEMBERS = Related(
    (CohortMember, _member),
    Cohort.id,
    CohortMember.cohort_id,
    and_(
        CohortMember.user_id == _member.id,
        _member.tenant_id == Cohort.tenant_id,
        _member.scim_managed.is_(True),
        _member.role.in_(Role.SCIM_RUNG),
        _member.deprovisioned_at.is_(None),
    ),
)
_member_value = Field(_member.scim_id, case_exact=True, via=_MEMBERS)

USER_FILTERS = FilterMap(
    USER_RESOURCE,
    {
        "id": Field(User.scim_id, case_exact=True),
        "username": Field(User.user_name_ci, folded=True),  # docs/idp-behaviour.md pitfall 13: eq is an index lookup
        "externalid": Field(User.external_id, case_exact=True),
        "displayname": Field(User.display_name_ci, folded=True),
        "name.givenname": Field(User.given_name_ci, folded=True),
        "name.familyname": Field(User.family_name_ci, folded=True),
        "active": Computed(_active),
        "emails": _email_value,  # RFC 7644 §3.4.2.2: a multi-valued attribute alone means its `value`
        "emails.value": _email_value,
        "emails.type": Field(UserEmail.type_ci, folded=True, via=_EMAILS),
        "emails.primary": Field(UserEmail.primary, kind="boolean", via=_EMAILS),
        "meta.created": Field(User.created_at, kind="datetime"),
        "meta.lastmodified": Field(User.updated_at, kind="datetime"),
    },
)

GROUP_FILTERS = FilterMap(
    GROUP_RESOURCE,
    {
        "id": Field(Cohort.scim_id, case_exact=True),
        "externalid": Field(Cohort.external_id, case_exact=True),
        "displayname": Field(Cohort.name_ci, folded=True),
        "members": _member_value,
        "members.value": _member_value,
        "meta.created": Field(Cohort.created_at, kind="datetime"),
        "meta.lastmodified": Field(Cohort.updated_at, kind="datetime"),
    },
)
