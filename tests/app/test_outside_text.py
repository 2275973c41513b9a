"""Text from outside the app (a link's ?model=, ?z= and ?dims=, a run's folder, name and status.json, an
upload's file name) is shown as text, never as Markdown; a link's warning stays until the user changes what
it is about; two models never share a name in the menu. tests/test_markdown_escape.py checks the escaping
itself, tests/browser/test_outside_text_browser.py the rendered page."""
from pathlib import Path

import pytest
import streamlit as st
import vae
from streamlit.testing.v1 import AppTest

from app_pages import catalog
from app_pages.common import escape_as_code, escape_markdown
from vae import runfiles

from test_pages import finished_run, messages, newest_run_page, widget

ROOT = Path(__file__).resolve().parents[2]
LINK = "[Session expired: click to sign in again](http://evil.example/login)"
IMAGE = "![a](http://evil.example/z.png)"


def link_app(query: dict, page: str) -> AppTest:
    """The app opened on `page` by a link carrying `query`."""
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update(query)
    app.switch_page(page).run()
    assert messages(app) == {"exception": [], "error": []}
    return app


def warnings(app) -> list[str]:
    return [w.value for w in app.warning]


@pytest.fixture
def four_dims(tmp_path, monkeypatch):
    """The only model on offer has four latent dimensions (so ?dims= is read)."""
    path = tmp_path / "z4.pt"
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)).eval(), {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))


@pytest.mark.parametrize("query, value", [({"model": LINK}, LINK), ({"z": IMAGE}, IMAGE[:40])], ids=["model", "z"])
def test_a_links_values_are_shown_as_text(query, value, runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    app = link_app(query, "app_pages/pages/latent.py")
    shown = [w for w in warnings(app) if escape_markdown(value) in w]
    assert len(shown) == 1, warnings(app)
    assert "](http" not in shown[0] and "![" not in shown[0]


def test_a_links_dimensions_are_shown_as_text(four_dims, runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    app = link_app({"dims": "[x](http://evil.example)"}, "app_pages/pages/latent.py")
    assert any(escape_markdown("[x](http://evil.example)") in w for w in warnings(app)), warnings(app)


def test_link_warnings_stay_until_the_model_they_are_about_changes(runs_dir, monkeypatch):
    """A plane component asks for a rerun within a second of showing; the warnings were gone after it."""
    monkeypatch.chdir(ROOT)
    run = finished_run(runs_dir, "other", [170.0])
    app = link_app({"model": "no-such-model", "z": "1.0,banana"}, "app_pages/pages/elbo.py")
    assert len(warnings(app)) == 2, warnings(app)
    app.run()                                                         # the component's first rerun
    app.run()
    assert len(warnings(app)) == 2, warnings(app)
    app.switch_page("app_pages/pages/latent.py").run()                     # the pin is the pages' own
    assert len(warnings(app)) == 2, warnings(app)
    app.selectbox(key="checkpoint").set_value(str(run / runfiles.CHECKPOINT)).run()
    assert messages(app) == {"exception": [], "error": []}
    assert warnings(app) == []


def test_a_dimensions_warning_stays_until_the_view_changes(four_dims, runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    app = link_app({"dims": "7,9"}, "app_pages/pages/latent.py")
    app.run()
    assert any("do not fit" in w for w in warnings(app)), warnings(app)
    widget(app.selectbox, "Vertical axis").set_value(3).run()
    assert messages(app) == {"exception": [], "error": []}
    assert not any("do not fit" in w for w in warnings(app)), warnings(app)


def test_a_failed_runs_folder_and_error_are_text_on_the_train_page(open_page, runs_dir):
    folder, error = "www.evil.example [x](https:evil.example)", f"{IMAGE} {LINK} :red[x] $x$"
    (runs_dir / folder).mkdir(parents=True)
    app = newest_run_page(open_page, runs_dir / folder, {"state": "failed", "error": error, "epoch": 2})
    assert messages(app)["exception"] == []
    assert app.error[0].value == f"The run failed: {escape_markdown(error)}"
    assert app.subheader[-1].value == f"Run {escape_markdown(folder)}: failed"


def test_an_interrupted_runs_reason_is_text(open_page, runs_dir):
    (runs_dir / "cut").mkdir(parents=True)
    app = newest_run_page(open_page, runs_dir / "cut", {"state": "stopped", "interrupted": True, "error": LINK})
    assert f"Interrupted: {escape_markdown(LINK)}." in warnings(app)


def test_a_run_named_like_a_shipped_model_is_told_apart_in_the_menu(open_page, runs_dir):
    renamed, reversed_ = finished_run(runs_dir, "20260101-000000", [170.0]), finished_run(runs_dir, "rtl", [160.0])
    runfiles.rename_run(renamed, "mnist-2d")
    runfiles.rename_run(reversed_, "best\u202ed2-tsinm")
    app = open_page()
    picker = app.selectbox(key="checkpoint")
    shown = picker.options                                         # as the menu shows them
    assert len(set(shown)) == len(shown), shown
    assert shown[0] == "mnist-2d" and "mnist-2d (run 20260101-000000)" in shown
    assert "bestd2-tsinm" in shown and not any("\u202e" in name for name in shown)


def test_an_uploads_file_name_is_a_code_span(open_page):
    name = "see www.evil.example [x](http://evil.example/x) :red[y].png"
    app = open_page("app_pages/pages/reconstruct.py")
    app.file_uploader[0].set_value((name, b"not a picture\n" * 10, "image/png")).run()
    assert messages(app)["exception"] == []
    assert app.error[0].value.startswith(escape_as_code(name) + ": ")


def test_the_runs_page_shows_folder_names_as_text(open_page, runs_dir):
    folder = "a`b [x](https:evil.example) www.evil.example"
    finished_run(runs_dir, folder, [170.0])
    app = open_page("app_pages/pages/runs.py")
    assert messages(app) == {"exception": [], "error": []}
    assert app.get("download_button")[0].proto.label.startswith(f"Download {escape_markdown(folder)}.pt (")
    app.button(key="delete").click().run()
    assert any(f"Its folder {escape_as_code(folder)} goes" in w for w in warnings(app)), warnings(app)


def test_an_empty_runs_folders_path_is_a_code_span(open_page, monkeypatch, tmp_path):
    folder = tmp_path / "runs `x` [y](http://evil.example)"           # VAE_RUNS_DIR may hold anything
    monkeypatch.setenv(catalog.RUNS_ENV, str(folder))
    app = open_page("app_pages/pages/runs.py")
    assert messages(app)["exception"] == []
    assert any(i.value.endswith(f"saved under {escape_as_code(f'{folder}/')}.") for i in app.info), \
        [i.value for i in app.info]
