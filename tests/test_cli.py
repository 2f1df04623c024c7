"""The operator CLI: `flask --app app tenants|users|scim ...`, its output, exit codes and service rules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Role, ScimCredential, Tenant, User, db
from services import accounts, tokens
from services.errors import InvalidInput
from tests.conftest import SCIM, scim_error
from tests.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
FLASK = ROOT / ".venv" / "bin" / "flask"
TOKEN = re.compile(r"^ms_scim_[A-Za-z0-9_-]{43}$")
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def run(app, *args: str):
    """Invoke `flask <args>` in-process and return click's result."""
    return app.test_cli_runner().invoke(args=list(args))


def ok(result) -> list[str]:
    """Assert a command succeeded and return its stdout lines."""
    assert result.exit_code == 0, result.output
    assert result.exception is None
    return result.stdout.splitlines()


def fails(result, message: str, exit_code: int = 1) -> str:
    """Assert a command failed cleanly: non-zero exit, nothing on stdout, one `Error:` line, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # click's exit, not an uncaught error
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    if exit_code == 1:
        assert len(lines) == 1, lines
    assert lines[-1].startswith("Error: ")
    assert message in lines[-1], lines[-1]
    return lines[-1]


def tenant_row(slug: str) -> Tenant | None:
    db.session.expire_all()
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def user_row(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email_ci == email.lower()))


def credential_row(credential_id: int) -> ScimCredential | None:
    db.session.expire_all()
    return db.session.get(ScimCredential, credential_id)


def spc(client, token: str, host: str = "localhost"):
    return client.get(SCIM + "/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}", "Host": host})


def assert_authenticates(client, token: str) -> None:
    response = spc(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    assert response.get_json(force=True)["schemas"] == [SPC_SCHEMA]


def issue(app, name: str = "Okta production", *extra: str, tenant: str = "default") -> tuple[int, str]:
    """Issue a credential through the CLI and return (id, token) read from its output."""
    lines = ok(run(app, "scim", "issue", "--tenant", tenant, "--name", name, *extra))
    match = re.search(r"credential (\d+) issued for tenant ", lines[0])
    assert match, lines
    return int(match.group(1)), lines[-1]


# --- --help --------------------------------------------------------------------------------


HELP = [
    (("tenants",), ("create", "list", "scim")),
    (("tenants", "create"), ("SLUG", "--name", "--scim / --no-scim")),
    (("tenants", "list"), ("List tenants",)),
    (("tenants", "scim"), ("SLUG", "{on|off}")),
    (("users",), ("create", "verify", "role")),
    (("users", "create"), ("--tenant", "--email", "--role", "--password", "--verified")),
    (("users", "verify"), ("--tenant", "--email")),
    (("users", "role"), ("--tenant", "--email", "--role", "R4")),
    (("scim",), ("issue", "list", "revoke", "disable", "enable")),
    (("scim", "issue"), ("--tenant", "--name", "--slug", "last line")),
    (("scim", "list"), ("--tenant",)),
    (("scim", "revoke"), ("CREDENTIAL_ID",)),
    (("scim", "disable"), ("CREDENTIAL_ID",)),
    (("scim", "enable"), ("CREDENTIAL_ID",)),
    (("db",), ("upgrade",)),
    (("db", "upgrade"), ("Upgrade to a later version",)),
]


@pytest.mark.parametrize(("args", "fragments"), HELP, ids=[" ".join(args) for args, _ in HELP])
def test_help_for_every_group_and_command(app, args, fragments):
    result = run(app, *args, "--help")
    output = ok(result)
    assert output[0].startswith("Usage: ")
    for fragment in fragments:
        assert fragment in result.stdout


# --- tenants -------------------------------------------------------------------------------


def test_tenants_create_list_and_switch_scim(app):
    created = ok(run(app, "tenants", "create", "acme", "--name", "Acme Corp"))
    acme = tenant_row("acme")
    assert acme is not None and acme.name == "Acme Corp" and acme.learn_scim is True
    assert created == [f"{acme.id}\tacme\tAcme Corp\tscim=on"]

    ok(run(app, "tenants", "create", "Beta", "--no-scim"))
    beta = tenant_row("beta")
    assert beta is not None and beta.name == "beta" and beta.learn_scim is False

    listed = ok(run(app, "tenants", "list"))
    assert listed == [f"{acme.id}\tacme\tAcme Corp\tscim=on", f"{beta.id}\tbeta\tbeta\tscim=off"]

    assert ok(run(app, "tenants", "scim", "beta", "on")) == ["beta\tscim=on"]
    assert tenant_row("beta").learn_scim is True
    assert ok(run(app, "tenants", "scim", "ACME", "off")) == ["acme\tscim=off"]
    assert tenant_row("acme").learn_scim is False


def test_tenants_create_with_a_blank_name_uses_the_slug(app):
    ok(run(app, "tenants", "create", "acme", "--name", "   "))
    assert tenant_row("acme").name == "acme"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tenants", "create", "acme"), "tenant 'acme' already exists"),
        (("tenants", "create", "ACME"), "tenant 'acme' already exists"),
        (("tenants", "create", "bad_slug"), "slug must be"),
        (("tenants", "create", "x" * 64), "slug must be"),
        (("tenants", "create", "other", "--name", "n" * 201), "at most 200 characters"),
        (("tenants", "create", "other", "--name", "Acme\nCorp"), "control characters"),
        (("tenants", "create", "other", "--name", "Acme\tCorp"), "control characters"),
        (("tenants", "scim", "nope", "on"), "no tenant 'nope'"),
    ],
)
def test_tenants_errors_exit_1_with_one_line(app, args, message):
    ok(run(app, "tenants", "create", "acme"))
    fails(run(app, *args), message)
    db.session.expire_all()
    assert db.session.scalars(select(Tenant.slug)).all() == ["acme"]


def test_tenants_scim_rejects_a_state_other_than_on_or_off(app):
    ok(run(app, "tenants", "create", "acme"))
    fails(run(app, "tenants", "scim", "acme", "maybe"), "'maybe' is not one of 'on', 'off'", exit_code=2)
    assert tenant_row("acme").learn_scim is True


# --- users ---------------------------------------------------------------------------------


def test_users_create_verify_and_role_follow_r4(app, tenant):
    created = ok(run(app, "users", "create", "--tenant", "default", "--email", "Mia@Example.com", "--role", "2"))
    user = user_row("mia@example.com")
    assert user is not None and user.tenant_id == tenant.id
    assert (user.role, user.email_verified_at, user.password_hash, user.scim_managed) == (2, None, None, False)
    assert created == [f"{user.id}\tMia@Example.com\trole=2\tverified=no"]

    # R4: no promotion past member while the email is unverified.
    fails(
        run(app, "users", "role", "--tenant", "default", "--email", "mia@example.com", "--role", "3"),
        "verify this user's email",
    )
    assert user_row("mia@example.com").role == Role.MEMBER

    assert ok(run(app, "users", "verify", "--tenant", "default", "--email", "mia@example.com")) == [
        f"{user.id}\tMia@Example.com\tverified=yes"
    ]
    assert user_row("mia@example.com").email_verified_at is not None

    promoted = ok(run(app, "users", "role", "--tenant", "default", "--email", "MIA@example.com", "--role", "4"))
    assert promoted == [f"{user.id}\tMia@Example.com\trole=4 (admin)"]
    assert user_row("mia@example.com").role == Role.ADMIN

    demoted = ok(run(app, "users", "role", "--tenant", "default", "--email", "mia@example.com", "--role", "1"))
    assert demoted == [f"{user.id}\tMia@Example.com\trole=1 (banned)"]
    assert user_row("mia@example.com").role == Role.BANNED


def test_users_create_verified_admin_with_a_password(app, tenant):
    args = ("users", "create", "--tenant", "default", "--email", "owner@example.com", "--role", "5")
    created = ok(run(app, *args, "--password", "pw-owner-1", "--verified"))
    user = user_row("owner@example.com")
    assert created == [f"{user.id}\towner@example.com\trole=5\tverified=yes"]
    assert user.role == Role.SUPER_ADMIN and user.email_verified_at is not None
    assert user.password_hash and "pw-owner-1" not in user.password_hash
    assert accounts.check_password(user, "pw-owner-1")


@pytest.mark.parametrize("password", ["x" * 73, "é" * 37], ids=["73-ascii", "74-bytes-of-accents"])
def test_users_create_with_a_password_over_72_bytes_fails_in_one_line(app, tenant, password):
    args = ("users", "create", "--tenant", "default", "--email", "owner@example.com", "--role", "5", "--verified")
    fails(run(app, *args, "--password", password), "password must be at most 72 bytes")
    assert user_row("owner@example.com") is None


def test_a_password_of_exactly_72_bytes_is_accepted(app, tenant):
    user = accounts.create_local_user(tenant, "o@example.com", Role.ADMIN, password="é" * 36, verified=True)
    assert accounts.check_password(user, "é" * 36)
    with pytest.raises(InvalidInput, match="at most 72 bytes"):
        accounts.hash_password("x" * 73)


def test_users_create_above_member_without_verified_is_refused_r4(app, tenant):
    for role in ("3", "4", "5"):
        fails(
            run(app, "users", "create", "--tenant", "default", "--email", "a@example.com", "--role", role),
            "an unverified user cannot have a role above 2",
        )
    assert user_row("a@example.com") is None


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("users", "create", "--tenant", "nope", "--email", "x@example.com", "--role", "2"), "no tenant 'nope'", 1),
        (("users", "create", "--tenant", "default", "--email", "m@example.com", "--role", "2"), "already exists", 1),
        (("users", "create", "--tenant", "default", "--email", "not-an-email", "--role", "2"), "valid email", 1),
        (("users", "create", "--tenant", "default", "--email", "x@example.com", "--role", "6"), "'--role'", 2),
        (("users", "create", "--tenant", "default", "--email", "x@example.com", "--role", "0"), "'--role'", 2),
        (("users", "create", "--tenant", "default", "--email", "x@example.com", "--role", "admin"), "'--role'", 2),
        (("users", "role", "--tenant", "default", "--email", "m@example.com", "--role", "9"), "'--role'", 2),
        (("users", "role", "--tenant", "default", "--email", "who@example.com", "--role", "2"), "no user with", 1),
        (("users", "role", "--tenant", "nope", "--email", "m@example.com", "--role", "2"), "no tenant 'nope'", 1),
        (("users", "verify", "--tenant", "default", "--email", "who@example.com"), "no user with email", 1),
        (("users", "verify", "--tenant", "nope", "--email", "m@example.com"), "no tenant 'nope'", 1),
        (("users", "create", "--tenant", "default", "--email", "x@example.com"), "Missing option '--role'", 2),
    ],
)
def test_users_errors_exit_non_zero_with_one_line(app, tenant, args, message, exit_code):
    ok(run(app, "users", "create", "--tenant", "default", "--email", "m@example.com", "--role", "2"))
    fails(run(app, *args), message, exit_code)
    db.session.expire_all()
    assert db.session.scalars(select(User.email)).all() == ["m@example.com"]
    assert user_row("m@example.com").role == Role.MEMBER


@pytest.mark.parametrize("email", ["a b@example.com", "a@b@example.com", "a@example.com\r\nBcc: b@example.com"])
def test_users_create_wants_one_mailbox(app, tenant, email):
    fails(run(app, "users", "create", "--tenant", "default", "--email", email, "--role", "2"), "valid email", 1)
    assert db.session.scalars(select(User.email)).all() == []


def test_users_of_another_tenant_are_not_found(app, tenant):
    ok(run(app, "tenants", "create", "acme"))
    ok(run(app, "users", "create", "--tenant", "acme", "--email", "m@example.com", "--role", "2"))
    fails(run(app, "users", "verify", "--tenant", "default", "--email", "m@example.com"), "no user with email")
    assert user_row("m@example.com").email_verified_at is None


# --- scim credentials ----------------------------------------------------------------------


def test_scim_issue_prints_the_token_alone_on_the_last_line_and_it_authenticates(app, client, tenant):
    result = run(app, "scim", "issue", "--tenant", "Default", "--name", "Okta production", "--slug", "Okta")
    lines = ok(result)
    token = lines[-1]
    assert TOKEN.match(token), lines
    assert all(token not in line for line in lines[:-1])

    stored = db.session.scalars(select(ScimCredential)).all()
    assert len(stored) == 1
    credential = credential_row(stored[0].id)
    assert lines[0] == (
        f"credential {credential.id} issued for tenant default; store the token now, it is not shown again:"
    )
    assert (credential.tenant_id, credential.name, credential.slug) == (tenant.id, "Okta production", "okta")
    assert credential.token_hash == tokens.digest(token) and credential.token_hint == token[-4:]
    assert credential.state == "active"

    assert_authenticates(client, token)


def test_scim_list_one_credential_per_line_id_first_newest_first(app, tenant):
    first, first_token = issue(app, "Okta production", "--slug", "okta")
    second, second_token = issue(app, "Entra ID")
    ok(run(app, "tenants", "create", "acme"))
    issue(app, "Acme IdP", tenant="acme")
    ok(run(app, "scim", "disable", str(first)))

    lines = ok(run(app, "scim", "list", "--tenant", "DEFAULT"))
    assert lines == [
        f"{second}\tactive\tEntra ID\t-\t...{second_token[-4:]}",
        f"{first}\tdisabled\tOkta production\tokta\t...{first_token[-4:]}",
    ]
    assert all(first_token not in line and second_token not in line for line in lines)


def test_scim_list_of_a_tenant_without_credentials_prints_nothing(app, tenant):
    assert ok(run(app, "scim", "list", "--tenant", "default")) == []


def test_scim_disable_enable_revoke_take_effect_on_the_next_request(app, client, tenant):
    credential_id, token = issue(app)
    assert_authenticates(client, token)

    assert ok(run(app, "scim", "disable", str(credential_id))) == [f"{credential_id}\tdisabled"]
    assert credential_row(credential_id).disabled_at is not None
    body = scim_error(spc(client, token), 401)
    assert SPC_SCHEMA not in str(body)

    assert ok(run(app, "scim", "enable", str(credential_id))) == [f"{credential_id}\tactive"]
    assert credential_row(credential_id).disabled_at is None
    assert_authenticates(client, token)

    assert ok(run(app, "scim", "revoke", str(credential_id))) == [f"{credential_id}\trevoked"]
    assert credential_row(credential_id).revoked_at is not None
    scim_error(spc(client, token), 401)

    # Revocation is final.
    fails(run(app, "scim", "enable", str(credential_id)), "a revoked credential cannot be enabled")
    fails(run(app, "scim", "disable", str(credential_id)), "a revoked credential cannot be disabled")
    assert credential_row(credential_id).state == "revoked"
    scim_error(spc(client, token), 401)


def test_revoking_one_credential_leaves_the_others_working(app, client, tenant):
    old_id, old = issue(app, "old")
    _, new = issue(app, "new")
    ok(run(app, "scim", "revoke", str(old_id)))
    scim_error(spc(client, old), 401)
    assert_authenticates(client, new)


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("scim", "issue", "--tenant", "nope", "--name", "x"), "no tenant 'nope'", 1),
        (("scim", "issue", "--tenant", "default", "--name", "y", "--slug", "okta"), "already exists", 1),
        (("scim", "issue", "--tenant", "default", "--name", "y", "--slug", "bad slug"), "slug must be", 1),
        (("scim", "issue", "--tenant", "default", "--name", "  "), "name is required", 1),
        (("scim", "issue", "--tenant", "default", "--name", "n" * 101), "at most 100 characters", 1),
        (("scim", "issue", "--tenant", "default", "--name", "Okta\nprod"), "control characters", 1),
        (("scim", "issue", "--tenant", "default"), "Missing option '--name'", 2),
        (("scim", "list", "--tenant", "nope"), "no tenant 'nope'", 1),
        (("scim", "revoke", "999999"), "no such credential", 1),
        (("scim", "disable", "999999"), "no such credential", 1),
        (("scim", "enable", "999999"), "no such credential", 1),
        (("scim", "revoke", "okta"), "'okta' is not a valid integer", 2),
    ],
)
def test_scim_errors_exit_non_zero_with_one_line(app, tenant, args, message, exit_code):
    credential_id, _ = issue(app, "Okta", "--slug", "okta")
    fails(run(app, *args), message, exit_code)
    db.session.expire_all()
    assert db.session.scalars(select(ScimCredential.id)).all() == [credential_id]
    assert credential_row(credential_id).state == "active"


def test_tenants_scim_off_answers_404_even_with_a_valid_token_r10(app, client, tenant):
    _, token = issue(app)
    assert_authenticates(client, token)

    assert ok(run(app, "tenants", "scim", "default", "off")) == ["default\tscim=off"]
    assert tenant_row("default").learn_scim is False
    for path in ("/ServiceProviderConfig", "/Users", "/Groups"):
        response = client.get(SCIM + path, headers={"Authorization": f"Bearer {token}"})
        body = scim_error(response, 404)
        assert SPC_SCHEMA not in str(body) and "Resources" not in body

    assert ok(run(app, "tenants", "scim", "default", "on")) == ["default\tscim=on"]
    assert_authenticates(client, token)


# --- the real executable -------------------------------------------------------------------


def test_real_flask_executable_on_a_fresh_sqlite_file(tmp_path):
    """`flask --app app ...` as an operator runs it: upgrade, create a tenant, issue a token."""
    assert FLASK.exists(), f"{FLASK} is missing; run bin/setup-venv"
    env = subprocess_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        SECRET_KEY="cli-test-secret",
        INSTANCE_PATH=str(tmp_path / "instance"),  # keep the checkout's instance/ out of it
    )

    def flask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - our own executable and arguments
            [str(FLASK), "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    upgraded = flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "x.db").exists()

    created = flask("tenants", "create", "acme")
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"\d+\tacme\tacme\tscim=on\n", created.stdout)

    issued = flask("scim", "issue", "--tenant", "acme", "--name", "x")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.splitlines()[-1]
    assert re.match(r"^ms_scim_[A-Za-z0-9_-]{43}$", token), issued.stdout

    listed = flask("scim", "list", "--tenant", "acme")
    assert listed.returncode == 0, listed.stderr
    assert re.fullmatch(rf"\d+\tactive\tx\t-\t\.\.\.{re.escape(token[-4:])}\n", listed.stdout)

    duplicate = flask("tenants", "create", "acme")
    assert duplicate.returncode == 1
    assert duplicate.stdout == ""
    assert duplicate.stderr == "Error: tenant 'acme' already exists\n"
    assert not (tmp_path / "instance" / "secret_key").exists()  # SECRET_KEY came from the environment
