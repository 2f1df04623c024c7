"""The count of SCIM-visible members the database keeps (models/member_counts.py) equals the rule, always.

`GET /Users` answers its unfiltered total from that count instead of counting the tenant's members, so every
write that makes or ends a member's visibility (R1, R3, R8), through any path, must move it.
"""

from __future__ import annotations

from sqlalchemy import func, select, text

from models import Role, User, db
from services import accounts, member_reads, provisioning, roles, tenants, visibility
from tests.concurrency import run_together
from tests.conftest import ScimClient
from tests.helpers import USER


def _counted(tenant_id: int) -> int:
    """What the rule says: the tenant's members SCIM can see, counted row by row."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User).where(visibility.scim_visible(tenant_id)))


def _kept(tenant_id: int) -> int:
    db.session.rollback()  # a fresh read: the count moves when other transactions commit
    return member_reads.visible_count(tenant_id)


def _post(scim: ScimClient, name: str) -> str:
    answer = scim.post("/Users", {"schemas": [USER], "userName": name})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _assert_in_step(scim: ScimClient, tenant_id: int, expected: int) -> None:
    assert _counted(tenant_id) == expected
    assert _kept(tenant_id) == expected
    assert scim.get("/Users?count=1").get_json()["totalResults"] == expected


def test_every_kind_of_write_moves_the_count_with_the_rule(scim, tenant, super_admin):
    tenant_id = tenant.id
    _assert_in_step(scim, tenant_id, 0)
    ids = [_post(scim, f"m{i}@example.com") for i in range(5)]
    _assert_in_step(scim, tenant_id, 5)

    accounts.create_local_user(tenant, "local@example.com", Role.ADMIN, password="pw-local-1", verified=True)
    _assert_in_step(scim, tenant_id, 5)  # a local account is never SCIM's (R3)

    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
    deactivate = {**body, "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert scim.patch(f"/Users/{ids[0]}", deactivate).status_code == 200
    _assert_in_step(scim, tenant_id, 5)  # inactive is rung 1: still SCIM's to see (R1)

    assert scim.delete(f"/Users/{ids[1]}").status_code == 204
    _assert_in_step(scim, tenant_id, 4)  # deprovisioned (R8)
    _post(scim, "m1@example.com")  # the IdP creates the name again
    _assert_in_step(scim, tenant_id, 5)

    member = db.session.scalar(select(User).where(User.scim_id == ids[2]))
    accounts.mark_verified(member)
    roles.set_role(member, Role.ADMIN)  # promoted past the rung: out of SCIM's sight (R3)
    _assert_in_step(scim, tenant_id, 4)
    roles.set_role(db.session.get(User, member.id), Role.MEMBER)
    _assert_in_step(scim, tenant_id, 5)

    put = {"schemas": [USER], "userName": "renamed@example.com", "active": True}
    assert scim.put(f"/Users/{ids[3]}", put).status_code == 200  # a change of other columns moves nothing
    _assert_in_step(scim, tenant_id, 5)

    db.session.delete(db.session.scalar(select(User).where(User.scim_id == ids[4])))
    db.session.commit()
    _assert_in_step(scim, tenant_id, 4)


def test_each_tenant_keeps_its_own_count(scim, tenant):
    other = tenants.create_tenant("other")
    for name in ("theirs1@example.com", "theirs2@example.com"):
        profile = provisioning.ScimProfile(user_name=name, external_id=None, active=None, emails=[], attributes={})
        provisioning.create_scim_user(other, profile)
    db.session.commit()
    _post(scim, "mine@example.com")
    assert (_kept(tenant.id), _kept(other.id)) == (1, 2)
    assert (_counted(tenant.id), _counted(other.id)) == (1, 2)


def test_the_unfiltered_list_answers_the_kept_count_without_counting(scim, tenant):
    for i in range(3):
        _post(scim, f"k{i}@example.com")
    # Off by design, to tell the kept count from a count of rows: the list must answer what is kept.
    db.session.execute(text("UPDATE scim_member_counts SET visible = 40 WHERE tenant_id = :t"), {"t": tenant.id})
    db.session.commit()
    page = scim.get("/Users?count=2").get_json()
    assert page["totalResults"] == 40 and len(page["Resources"]) == 2
    # A filter is counted as before: the kept count is the unfiltered total only.
    assert scim.get('/Users?filter=userName sw "k"&count=2').get_json()["totalResults"] == 3


def test_concurrent_writes_in_one_tenant_keep_the_count_exact(app, scim, scim_token, tenant):
    """Creates, deletions, deactivations and racing creates of one name at once: no deadlock, no drift."""
    existing = [_post(scim, f"old{i}@example.com") for i in range(6)]

    def client() -> ScimClient:
        return ScimClient(app.test_client(), scim_token)

    def create(name: str):
        return lambda: client().post("/Users", {"schemas": [USER], "userName": name}).status_code

    def delete(scim_id: str):
        return lambda: client().delete(f"/Users/{scim_id}").status_code

    def deactivate(scim_id: str):
        operation = {"op": "replace", "path": "active", "value": False}
        return lambda: client().patch(f"/Users/{scim_id}", {"Operations": [operation]}).status_code

    jobs = [create(f"new{i}@example.com") for i in range(8)]
    jobs += [create("same@example.com") for _ in range(4)]
    jobs += [delete(scim_id) for scim_id in existing[:3]] + [deactivate(scim_id) for scim_id in existing[3:]]
    statuses = run_together(jobs)
    assert statuses[:8] == [201] * 8
    assert sorted(statuses[8:12]) == [201, 409, 409, 409]
    assert statuses[12:] == [204] * 3 + [200] * 3
    assert _counted(tenant.id) == 6 + 8 + 1 - 3
    assert _kept(tenant.id) == 6 + 8 + 1 - 3


def _cli(app, *args: str):
    db.session.rollback()
    return app.test_cli_runner().invoke(args=["scim", "member-counts", *args])


def test_the_operator_finds_and_repairs_a_count_that_drifted(app, scim, tenant):
    for i in range(3):
        _post(scim, f"d{i}@example.com")
    other = tenants.create_tenant("other")  # counted in the same pass, and left as it is
    for name in ("o1@example.com", "o2@example.com"):
        profile = provisioning.ScimProfile(user_name=name, external_id=None, active=None, emails=[], attributes={})
        provisioning.create_scim_user(other, profile)
    db.session.commit()
    agreed = _cli(app)
    assert agreed.exit_code == 0 and "agrees" in agreed.output, agreed.output
    # A drift the triggers cannot cause: rows changed with them dropped, say. The check names it and fails.
    db.session.execute(text("UPDATE scim_member_counts SET visible = 7 WHERE tenant_id = :t"), {"t": tenant.id})
    db.session.commit()
    found = _cli(app)
    assert found.exit_code == 1
    assert "default\t7\t3" in found.output and "--repair" in found.output and "other" not in found.output
    assert _kept(tenant.id) == 7  # a check alone changes nothing
    repaired = _cli(app, "--repair")
    assert repaired.exit_code == 0 and "default\t7\t3" in repaired.output and "1 repaired" in repaired.output
    assert _kept(tenant.id) == 3
    assert _cli(app).exit_code == 0
    # A tenant with members and no count row at all is repaired too.
    db.session.execute(text("DELETE FROM scim_member_counts"))
    db.session.commit()
    repaired = _cli(app, "--repair").output
    assert "default\t0\t3" in repaired and "other\t0\t2" in repaired and "2 repaired" in repaired
    assert (_kept(tenant.id), _kept(other.id)) == (3, 2)
