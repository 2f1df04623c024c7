"""Cohorts page: owner, member count (one grouped query), SCIM origin (docs/design.md R6), and a cohort's members."""

from __future__ import annotations

import re

import pytest

from models import Cohort, CohortMember, Role, db, utcnow
from services import accounts, directory, provisioning, tenants
from services.provisioning import ScimProfile
from tests.conftest import statements


def make_cohort(tenant, name, owner=None, users=(), *, scim=False, deleted=False) -> Cohort:
    cohort = Cohort(
        tenant_id=tenant.id,
        name=name,
        name_ci=name.lower(),
        owner_id=owner.id if owner else None,
        scim_managed=scim,
        external_id=f"ext-{name}" if scim else None,
        scim_deleted_at=utcnow() if deleted else None,
    )
    db.session.add(cohort)
    db.session.flush()
    db.session.add_all(CohortMember(cohort_id=cohort.id, user_id=user.id) for user in users)
    db.session.commit()
    return cohort


def people(tenant, count, prefix="m") -> list:
    return [accounts.create_local_user(tenant, f"{prefix}{i}@example.com", Role.MEMBER) for i in range(count)]


def row_for(html: str, name: str) -> str:
    match = re.search(rf"<tr>\s*<td><a [^>]*><strong>{re.escape(name)}</strong></a>.*?</tr>", html, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_anonymous_visitors_are_sent_to_sign_in(client, tenant):
    assert client.get("/admin/cohorts").status_code == 302
    assert client.get("/admin/cohorts/1").status_code == 302


def test_empty_state(admin_client):
    response = admin_client.get("/admin/cohorts")
    assert response.status_code == 200
    assert "No cohorts yet" in response.get_data(as_text=True)


def test_list_shows_owner_count_and_origin(admin_client, tenant, super_admin):
    crew = people(tenant, 3)
    make_cohort(tenant, "Engineering", super_admin, crew, scim=True)
    make_cohort(tenant, "Alumni", super_admin, crew[:1], scim=True, deleted=True)
    make_cohort(tenant, "Book club", None, [])

    response = admin_client.get("/admin/cohorts")
    html = response.get_data(as_text=True)

    assert response.status_code == 200 and response.mimetype == "text/html"
    engineering = row_for(html, "Engineering")
    assert "owner@example.com" in engineering and "badge-scim" in engineering
    assert '<td class="num">3</td>' in engineering
    alumni = row_for(html, "Alumni")
    assert "Removed from SCIM" in alumni and '<td class="num">1</td>' in alumni
    book_club = row_for(html, "Book club")
    assert "Local" in book_club and '<td class="num">0</td>' in book_club and "—" in book_club
    # Sorted by name, case-insensitively.
    assert html.index("Alumni") < html.index("Book club") < html.index("Engineering")


def test_other_tenants_cohorts_are_hidden(admin_client, tenant):
    make_cohort(tenants.create_tenant("other"), "Secret")
    assert "Secret" not in admin_client.get("/admin/cohorts").get_data(as_text=True)


def test_member_counts_are_one_query_not_one_per_row(admin_client, tenant, super_admin):
    crew = people(tenant, 2)

    def count() -> int:
        with statements() as seen:
            assert admin_client.get("/admin/cohorts").status_code == 200
        return len(seen)

    make_cohort(tenant, "c0", super_admin, crew)
    few = count()
    for i in range(1, 15):
        make_cohort(tenant, f"c{i}", super_admin, crew)
    assert count() == few


def test_list_pages(admin_client, tenant):
    for i in range(directory.PER_PAGE + 3):
        make_cohort(tenant, f"cohort {i:03}")
    first = admin_client.get("/admin/cohorts").get_data(as_text=True)
    second = admin_client.get("/admin/cohorts?page=2").get_data(as_text=True)
    assert "cohort 000" in first and "cohort 052" not in first
    assert "cohort 052" in second and "Page 2 of 2" in second
    assert 'href="/admin/cohorts?page=2"' in first


def test_show_lists_members_with_role_and_scim_badge(admin_client, tenant, super_admin):
    idp = provisioning.create_scim_user(
        tenant, ScimProfile(user_name="ida@corp.example", emails=[{"value": "ida@corp.example"}])
    )
    mod = accounts.create_local_user(tenant, "mod@example.com", Role.MODERATOR, verified=True)
    outsider = accounts.create_local_user(tenant, "out@example.com", Role.MEMBER)
    cohort = make_cohort(tenant, "Engineering", super_admin, [idp, mod], scim=True)

    response = admin_client.get(f"/admin/cohorts/{cohort.id}")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<h1>Engineering" in html and "2 members" in html and "owner@example.com" in html
    assert "ida@corp.example" in html and "badge-scim" in html
    assert "mod@example.com" in html and "moderator" in html
    assert outsider.email not in html


def test_show_removed_from_scim(admin_client, tenant):
    cohort = make_cohort(tenant, "Old group", scim=True, deleted=True)
    html = admin_client.get(f"/admin/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Removed from SCIM" in html and "No members in this cohort." in html


def test_show_pages_members(admin_client, tenant):
    crew = people(tenant, directory.PER_PAGE + 2)
    cohort = make_cohort(tenant, "Big", None, crew)
    first = admin_client.get(f"/admin/cohorts/{cohort.id}").get_data(as_text=True)
    last = admin_client.get(f"/admin/cohorts/{cohort.id}?page=2").get_data(as_text=True)
    assert f"{directory.PER_PAGE + 2} members" in first and "Page 1 of 2" in first
    # Newest account first: the first two people created land on page 2.
    assert "m0@example.com" in last and "m1@example.com" in last and "m0@example.com" not in first


@pytest.mark.parametrize("cohort_id", ["99999999999999999999999", "2147483648"])
def test_a_cohort_id_beyond_the_database_integer_is_404(admin_client, tenant, cohort_id):
    assert admin_client.get(f"/admin/cohorts/{cohort_id}").status_code == 404


def test_show_unknown_or_foreign_cohort_is_404(admin_client, tenant):
    foreign = make_cohort(tenants.create_tenant("other"), "Theirs")
    assert admin_client.get(f"/admin/cohorts/{foreign.id}").status_code == 404
    assert admin_client.get("/admin/cohorts/999999").status_code == 404
