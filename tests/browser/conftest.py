"""Browser fixtures: one Streamlit server (private runs folder) and one Chromium for the session.

Without Chromium or Playwright the browser tests skip, saying why; with REQUIRE_BROWSER=1 (as CI
sets) they fail instead."""
import os

import pytest

from harness import VIEWPORT, AppServer, chromium_path, launch_chromium, stop_training

REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -r requirements-test.txt)")
    if chromium_path() is None:
        unavailable("Chromium was not found (apt-get install chromium, or set CHROMIUM=/path/to/chromium)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(chromium, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    with AppServer(folder / "runs", folder / "streamlit.log") as app:
        yield app


@pytest.fixture
def page(chromium, server):
    """A fresh browser tab; the test fails if the app showed a Python exception in it."""
    context = chromium.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    shown = tab.locator('[data-testid="stException"]').all_inner_texts()
    context.close()
    assert not shown, f"the app showed an exception: {shown}"


@pytest.fixture
def no_training(server):
    """Whatever a test leaves running is stopped before the next one starts its run."""
    yield
    stop_training(server.runs_dir)
