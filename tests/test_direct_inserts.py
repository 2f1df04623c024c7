"""A member created with plain INSERTs (services/direct_inserts.py) is the member the unit of work would have made.

Each test builds the same member twice, once through `insert_as_loaded` and once added to the session and
flushed, and compares what each wrote and what each left in the session.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models import Role, User, UserEmail, db
from services import direct_inserts, provisioning
from services.direct_inserts import insert_as_loaded
from services.transactions import write_transaction
from tests.conftest import statements
from tests.helpers import fresh

# What differs between two members made alike: their own keys and the moment they were made.
OWN = {"id", "scim_id", "created_at", "updated_at"}


def _member(tenant, name: str) -> User:
    user = User(tenant_id=tenant.id, scim_managed=True, role=Role.MEMBER)
    user.user_name = name
    user.display_name = "Ada Lovelace"
    user.profile = {"displayName": "Ada Lovelace", "enterprise": {"employeeNumber": "E-7"}}
    user.emails = [
        UserEmail(position=0, value=f"{name}@Example.COM", type="Work", primary=True),
        UserEmail(position=1, value=f"{name}@home.example", type="home"),
    ]
    user.email = f"{name}@Example.COM"
    return user


def _stored(model, row_id: int) -> dict:
    """The row as the database holds it, read on a connection of its own."""
    with db.engine.connect() as connection:
        row = connection.execute(select(model.__table__).where(model.__table__.c.id == row_id)).mappings().one()
    return dict(row)


def _columns(instance) -> dict:
    return {column.key: getattr(instance, column.key) for column in instance.__table__.columns}


def test_the_rows_written_are_those_the_unit_of_work_writes(tenant):
    with write_transaction():
        direct = _member(tenant, "direct")
        insert_as_loaded(direct)
    with write_transaction():
        flushed = _member(tenant, "flushed")
        db.session.add(flushed)

    ours, theirs = _stored(User, direct.id), _stored(User, flushed.id)
    differing = {key for key in ours if ours[key] != theirs[key]}
    assert differing == OWN | {"user_name", "user_name_ci", "email", "email_ci"}
    assert ours["version"] == 1 and ours["user_name_clash"] == 0 and ours["session_epoch"] == 0
    assert ours["employee_number_ci"] == "e-7" and ours["email_ci"] == "direct@example.com"
    emails = [_stored(UserEmail, e.id) for e in direct.emails]
    assert [(e["user_id"], e["position"], e["value_ci"], e["type_ci"]) for e in emails] == [
        (direct.id, 0, "direct@example.com", "work"),
        (direct.id, 1, "direct@home.example", "home"),
    ]


def test_the_instances_are_left_as_a_read_would_leave_them(tenant):
    with write_transaction():
        user = _member(tenant, "loaded")
        insert_as_loaded(user)
        for instance in (user, *user.emails):
            state = inspect(instance)
            assert state.persistent and not state.modified and not state.expired_attributes
        assert db.session.get(User, user.id) is user  # in the identity map: no second copy of the member
        assert not db.session.new and not db.session.dirty
        values = _columns(user)
    assert values == _stored(User, user.id)


def test_a_member_created_so_is_changed_later_through_the_unit_of_work_with_its_version_check(tenant):
    user = provisioning.create_scim_user(
        tenant, provisioning.ScimProfile(user_name="later@example.com", emails=[{"value": "later@example.com"}])
    )
    with write_transaction():
        user.display_name = "Later"
        user.emails[0].type = "work"
    row = fresh(user.id)
    assert (row.display_name, row.display_name_ci, row.version) == ("Later", "later", 2)
    assert row.emails[0].type_ci == "work"


def test_a_create_runs_one_insert_per_row_and_flushes_nothing_at_commit(tenant):
    profile = provisioning.ScimProfile(
        user_name="two@example.com", emails=[{"value": "two@example.com"}, {"value": "two@home.example"}]
    )
    with statements() as seen:
        provisioning.create_scim_user(tenant, profile)
    inserts = [s for s in seen if s.startswith("INSERT")]
    assert [s.split()[2] for s in inserts] == ["users", "user_emails", "user_emails"]


def test_a_unique_index_refuses_inside_the_transaction_and_nothing_is_kept(tenant):
    with write_transaction():
        insert_as_loaded(_member(tenant, "taken"))
    with pytest.raises(IntegrityError), write_transaction():
        insert_as_loaded(_member(tenant, "taken"))  # no pre-check here: the index answers, as it does to a race
    assert db.session.scalars(select(User.user_name).where(User.user_name == "taken")).all() == ["taken"]
    assert len(db.session.scalars(select(UserEmail.id)).all()) == 2


def test_a_column_only_the_server_can_fill_is_refused_not_guessed():
    class Local(DeclarativeBase):
        pass

    class Counter(Local):
        __tablename__ = "counters"
        id: Mapped[int] = mapped_column(primary_key=True)
        count: Mapped[int] = mapped_column(Integer, server_default="0")

    with pytest.raises(TypeError, match="only the server knows"):
        direct_inserts._columns(Counter.__mapper__)
