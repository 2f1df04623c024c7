"""Browser fixtures: the app served over real HTTP from a thread, driven by Debian's Chromium.

The live server is its own app object on the suite's test database (CSRF and everything else as in
production, except the sign-in throttle), so a test can seed rows through the usual fixtures and the
browser sees them. Playwright's own browser downloads are never used: `playwright install` cannot
work on the machines this runs on.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's chromium (skip the browser tests with a reason when it is not installed)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium); not found")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        # Root in CI needs --no-sandbox; the rest keeps Chromium off the network except loopback.
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def live_server_url(app, make_app) -> Iterator[str]:
    """Serve a production-like app (CSRF on) on 127.0.0.1 at a free port, in a daemon thread."""
    live_app = make_app(WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, live_app, threaded=True)  # port 0: the OS picks a free one
    url = f"http://127.0.0.1:{server.server_port}"
    live_app.config["PUBLIC_URL"] = url  # known only now; as bin/serve sets it for its port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server_url: str) -> str:
    """Point pytest-playwright's page.goto('/...') at the live server."""
    return live_server_url
