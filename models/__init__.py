"""The database and every model, shared by the SCIM and admin interfaces (docs/design.md §7).

One module per domain; import from here (`from models import db, User`), which also makes sure every
model is mapped before the first query.
"""

from models.accounts import (
    SCIM_VISIBLE_POSTGRESQL,
    SCIM_VISIBLE_SQLITE,
    EmailToken,
    SignInFailure,
    Tenant,
    User,
    UserEmail,
)
from models.base import db, new_scim_id, utcnow
from models.cohorts import Cohort, CohortMember
from models.credentials import ApiKey, ScimCredential, ScimCredentialOperation
from models.member_counts import ScimMemberCount
from models.request_log import OffboardingRequest, ScimRequest, ScimRequestRollup
from models.roles import Role

__all__ = [
    "ApiKey",
    "Cohort",
    "CohortMember",
    "EmailToken",
    "OffboardingRequest",
    "Role",
    "SCIM_VISIBLE_POSTGRESQL",
    "SCIM_VISIBLE_SQLITE",
    "ScimCredential",
    "ScimCredentialOperation",
    "ScimMemberCount",
    "ScimRequest",
    "ScimRequestRollup",
    "SignInFailure",
    "Tenant",
    "User",
    "UserEmail",
    "db",
    "new_scim_id",
    "utcnow",
]
