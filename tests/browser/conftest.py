"""Headless Chromium (the system's, never a downloaded one) driven by Playwright.

The site runs in pytest-django's ``live_server``. Playwright's sync API runs an event loop
in the test thread, so Django's async-safety guard is relaxed for these tests only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        service_missing(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    # Only while the browser runs (its event loop lives in this thread); never leaks to
    # later tests or their subprocesses (``check --deploy`` refuses it).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium_browser, live_server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = chromium_browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Every page must work under the site's Content-Security-Policy: a blocked script, style or
    # handler shows up as a console error, and fails the test that loaded it.
    csp_violations: list[str] = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()
    assert not csp_violations, csp_violations


@pytest.fixture
def screenshot():  # type: ignore[no-untyped-def]
    """Save a full-page screenshot of the main pages into docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:  # type: ignore[no-untyped-def]
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save
