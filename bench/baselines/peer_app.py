"""The `scim2-server` package from PyPI as a WSGI app (in memory, no auth, no log), for bench/compare.py.

Each gunicorn worker has its own memory, so gunicorn must run with --preload: the users the benchmark
seeds before the fork (PEER_SEED users) are then there in every worker.
"""

from __future__ import annotations

import json
import os

from scim2_models import ScimProvider, User
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config


def create_app():
    """Build the in-memory server and seed it from the JSON file named by PEER_SEED, if any."""
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=load_default_service_provider_config(),
    )
    storage = InMemoryStorage()
    app = BearerTokenApplication(storage, provider, ScimService(provider, secret="bench"))
    seed = os.environ.get("PEER_SEED")
    if seed:
        user_type = load_default_resource_types()["User"]
        with open(seed) as handle:
            for document in json.load(handle):
                storage.create(user_type, User.model_validate(document))  # same ids in every forked worker
    return _under_scim_prefix(app)


def _under_scim_prefix(app):
    """Serve the peer at /scim/v2 like ours: it answers /v2/... itself, so only /scim moves to SCRIPT_NAME."""

    def mounted(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/scim/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/scim"
            environ["PATH_INFO"] = path[len("/scim") :]
        return app(environ, start_response)

    return mounted
