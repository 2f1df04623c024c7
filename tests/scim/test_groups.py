"""/Groups: SCIM Groups as cohorts (docs/design.md R6, R7, R8; RFC 7644 §3.3-§3.6).

Membership PATCH in the IdPs' shapes is in test_groups_membership.py, concurrency in test_groups_concurrency.py.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from models import Cohort, CohortMember, Role, ScimRequest, User, db, utcnow
from services import accounts, roles, tenants
from tests.conftest import scim_error, statements
from tests.helpers import GROUP, PATCH_OP, USER

# --- helpers shared by the other test_groups_* modules -----------------------------------------------------------


def new_group(name: str = "Engineering", **extra) -> dict:
    body = {"schemas": [GROUP], "displayName": name}
    body.update(extra)
    return body


def create_group(scim, name: str = "Engineering", **extra) -> dict:
    response = scim.post("/Groups", new_group(name, **extra))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def create_user(scim, user_name: str, **extra) -> dict:
    body = {"schemas": [USER], "userName": user_name, "active": True, **extra}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def scim_users(tenant_id: int, count: int, prefix: str = "bulk") -> list[str]:
    """Insert `count` SCIM-visible users directly (fast) and return their SCIM ids."""
    names = [f"{prefix}{i}@example.com" for i in range(count)]
    rows = [User(tenant_id=tenant_id, scim_managed=True, role=Role.MEMBER, user_name=n, user_name_ci=n) for n in names]
    db.session.add_all(rows)
    db.session.commit()
    return [u.scim_id for u in rows]


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def member_ids(group: dict) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def stored_members(group_id: str) -> set[str]:
    """Every member of the cohort in the database, SCIM-visible or not, by user SCIM id."""
    db.session.expire_all()
    return set(
        db.session.scalars(
            select(User.scim_id)
            .join(CohortMember, CohortMember.user_id == User.id)
            .join(Cohort, Cohort.id == CohortMember.cohort_id)
            .where(Cohort.scim_id == group_id)
        )
    )


def stored_cohort(group_id: str) -> Cohort:
    db.session.expire_all()
    return db.session.scalar(select(Cohort).where(Cohort.scim_id == group_id))


def add_membership(group_id: str, user: User) -> None:
    """Put a user into a cohort the way the dashboard would, behind SCIM's back."""
    cohort = stored_cohort(group_id)
    db.session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    db.session.commit()


# --- create (R6) ----------------------------------------------------------------------------------------------------


def test_create_returns_the_group_with_location(scim, super_admin):
    response = scim.post("/Groups", new_group(externalId="8aa1a0c0-c6d8-4e0b", members=[]))
    assert response.status_code == 201
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert body["schemas"] == [GROUP]
    assert body["displayName"] == "Engineering"
    assert body["externalId"] == "8aa1a0c0-c6d8-4e0b"
    assert body["members"] == []
    assert body["meta"]["resourceType"] == "Group"
    assert body["meta"]["location"].endswith(f"/scim/v2/Groups/{body['id']}")
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["created"] and body["meta"]["lastModified"]


def test_r6_a_group_is_a_cohort_owned_by_the_lowest_id_super_admin(scim, tenant):
    admin = accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, verified=True)
    gone = accounts.create_local_user(tenant, "gone@example.com", Role.SUPER_ADMIN, verified=True)
    gone.deprovisioned_at = utcnow()
    db.session.commit()
    first = accounts.create_local_user(tenant, "first@example.com", Role.SUPER_ADMIN, verified=True)
    accounts.create_local_user(tenant, "second@example.com", Role.SUPER_ADMIN, verified=True)
    group = create_group(scim, "Sales", externalId="00g1")
    cohort = stored_cohort(group["id"])
    assert cohort.owner_id == first.id != admin.id
    assert (cohort.tenant_id, cohort.name, cohort.external_id, cohort.scim_managed) == (
        tenant.id,
        "Sales",
        "00g1",
        True,
    )
    assert cohort.scim_deleted_at is None


def test_r6_a_group_without_external_id_is_tied_to_its_scim_id(scim, super_admin):
    group = create_group(scim, "Okta pushed")
    assert "externalId" not in group
    cohort = stored_cohort(group["id"])
    assert cohort.scim_id == group["id"] and cohort.external_id is None


def test_r6_no_super_admin_is_503_and_creates_nothing(scim, tenant):
    accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, verified=True)
    user = create_user(scim, "member@example.com")
    body = scim_error(scim.post("/Groups", new_group(members=[{"value": user["id"]}])), 503)
    assert body["detail"] == "no super-admin to own SCIM-provisioned cohorts"
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 0
    assert db.session.scalar(select(func.count()).select_from(CohortMember)) == 0


def test_display_name_is_unique_per_tenant_case_insensitively(scim, super_admin):
    create_group(scim, "Engineering")
    scim_error(scim.post("/Groups", new_group("engineering")), 409, "uniqueness")
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 1


def test_display_name_may_repeat_in_another_tenant_and_in_dashboard_cohorts(scim, super_admin, tenant):
    other = tenants.create_tenant("acme")
    db.session.add_all(
        [
            Cohort(tenant_id=tenant.id, name="Engineering", name_ci="engineering", scim_managed=False),
            Cohort(tenant_id=other.id, name="Engineering", name_ci="engineering", scim_managed=True),
        ]
    )
    db.session.commit()
    group = create_group(scim, "Engineering")
    assert scim.get("/Groups").get_json()["Resources"] == [group]


def test_external_id_is_unique_among_live_groups(scim, super_admin):
    create_group(scim, "One", externalId="x-1")
    scim_error(scim.post("/Groups", new_group("Two", externalId="x-1")), 409, "uniqueness")


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": [GROUP]},
        {"schemas": [GROUP], "displayName": ""},
        {"schemas": [GROUP], "displayName": 42},
        {"schemas": [GROUP], "displayName": "x", "members": [{"display": "no value"}]},
        {"schemas": [GROUP], "displayName": "x", "members": ["bare-string"]},
    ],
)
def test_invalid_bodies_are_400(scim, super_admin, body):
    scim_error(scim.post("/Groups", body), 400, "invalidValue")
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 0


def test_entra_create_a11_tolerates_extra_schema_and_meta(scim, super_admin):
    body = {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    response = scim.post("/Groups", body)
    assert response.status_code == 201
    assert response.get_json()["members"] == []


def test_create_with_members(scim, super_admin):
    ada, bob = create_user(scim, "ada@example.com"), create_user(scim, "bob@example.com")
    group = create_group(scim, members=[{"value": ada["id"], "display": "Ada"}, {"value": bob["id"]}])
    assert sorted(member_ids(group)) == sorted([ada["id"], bob["id"]])
    assert stored_members(group["id"]) == {ada["id"], bob["id"]}


# --- read -----------------------------------------------------------------------------------------------------------


def test_show_group_renders_members(scim, super_admin):
    ada = create_user(scim, "ada@example.com", displayName="Ada Lovelace")
    bob = create_user(scim, "bob@example.com")
    group = create_group(scim, members=[{"value": ada["id"]}, {"value": bob["id"]}])
    body = scim.get(f"/Groups/{group['id']}").get_json()
    assert body["members"] == [
        {"value": ada["id"], "$ref": ada["meta"]["location"], "type": "User"},
        {"value": bob["id"], "$ref": bob["meta"]["location"], "type": "User"},
    ]
    # `display` (derived from the user) comes when asked for by name.
    asked = scim.get(f"/Groups/{group['id']}?attributes=members.display,displayName").get_json()
    assert asked["members"] == [{"display": "Ada Lovelace"}, {"display": "bob@example.com"}]


def test_unknown_dashboard_deleted_and_other_tenant_groups_are_404(scim, super_admin, tenant):
    other = tenants.create_tenant("acme")
    hidden = [
        Cohort(tenant_id=tenant.id, name="Local", name_ci="local", scim_managed=False),
        Cohort(tenant_id=tenant.id, name="Gone", name_ci="gone", scim_managed=True, scim_deleted_at=utcnow()),
        Cohort(tenant_id=other.id, name="Theirs", name_ci="theirs", scim_managed=True),
    ]
    db.session.add_all(hidden)
    db.session.commit()
    bodies = []
    for path in ["/Groups/010101001010101011001010101011"] + [f"/Groups/{c.scim_id}" for c in hidden]:
        remove_all = patch({"op": "remove", "path": "members"})
        for response in (
            scim.get(path),
            scim.put(path, new_group("x")),
            scim.patch(path, remove_all),
            scim.delete(path),
        ):
            bodies.append(scim_error(response, 404))
    assert all(body == bodies[0] for body in bodies)
    assert scim.get("/Groups").get_json()["totalResults"] == 0


def test_excluded_members_are_not_loaded_at_all(scim, super_admin):
    user = create_user(scim, "ada@example.com")
    group = create_group(scim, members=[{"value": user["id"]}])
    paths = [
        f"/Groups/{group['id']}?excludedAttributes=members",
        "/Groups?excludedAttributes=members&filter=" + quote('displayName eq "Engineering"'),
    ]
    for path in paths:
        with statements() as seen:
            response = scim.get(path)
        assert response.status_code == 200
        body = response.get_json()
        resource = body["Resources"][0] if "Resources" in body else body
        assert "members" not in resource and resource["displayName"] == "Engineering"
        assert not [s for s in seen if "cohort_members" in s]


def test_attributes_keep_only_what_is_asked(scim, super_admin):
    group = create_group(scim, externalId="e-1")
    body = scim.get(f"/Groups/{group['id']}?attributes=displayName").get_json()
    assert body == {"schemas": [GROUP], "id": group["id"], "displayName": "Engineering"}


# --- list, filter, paging -------------------------------------------------------------------------------------------


def test_filters_display_name_and_external_id(scim, super_admin):
    create_group(scim, "EDU All personal", externalId="e-1")
    create_group(scim, "Sales", externalId="e-2")
    found = scim.get("/Groups?filter=displayName+eq+%22edu+all+personal%22").get_json()
    assert [r["displayName"] for r in found["Resources"]] == ["EDU All personal"]
    found = scim.get("/Groups?filter=" + quote('externalId eq "e-2"')).get_json()
    assert [r["displayName"] for r in found["Resources"]] == ["Sales"]
    none = scim.get("/Groups?filter=" + quote('displayName eq "Nope"')).get_json()
    assert (none["totalResults"], none["Resources"]) == (0, [])


def test_full_filter_grammar(scim, super_admin):
    ada = create_user(scim, "ada@example.com")
    for name, external_id in (("Eng Berlin", "b"), ("Eng Paris", "p"), ("Sales", "s")):
        create_group(scim, name, externalId=external_id)
    paris = scim.get("/Groups?filter=" + quote('displayName eq "Eng Paris"')).get_json()["Resources"][0]
    scim.patch(f"/Groups/{paris['id']}", patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]}))

    def names(text: str) -> list[str]:
        response = scim.get("/Groups?filter=" + quote(text))
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["displayName"] for r in response.get_json()["Resources"]]

    assert names('displayName sw "eng" and not (externalId eq "b")') == ["Eng Paris"]
    assert names('externalId eq "b" or externalId eq "s"') == ["Eng Berlin", "Sales"]
    assert names('displayName co "ale"') == ["Sales"]
    assert names("externalId pr") == ["Eng Berlin", "Eng Paris", "Sales"]
    assert names(f'members[value eq "{ada["id"]}"]') == ["Eng Paris"]
    assert names('meta.created gt "2000-01-01T00:00:00Z"') == ["Eng Berlin", "Eng Paris", "Sales"]
    scim_error(scim.get("/Groups?filter=" + quote('nickName eq "x"')), 400, "invalidFilter")
    scim_error(scim.get("/Groups?filter=" + quote('displayName eq "unterminated')), 400, "invalidFilter")


def test_paging_is_one_based_and_stable(scim, super_admin):
    for i in range(5):
        create_group(scim, f"Group {i}")
    page = scim.get("/Groups?startIndex=2&count=2").get_json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [r["displayName"] for r in page["Resources"]] == ["Group 1", "Group 2"]
    assert scim.get("/Groups?count=0").get_json()["Resources"] == []
    assert len(scim.get("/Groups?startIndex=1&count=100").get_json()["Resources"]) == 5


def test_list_loads_members_of_a_page_in_one_query(scim, super_admin, tenant):
    ids = scim_users(tenant.id, 6)
    for i in range(3):
        create_group(scim, f"G{i}", members=[{"value": v} for v in ids[i * 2 : i * 2 + 2]])
    with statements() as seen:
        body = scim.get("/Groups").get_json()
    assert [len(r["members"]) for r in body["Resources"]] == [2, 2, 2]
    assert len([s for s in seen if "cohort_members" in s]) == 1


def test_post_search(scim, super_admin):
    create_group(scim, "Engineering")
    create_group(scim, "Sales")
    response = scim.post(
        "/Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'displayName eq "sales"',
            "excludedAttributes": ["members"],
            "startIndex": 1,
            "count": 10,
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [r["displayName"] for r in body["Resources"]] == ["Sales"]
    assert "members" not in body["Resources"][0]


# --- replace (PUT) --------------------------------------------------------------------------------------------------


def test_put_replaces_name_external_id_and_membership(scim, super_admin):
    ada, bob, cy = (create_user(scim, f"{n}@example.com") for n in ("ada", "bob", "cy"))
    group = create_group(scim, members=[{"value": ada["id"]}, {"value": bob["id"]}])
    body = {**group, "displayName": "Engineering EU", "externalId": "e-9", "members": [{"value": cy["id"]}]}
    response = scim.put(f"/Groups/{group['id']}", body)
    assert response.status_code == 200
    result = response.get_json()
    assert (result["displayName"], result["externalId"], member_ids(result)) == ("Engineering EU", "e-9", [cy["id"]])
    assert stored_members(group["id"]) == {cy["id"]}


def test_put_without_members_leaves_them_and_empty_list_clears_them(scim, super_admin):
    ada = create_user(scim, "ada@example.com")
    group = create_group(scim, members=[{"value": ada["id"]}])
    scim.put(f"/Groups/{group['id']}", new_group("Renamed"))
    assert stored_members(group["id"]) == {ada["id"]}
    scim.put(f"/Groups/{group['id']}", new_group("Renamed", members=[]))
    assert stored_members(group["id"]) == set()


def test_put_onto_a_taken_name_is_409(scim, super_admin):
    create_group(scim, "Sales")
    group = create_group(scim, "Engineering")
    scim_error(scim.put(f"/Groups/{group['id']}", new_group("SALES")), 409, "uniqueness")
    assert scim.put(f"/Groups/{group['id']}", new_group("ENGINEERING")).status_code == 200


# --- delete ---------------------------------------------------------------------------------------------------------


def test_delete_hides_the_group_but_the_cohort_and_members_stay(scim, super_admin):
    ada = create_user(scim, "ada@example.com")
    group = create_group(scim, "Engineering", members=[{"value": ada["id"]}])
    response = scim.delete(f"/Groups/{group['id']}")
    assert response.status_code == 204 and response.get_data() == b""
    scim_error(scim.get(f"/Groups/{group['id']}"), 404)
    scim_error(scim.delete(f"/Groups/{group['id']}"), 404)
    assert scim.get("/Groups").get_json()["totalResults"] == 0
    assert "groups" not in scim.get(f"/Users/{ada['id']}").get_json()
    cohort = stored_cohort(group["id"])
    assert cohort is not None and cohort.scim_deleted_at is not None and cohort.name == "Engineering"
    assert stored_members(group["id"]) == {ada["id"]}
    # The name is free again: a new group, a new cohort.
    again = create_group(scim, "Engineering")
    assert again["id"] != group["id"] and again["members"] == []


# --- users' groups, R2 and R8 ---------------------------------------------------------------------------------------


def _also_in_a_dashboard_cohort(tenant, scim_id: str) -> None:
    """Put the member in a cohort made on the dashboard, which SCIM never shows."""
    dashboard = Cohort(tenant_id=tenant.id, name="Local", name_ci="local", scim_managed=False)
    db.session.add(dashboard)
    db.session.commit()
    user = db.session.scalar(select(User).where(User.scim_id == scim_id))
    db.session.add(CohortMember(cohort_id=dashboard.id, user_id=user.id))
    db.session.commit()


def test_users_groups_attribute_lists_their_scim_groups_only(scim, super_admin, tenant):
    ada = create_user(scim, "ada@example.com")
    eng = create_group(scim, "Engineering", members=[{"value": ada["id"]}])
    create_group(scim, "Sales")
    _also_in_a_dashboard_cohort(tenant, ada["id"])
    groups = scim.get(f"/Users/{ada['id']}").get_json()["groups"]
    assert groups == [{"value": eng["id"], "$ref": eng["meta"]["location"], "display": "Engineering", "type": "direct"}]


def test_r2_deactivating_a_user_keeps_their_memberships(scim, super_admin):
    ada = create_user(scim, "ada@example.com")
    group = create_group(scim, members=[{"value": ada["id"]}])
    response = scim.patch(f"/Users/{ada['id']}", patch({"op": "replace", "value": {"active": False}}))
    assert response.get_json()["active"] is False
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == [ada["id"]]
    assert [g["value"] for g in scim.get(f"/Users/{ada['id']}").get_json()["groups"]] == [group["id"]]


def test_a_write_answers_the_groups_a_read_shows_found_in_its_locked_read(scim, super_admin, tenant):
    ada = create_user(scim, "ada@example.com")
    eng = create_group(scim, "Engineering", members=[{"value": ada["id"]}])
    sales = create_group(scim, "Sales", members=[{"value": ada["id"]}])
    create_group(scim, "Support")
    _also_in_a_dashboard_cohort(tenant, ada["id"])
    shown = scim.get(f"/Users/{ada['id']}").get_json()["groups"]
    assert [g["value"] for g in shown] == [eng["id"], sales["id"]]

    with statements() as seen:
        patched = scim.patch(f"/Users/{ada['id']}", patch({"op": "replace", "value": {"displayName": "Ada L."}}))
    assert patched.status_code == 200
    assert patched.get_json()["groups"] == shown
    # The groups come with the locked read of the member and its emails, not from a statement of their own.
    reading_groups = [s for s in seen if "cohort_members" in s]
    assert len(reading_groups) == 1 and "user_emails" in reading_groups[0], reading_groups

    replaced = scim.put(f"/Users/{ada['id']}", {**ada, "displayName": "Ada Lovelace"})
    assert replaced.status_code == 200
    assert replaced.get_json()["groups"] == shown
    assert (
        scim.patch(f"/Users/{ada['id']}", patch({"op": "replace", "value": {"active": False}})).get_json()["groups"]
        == shown
    )


def test_r8_deprovisioning_removes_the_user_from_scim_cohorts_only(scim, super_admin, tenant):
    ada = create_user(scim, "ada@example.com")
    group = create_group(scim, members=[{"value": ada["id"]}])
    dashboard = Cohort(tenant_id=tenant.id, name="Local", name_ci="local", scim_managed=False)
    db.session.add(dashboard)
    db.session.commit()
    user = db.session.scalar(select(User).where(User.scim_id == ada["id"]))
    db.session.add(CohortMember(cohort_id=dashboard.id, user_id=user.id))
    db.session.commit()
    assert scim.delete(f"/Users/{ada['id']}").status_code == 204
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == []
    assert stored_members(group["id"]) == set()
    db.session.expire_all()
    assert db.session.get(CohortMember, (dashboard.id, user.id)) is not None


# --- the request log (R11) ------------------------------------------------------------------------------------------


def test_operations_are_recorded(scim, super_admin):
    ada = create_user(scim, "ada@example.com")
    group = create_group(scim)
    gid = group["id"]
    scim.get("/Groups")
    scim.get(f"/Groups/{gid}")
    scim.patch(f"/Groups/{gid}", patch({"op": "replace", "path": "displayName", "value": "Renamed"}))
    scim.patch(f"/Groups/{gid}", patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]}))
    scim.put(f"/Groups/{gid}", new_group("Renamed", members=[]))
    scim.put(f"/Groups/{gid}", new_group("Renamed again", members=[]))
    scim.delete(f"/Groups/{gid}")
    db.session.expire_all()
    operations = list(
        db.session.scalars(
            select(ScimRequest.operation).where(ScimRequest.path.like("%/Groups%")).order_by(ScimRequest.id)
        )
    )
    assert operations == [
        "group.created",
        "groups.searched",
        "group.read",
        "group.updated",
        "group.members_changed",
        "group.members_changed",
        "group.updated",
        "group.deleted",
    ]


def test_r7_member_filter_never_reveals_members_scim_cannot_see(scim, super_admin):
    visible = create_user(scim, "seen@example.com")
    promoted = create_user(scim, "promoted@example.com")
    group = create_group(scim, "Mixed", members=[{"value": visible["id"]}, {"value": promoted["id"]}])
    user = db.session.scalar(select(User).where(User.scim_id == promoted["id"]))
    accounts.mark_verified(user)
    roles.set_role(user, Role.MODERATOR)

    def groups_with(member_id: str) -> int:
        query = quote(f'members[value eq "{member_id}"]')
        return scim.get(f"/Groups?filter={query}").get_json()["totalResults"]

    assert groups_with(visible["id"]) == 1
    assert groups_with(promoted["id"]) == 0
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == [visible["id"]]


# --- R3 failure kinds, and hostile values -----------------------------------------------------------------------


def test_the_log_tells_dashboard_cohorts_from_absent_groups_but_the_body_does_not(scim, super_admin, tenant):
    other = tenants.create_tenant("acme")
    local = Cohort(tenant_id=tenant.id, name="Local", name_ci="local", scim_managed=False)
    theirs = Cohort(tenant_id=other.id, name="Theirs", name_ci="theirs", scim_managed=True)
    db.session.add_all([local, theirs])
    db.session.commit()
    deleted = create_group(scim, "Deleted")
    scim.delete(f"/Groups/{deleted['id']}")
    kinds = {
        "010101001010101011001010101011": "not_found",
        deleted["id"]: "not_found",  # deleted over SCIM: the IdP may push it again
        theirs.scim_id: "not_found",  # another tenant's group does not exist here (R12)
        local.scim_id: "not_visible",  # a dashboard cohort: manage it in the dashboard
    }
    bodies = set()
    for scim_id, kind in kinds.items():
        for response in (scim.get(f"/Groups/{scim_id}"), scim.put(f"/Groups/{scim_id}", new_group("x"))):
            scim_error(response, 404)
            bodies.add(response.get_data())
            db.session.expire_all()
            assert db.session.scalar(select(ScimRequest.failure).order_by(ScimRequest.id.desc())) == kind, scim_id
    assert len(bodies) == 1


@pytest.mark.parametrize(
    "body", [new_group("Team\nA"), new_group("Team\x1b"), new_group("Team", externalId="ext\r"), new_group("\t")]
)
def test_control_characters_in_group_names_and_external_ids_are_400(scim, super_admin, body):
    error = scim_error(scim.post("/Groups", body), 400, "invalidValue")
    assert "control" in error["detail"]


def test_control_characters_are_refused_on_rename_too(scim, super_admin):
    group = create_group(scim, "Team")
    renamed = scim.patch(f"/Groups/{group['id']}", patch({"op": "replace", "path": "displayName", "value": "A\nB"}))
    scim_error(renamed, 400, "invalidValue")
    scim_error(scim.put(f"/Groups/{group['id']}", new_group("A\x7fB")), 400, "invalidValue")
    assert stored_cohort(group["id"]).name == "Team"
