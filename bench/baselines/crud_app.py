"""The thinnest Flask-SQLAlchemy app that stores and returns the same user JSON: no auth, rules or log.

It is the floor the SCIM hot path is measured against (bench/compare.py): what a request costs when
all it does is one indexed query and a JSON body.
"""

from __future__ import annotations

import os
import re
import uuid

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, String, select
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()
_USER_NAME_EQ = re.compile(r'^userName eq "(.*)"$', re.IGNORECASE)


class Person(db.Model):
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    user_name: Mapped[str] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[dict] = mapped_column(JSON)


def _document(person: Person) -> dict:
    return {**person.body, "id": person.id, "userName": person.user_name, "active": person.active}


def create_app() -> Flask:
    """Create the baseline app on BASELINE_DATABASE_URL (a SQLite file by default)."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BASELINE_DATABASE_URL", "sqlite:////tmp/crud.db")
    db.init_app(app)

    @app.get("/scim/v2/Users/<person_id>")
    def show(person_id: str):
        person = db.session.get(Person, person_id)
        return (jsonify(_document(person)), 200) if person else ({"detail": "not found"}, 404)

    @app.get("/scim/v2/Users")
    def index():
        query = select(Person).order_by(Person.user_name)
        match = _USER_NAME_EQ.match(request.args.get("filter", ""))
        if match:
            query = query.where(Person.user_name == match.group(1))
        people = db.session.scalars(query.limit(int(request.args.get("count", 100)))).all()
        return jsonify({"totalResults": len(people), "Resources": [_document(p) for p in people]})

    @app.post("/scim/v2/Users")
    def create():
        body = request.get_json(force=True)
        person = Person(user_name=body["userName"], active=body.get("active", True), body=body)
        db.session.add(person)
        db.session.commit()
        return jsonify(_document(person)), 201

    @app.patch("/scim/v2/Users/<person_id>")
    def modify(person_id: str):
        person = db.session.get(Person, person_id)
        if person is None:
            return {"detail": "not found"}, 404
        for operation in request.get_json(force=True).get("Operations", []):
            if "active" in (operation.get("value") or {}):
                person.active = operation["value"]["active"]
        db.session.commit()
        return jsonify(_document(person))

    return app
