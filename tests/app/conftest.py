"""AppTest fixtures: the real app and default checkpoint, a private runs folder, fresh caches."""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages import catalog
from vae import lifecycle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """Runs go to a temporary folder; any training process a test started is stopped at the end."""
    folder = tmp_path / "runs"
    monkeypatch.setenv(catalog.RUNS_ENV, str(folder))
    yield folder
    for run_dir, status in lifecycle.list_runs(folder):
        if status.get("state") == "running":
            lifecycle.stop_run(run_dir)


@pytest.fixture
def open_page(runs_dir, monkeypatch):
    """open_page("app_pages/pages/latent.py") -> an AppTest of the whole app (navigation, model menu) on that page."""
    monkeypatch.chdir(ROOT)
    if not catalog.default_checkpoint().is_file():
        pytest.fail(f"the default checkpoint {catalog.default_checkpoint()} is missing")
    st.cache_data.clear()

    def open_(page: str | None = None) -> AppTest:
        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        app.run()
        if page is not None:
            app.switch_page(page).run()
        return app

    return open_
