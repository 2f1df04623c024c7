"""Domain exceptions; the SCIM and admin interfaces each render them in their own protocol."""


class DomainError(Exception):
    """Base for every rule violation a caller can cause."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing does not exist, or does not exist for this caller.

    `reason` is for the request log only, never for the caller: "not_found" (absent, deleted, another tenant's)
    or "not_visible" (it exists here, but this caller may not touch it).
    """

    def __init__(self, message: str, reason: str = "not_found") -> None:
        super().__init__(message)
        self.reason = reason


class Conflict(DomainError):
    """A unique value is already taken (R5); `field` names which, never whose."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidInput(DomainError):
    """A value breaks a rule of the domain."""


class EmailNotVerified(DomainError):
    """R4: an unverified user cannot be promoted past role 2 or sign in."""


class NoSuperAdmin(DomainError):
    """R6: SCIM cohorts need a super-admin owner and the tenant has none."""


class ConcurrentChange(DomainError):
    """Another write to the same record won a race, twice; the caller may retry."""


class LastSuperAdmin(DomainError):
    """The change would leave the tenant without a live super-admin, whom R6 needs to own SCIM cohorts."""
