"""Operator CLI: `flask --app app tenants|users|scim ...` (output a script can read).

One module per command group; `register` attaches them all (create_app calls it).
"""

from __future__ import annotations

from flask import Flask

from cli.api_keys import api_keys_cli
from cli.scim_credentials import scim_cli
from cli.tenants import bootstrap, tenants_cli
from cli.users import users_cli


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    for group in (tenants_cli, users_cli, scim_cli, api_keys_cli):
        app.cli.add_command(group)
    app.cli.add_command(bootstrap)
