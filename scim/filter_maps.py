"""What SCIM clients may filter on (RFC 7644 §3.4.2.2): the FilterMaps of Users and Groups.

Each entry maps a lowercased attribute path to where it is stored; `scim.filters.compile_filter` turns a filter
into SQL with it. Related rows are matched only where SCIM may see them (R3, R7); the callers scope the resources.

Every singular attribute a User publishes in /Schemas is filterable, as Entra lets an admin match on any of them.
Those without a column of their own are kept in `users.profile` and read with the database's JSON operators
(json_extract on SQLite, ->> on PostgreSQL); the case-insensitive ones are read from `users.profile_ci`, which
holds their folded copies, so both databases compare the same fold. employeeNumber, which IdPs match on, has an
indexed column.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, true
from sqlalchemy.orm import aliased

from models import Cohort, CohortMember, Role, User, UserEmail
from scim.definitions import GROUP_RESOURCE, USER_RESOURCE, Attribute
from scim.filter_targets import Computed, Field, FilterMap, Related, Target

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
# A user's groups are the SCIM-visible cohorts it belongs to, as /Users renders them.
_GROUPS = Related(
    (CohortMember, Cohort),
    User.id,
    CohortMember.user_id,
    and_(Cohort.id == CohortMember.cohort_id, Cohort.scim_managed.is_(True), Cohort.scim_deleted_at.is_(None)),
)
_group_value = Field(Cohort.scim_id, case_exact=True, via=_GROUPS)
_ENTERPRISE = USER_RESOURCE.extensions[0].id.lower()
_manager_value = Field(User.profile[("enterprise", "manager", "value")].as_string(), case_exact=True)
# Never stored (derived by the server, or not kept at all): absent on every user, so `eq` matches nobody and
# `ne` everybody, exactly as for any absent value.
_ABSENT = Computed(lambda op, value: false(), kind="string")


def _profile_targets(declared: dict[str, Target]) -> dict[str, Target]:
    """Map every singular attribute of the User schemas not declared above to its place in the stored profile."""
    targets: dict[str, Target] = {}
    for schema in USER_RESOURCE.schemas():
        core = schema is USER_RESOURCE.schema
        prefix, stored = ("", ()) if core else (f"{schema.id.lower()}:", ("enterprise",))
        for attribute in schema.attributes:
            if attribute.multi_valued:
                continue
            leaves = [(attribute.name, attribute)]
            if attribute.type == "complex":
                leaves = [(f"{attribute.name}.{sub.name}", sub) for sub in attribute.sub_attributes]
            for dotted, leaf in leaves:
                key = prefix + dotted.lower()
                if key not in declared:
                    targets[key] = _profile_target(leaf, (*stored, *dotted.split(".")))
    return targets


def _profile_target(attribute: Attribute, path: tuple[str, ...]) -> Target:
    if attribute.mutability == "readOnly":
        return _ABSENT  # the server derives these; nothing of them is kept in the profile
    if attribute.type != "string":
        raise TypeError(f"{attribute.name}: map a {attribute.type} attribute to a column of its kind")
    if attribute.case_exact:
        return Field(User.profile[path].as_string(), case_exact=True)
    return Field(User.profile_ci[".".join(path).lower()].as_string(), folded=True)


_USER_DECLARED: dict[str, Target] = {
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
    "groups": _group_value,
    "groups.value": _group_value,
    "groups.display": Field(Cohort.name_ci, folded=True, via=_GROUPS),
    f"{_ENTERPRISE}:employeenumber": Field(User.employee_number_ci, folded=True),
    # `manager eq "id"` means its value, as `emails eq "x"` does.
    f"{_ENTERPRISE}:manager": _manager_value,
    f"{_ENTERPRISE}:manager.value": _manager_value,
}

USER_FILTERS = FilterMap(USER_RESOURCE, {**_USER_DECLARED, **_profile_targets(_USER_DECLARED)})

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
