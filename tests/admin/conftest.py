"""Fixtures for the dashboard tests."""

import pytest

# Where the dashboard is reached, as bin/serve and a production setup configure it: mailed links need it.
PUBLIC_URL = "http://localhost"


@pytest.fixture(autouse=True)
def public_url(app, monkeypatch) -> str:
    """Configure PUBLIC_URL for every dashboard test (tests of an unconfigured server set it back to None)."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC_URL)
    return PUBLIC_URL
