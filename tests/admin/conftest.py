"""Fixtures for the dashboard tests."""

import pytest

from tests.admin import sign_in


@pytest.fixture
def admin_client(client, super_admin):
    """A test client signed in as the tenant's super-admin."""
    sign_in(client, super_admin)
    return client
