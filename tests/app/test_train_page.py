"""The Train page's form (every option, the CLI's bounds and words), a run's view (starting, configuration,
Explore this model) and the Runs page's rename and delete, through AppTest."""
import json
import time
from pathlib import Path

import pytest

from app_pages import train_form
from app_pages.common import escape_markdown
from vae import lifecycle, runfiles
from vae.cli import main
from vae.options import OPTIONS, flag, refusal

from test_runs import HOLD_LOCK, python
from helpers import wait_until


def messages(app) -> dict:
    return {"exception": [e.value for e in app.exception], "error": [e.value for e in app.error]}


def option(app, name: str):
    """The form's widget for one config field (keyed option_<name>)."""
    key = f"option_{name}"
    for kind in (app.number_input, app.selectbox):
        found = [w for w in kind if w.key == key]
        if found:
            return found[0]
    raise LookupError(key)


def cli_refusal(tmp_path, flag: str, value) -> str:
    """What `python -m vae train` says when given `flag value`."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "--run-dir", str(tmp_path / "refused"), flag, str(value)])
    assert code == 2 and not (tmp_path / "refused").exists()
    return err.getvalue().strip().removeprefix("error: ")


def test_the_form_offers_every_option_with_the_tables_bounds(open_page):
    app = open_page("app_pages/pages/train.py")
    assert messages(app) == {"exception": [], "error": []}
    for name, opt in OPTIONS.items():
        widget = option(app, name)
        assert widget.label == opt.label and widget.help.startswith(opt.help), name
        if opt.choices:
            assert set(widget.options) <= set(opt.choices), name
        else:
            assert (widget.min, widget.max) == (opt.low, opt.high), name
    assert [e.label for e in app.expander][0].startswith("Advanced")
    advanced = {option(app, name).id for name in train_form.advanced_fields()}
    assert {"hidden", "depth", "activation", "channels", "lr_schedule", "beta", "kl_warmup_epochs", "grad_clip",
            "weight_decay", "log_every", "precision"} == set(train_form.advanced_fields())
    assert len(advanced) == 11


def test_a_bad_value_gets_the_same_words_from_the_form_and_the_cli(open_page, runs_dir, tmp_path):
    """The widgets' bounds are the table's, so the one value a widget lets through and the config refuses is
    an open bound's: a learning rate of 0. (Streamlit resets any value outside a widget's bounds.)"""
    name, value = "lr", 0.0
    app = open_page("app_pages/pages/train.py")
    option(app, name).set_value(value)
    next(b for b in app.button if b.label == "Start training").click().run()
    assert messages(app)["exception"] == []
    said = cli_refusal(tmp_path, flag(name), value)
    assert said == refusal(name, value)
    assert app.error[0].value == f"Training was not started. {escape_markdown(said)}"   # Markdown for the same words
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_advanced_options_reach_the_run_and_start_is_off_while_it_trains(open_page, runs_dir):
    app = open_page("app_pages/pages/train.py")
    for name, value in [("epochs", 50), ("limit", 512), ("batch_size", 64), ("hidden", 32), ("depth", 1),
                        ("activation", "tanh"), ("lr_schedule", "constant"), ("beta", 2.0),
                        ("kl_warmup_epochs", 1.5), ("grad_clip", 5.0), ("weight_decay", 0.01), ("log_every", 3),
                        ("device", "cpu")]:
        option(app, name).set_value(value)
    next(b for b in app.button if b.label == "Start training").click().run()
    assert messages(app) == {"exception": [], "error": []}
    [(run_dir, status)] = lifecycle.list_runs(runs_dir)
    try:
        assert wait_until(lambda: (lifecycle.read_status(run_dir).get("model_config") or {}).get("hidden") == 32)
        status = lifecycle.read_status(run_dir)
        assert status["model_config"] == {**status["model_config"], "hidden": 32, "depth": 1, "activation": "tanh"}
        assert {k: status["train_config"][k] for k in ("lr_schedule", "beta", "kl_warmup_epochs", "grad_clip",
                                                       "weight_decay", "log_every", "limit", "epochs")} == {
            "lr_schedule": "constant", "beta": 2.0, "kl_warmup_epochs": 1.5, "grad_clip": 5.0, "weight_decay": 0.01,
            "log_every": 3, "limit": 512, "epochs": 50}
        app.run()
        start = next(b for b in app.button if b.label == "Start training")
        assert start.disabled and "A run is going" in app.info[0].value
        shown = {row["option"]: row["value"] for row in app.dataframe[0].value.to_dict("records")}
        assert shown[OPTIONS["activation"].label] == "tanh" and shown[OPTIONS["beta"].label] == "2.0"
        assert len(shown) >= len(OPTIONS)
    finally:
        lifecycle.stop_run(run_dir)
    assert wait_until(lambda: lifecycle.read_status(run_dir)["state"] != "running")
    app.run()
    assert not next(b for b in app.button if b.label == "Start training").disabled


@pytest.mark.parametrize("phase, words", [("starting", "Starting: launching the training process…"),
                                          ("loading data", "Starting: loading data…")])
def test_a_starting_run_says_what_it_is_doing(open_page, runs_dir, phase, words):
    run_dir = runs_dir / "starting"
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "running", "phase": phase, "started": time.time(),
                                                   "epoch": 0, "epochs": 3, "step": 0, "total_steps": None})
    with python(HOLD_LOCK, run_dir) as holder:                  # a live process holds the run
        assert holder.stdout.readline() == "holding\n"
        app = open_page("app_pages/pages/train.py")
        shown = [p.proto.text for p in app.get("progress")]
        holder.stdin.write("\n")
        holder.stdin.flush()
    assert messages(app)["exception"] == []
    assert shown == [words]


@pytest.fixture
def trained(runs_dir):
    """A real finished run (one epoch of 256 images) under the app's runs folder."""
    run_dir = runs_dir / "20260101-120000-mlp-z2"
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1", "--limit", "256", "--batch-size", "64",
                 "--device", "cpu", "--hidden", "32"]) == 0
    status = json.loads((run_dir / runfiles.STATUS).read_text())
    (run_dir / runfiles.STATUS).write_text(json.dumps({**status, "started": time.time() + 3600}))   # the newest
    return run_dir


def test_explore_this_model_opens_the_latent_page_with_it(open_page, trained):
    app = open_page("app_pages/pages/train.py")
    assert messages(app) == {"exception": [], "error": []}
    app.button(key="explore").click().run()
    assert messages(app) == {"exception": [], "error": []}
    assert app.session_state.checkpoint == str(trained / runfiles.CHECKPOINT)
    assert app.query_params["model"] == f"run:{trained.name}"
    assert app.title[0].value == "The latent plane"


def test_a_run_is_renamed_and_deleted_from_the_runs_page(open_page, trained, runs_dir):
    app = open_page("app_pages/pages/runs.py")
    app.text_input(key=f"name_{trained.name}").set_value("tiny *tanh* run")
    app.button(key="rename").click().run()
    assert messages(app) == {"exception": [], "error": []}
    assert runfiles.read_name(trained) == "tiny *tanh* run"
    picker = app.selectbox(key="checkpoint")
    assert "tiny *tanh* run" in picker.options
    app.button(key="delete").click().run()
    assert "for good" in app.warning[0].value and trained.is_dir()           # asked, not yet deleted
    app.button(key="delete_confirmed").click().run()
    assert messages(app) == {"exception": [], "error": []}
    assert not trained.exists()
    assert all("tiny" not in label for label in app.selectbox(key="checkpoint").options)


def test_a_training_run_cannot_be_deleted(open_page, runs_dir):
    run_dir = runs_dir / "busy"
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "stopped", "started": time.time(), "epoch": 0,
                                                   "epochs": 3, "step": 5, "total_steps": 30})
    app = open_page("app_pages/pages/runs.py")
    app.button(key="delete").click().run()                     # asked while it was stopped...
    with python(HOLD_LOCK, run_dir) as holder:                 # ...confirmed after it had been resumed
        assert holder.stdout.readline() == "holding\n"
        status = json.loads((run_dir / runfiles.STATUS).read_text())
        runfiles.write_json_atomic(run_dir / runfiles.STATUS, {**status, "state": "running"})
        app.button(key="delete_confirmed").click().run()
        still_there, refused = run_dir.is_dir(), [e.value for e in app.error]
        app = open_page("app_pages/pages/runs.py")
        disabled = app.button(key="delete").disabled           # a fresh look: the button is off
        holder.stdin.write("\n")
        holder.stdin.flush()
    assert still_there and disabled
    assert refused == ["The run was not deleted. " + escape_markdown("busy is training: stop it before deleting it")]


def test_a_link_to_a_deleted_model_says_so_and_shows_the_default(open_page, trained, monkeypatch):
    lifecycle.delete_run(trained, trained.parent)
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=120)
    app.query_params["model"] = f"run:{trained.name}"
    app.switch_page("app_pages/pages/latent.py").run()
    assert messages(app) == {"exception": [], "error": []}
    assert any("not here" in w.value for w in app.warning)
    assert app.selectbox(key="checkpoint").value.endswith("mnist-2d.pt")


def test_a_runs_checkpoint_on_the_train_page_stays_out_of_the_shared_model_cache(open_page, trained, monkeypatch):
    """The Train page reads a run's checkpoint (a new version each epoch) for its reconstructions on its own:
    load_model's cache, shared by every session's pages, does not get it (and lose a model another uses)."""
    import vae
    from app_pages import common

    common.load_model.clear()
    app = open_page("app_pages/pages/train.py")
    assert messages(app) == {"exception": [], "error": []}
    assert any("their reconstructions" in c for image in app.image for c in image.captions)
    read, real = [], vae.load_checkpoint
    monkeypatch.setattr(vae, "load_checkpoint", lambda path, *a, **kw: read.append(path) or real(path, *a, **kw))
    checkpoint = trained / runfiles.CHECKPOINT
    common.load_model(str(checkpoint), checkpoint.stat().st_mtime)
    assert read == [str(checkpoint)]            # not cached: the page did not put it there
