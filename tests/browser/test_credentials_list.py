"""The credentials list fits a 1280 px window: no column, the request counts included, is cut off."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from services import credentials
from tests.admin.test_credentials import logged
from tests.browser.test_first_sync import _sign_in


def test_the_credentials_list_fits_a_1280_px_window(page: Page, super_admin, tenant, tmp_path) -> None:
    # Long names and slugs, as admins write them, in every column that can grow.
    for index in range(3):
        credential, _ = credentials.issue(
            tenant, f"Microsoft Entra ID production tenant {index}", f"entra-production-eu-{index}"
        )
        _traffic(credential)
    page.set_viewport_size({"width": 1280, "height": 900})
    _sign_in(page)
    table = page.locator("table.table").first
    expect(table.locator("tbody tr")).to_have_count(3)
    counts = table.locator("thead th").last
    expect(counts).to_contain_text("Requests (24 h)")
    page.screenshot(path=str(tmp_path / "credentials-list.png"), full_page=True)
    # Every cell of the last column ends inside the table's own box and the window, and no ancestor clips it.
    for cell in table.locator("tr > :last-child").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, box
    clipped = table.evaluate(
        "t => { for (let e = t; e; e = e.parentElement) { if (e.scrollWidth > e.clientWidth + 1) return e.className"
        " || e.tagName; } return null; }"
    )
    assert clipped is None, f"{clipped} is wider than its box: the table is cut off"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def _traffic(credential) -> None:
    """Log requests of every status class, so the counts column holds its widest content."""
    for status, times in ((200, 12345), (404, 678), (503, 9)):
        logged(credential, status, count=times)
