"""A class on one server (issue 17): a visitor from another machine is a viewer, who explores everything but
cannot start, stop, resume, rename or delete runs, even by a forged widget event; the owner's token makes the
owner. AppTest has no client, which app_pages.roles takes for this machine: VAE_LOOPBACK_IS_REMOTE=1 makes
the same session a visitor from elsewhere."""
import ast
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import roles
from vae import runfiles
from vae.cli import main

from test_runs import HOLD_LOCK, python

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "correct horse battery staple"
CONTROLS = {"Start training", "Stop training", "Resume training", "Rename", "Delete this run…"}


@pytest.fixture
def remote(monkeypatch):
    """The session comes from another machine (as every visitor does behind a local reverse proxy)."""
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    monkeypatch.delenv(roles.TOKEN_ENV, raising=False)


@pytest.fixture
def stopped(runs_dir):
    """A real run, one epoch of 256 images, marked stopped: the Train page offers Resume and Explore."""
    run_dir = runs_dir / "20260101-120000-mlp-z2"
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1", "--limit", "256", "--batch-size", "64",
                 "--device", "cpu", "--hidden", "32"]) == 0
    status = json.loads((run_dir / runfiles.STATUS).read_text())
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {**status, "state": "stopped", "started": time.time() + 3600})
    return run_dir


@pytest.fixture
def resumable(runs_dir):
    """A stopped run folder with a checkpoint file: enough for every action to act on it."""
    run_dir = runs_dir / "20260101-110000-mlp-z2"
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "stopped", "started": time.time(), "epoch": 1,
                                                   "epochs": 3, "step": 10, "total_steps": 30})
    (run_dir / runfiles.CHECKPOINT).write_bytes(b"not read")
    return run_dir


@pytest.fixture
def training(runs_dir):
    """A run whose lock a live process holds: it reads as training, and the Train page offers Stop."""
    run_dir = runs_dir / "20260101-130000-mlp-z2"
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "stopped", "started": time.time(), "epoch": 0,
                                                   "epochs": 3, "step": 5, "total_steps": 30})
    with python(HOLD_LOCK, run_dir) as holder:
        assert holder.stdout.readline() == "holding\n"
        status = json.loads((run_dir / runfiles.STATUS).read_text())
        runfiles.write_json_atomic(run_dir / runfiles.STATUS, {**status, "state": "running", "pid": holder.pid})
        yield holder
        if holder.poll() is None:
            holder.stdin.write("\n")
            holder.stdin.flush()


def labels(app) -> set[str]:
    return {b.label for b in app.button}                            # form buttons too


def viewer_line(app) -> list[str]:
    return [i.value for i in app.info if "connected from another machine" in i.value]


def token_field(app):
    return [t for t in app.text_input if t.key == "owner_token_entry"]


def run_folders(runs_dir: Path) -> set[str]:
    return {p.name for p in runs_dir.iterdir()} if runs_dir.exists() else set()


@pytest.mark.parametrize("page, shown", [("train", {"Start training", "Resume training"}),
                                         ("runs", {"Rename", "Delete this run…"})])
def test_a_viewer_sees_no_training_controls_and_the_reason(open_page, stopped, monkeypatch, page, shown):
    app = open_page(f"app_pages/pages/{page}.py")
    assert shown <= labels(app) and not viewer_line(app)              # the owner, on this machine, has them
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    monkeypatch.setenv(roles.TOKEN_ENV, TOKEN)
    app = open_page(f"app_pages/pages/{page}.py")
    assert not app.exception
    assert not CONTROLS & labels(app)
    assert len(viewer_line(app)) == 1 and len(token_field(app)) == 1
    if page == "train":
        assert "Explore this model" in labels(app)                     # exploring stays
    else:
        assert app.selectbox(key="export_run").value == stopped.name
        assert app.multiselect(key="compare").value == [stopped.name]


def test_a_viewer_never_sees_stop(open_page, training, monkeypatch):
    app = open_page("app_pages/pages/train.py")
    assert "Stop training" in labels(app)
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    app = open_page("app_pages/pages/train.py")
    assert not app.exception and "Stop training" not in labels(app) and viewer_line(app)


def test_without_a_token_no_field_is_offered(open_page, remote):
    """An empty owner_token (as an unset one: the environment's is unset here) lets no token in."""
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.secrets[roles.TOKEN_SECRET] = ""                 # not this machine's secrets.toml, whatever it holds
    app.run()
    app.switch_page("app_pages/pages/train.py").run()
    assert viewer_line(app) and "only the machine this server runs on" in viewer_line(app)[0]
    assert not token_field(app) and "Start training" not in labels(app)


def test_forged_clicks_from_a_viewer_start_resume_rename_and_delete_nothing(open_page, stopped, runs_dir,
                                                                             monkeypatch):
    """The owner's pages, drawn on this machine, then sent back by a session that counts as remote: each
    click names a control the viewer was never given."""
    train, manage = open_page("app_pages/pages/train.py"), open_page("app_pages/pages/runs.py")
    manage.button(key="delete").click().run()                        # asked while the owner
    before = run_folders(runs_dir), (stopped / runfiles.STATUS).read_bytes()
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    next(b for b in train.button if b.label == "Start training").click()
    train.button(key="resume").click().run()
    manage.text_input(key=f"name_{stopped.name}").set_value("taken over")
    manage.button(key="rename").click()
    manage.button(key="delete_confirmed").click().run()
    assert not train.exception and not manage.exception
    assert (run_folders(runs_dir), (stopped / runfiles.STATUS).read_bytes()) == before and stopped.is_dir()
    assert runfiles.read_name(stopped) is None                           # not renamed


def test_a_forged_stop_from_a_viewer_stops_nothing(open_page, training, monkeypatch):
    app = open_page("app_pages/pages/train.py")
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    app.button(key="stop").click().run()
    assert not app.exception
    time.sleep(0.5)
    assert training.poll() is None                                   # the run's process was not signalled


@pytest.mark.parametrize("action", ["start_run", "stop_run", "resume_run", "rename_run", "delete_run"])
def test_each_training_action_refuses_a_viewer(runs_dir, resumable, remote, action):
    """The pages call the lifecycle only through app_pages.roles, which asks for the owner at each call:
    whatever reaches the action (a callback, a fragment's rerun, a forged event) changes nothing."""
    def script(action: str, run_dir: str) -> None:
        from pathlib import Path

        import streamlit as st

        from app_pages import roles
        from vae import ModelConfig, TrainConfig

        calls = {"start_run": lambda: roles.start_run(Path(run_dir).parent, ModelConfig(), TrainConfig(epochs=1)),
                 "stop_run": lambda: roles.stop_run(Path(run_dir)),
                 "resume_run": lambda: roles.resume_run(Path(run_dir)),
                 "rename_run": lambda: roles.rename_run(Path(run_dir), "taken over"),
                 "delete_run": lambda: roles.delete_run(Path(run_dir), Path(run_dir).parent)}
        try:
            calls[action]()
        except roles.NotOwner as exc:
            st.text(f"refused: {exc}")

    before = run_folders(runs_dir), (resumable / runfiles.STATUS).read_bytes()
    app = AppTest.from_function(script, args=(action, str(resumable)), default_timeout=60).run()
    assert not app.exception
    assert [t.value for t in app.text] == ["refused: Only the owner of this server can start, stop, resume, "
                                           "rename or delete runs."]
    assert (run_folders(runs_dir), (resumable / runfiles.STATUS).read_bytes()) == before
    assert runfiles.read_name(resumable) is None


@pytest.mark.parametrize("where", ["secrets", "environment"])
def test_the_owners_token_makes_a_viewer_the_owner(open_page, resumable, remote, monkeypatch, where):
    if where == "environment":
        monkeypatch.setenv(roles.TOKEN_ENV, TOKEN)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    if where == "secrets":
        app.secrets[roles.TOKEN_SECRET] = TOKEN
    app.run()
    app.switch_page("app_pages/pages/train.py").run()
    assert "Start training" not in labels(app)
    token_field(app)[0].input("correct horse").run()                 # a wrong one: still a viewer, told so
    assert "Start training" not in labels(app) and viewer_line(app)
    assert [e.value for e in app.error] == ["That is not the owner's token."]
    token_field(app)[0].input(TOKEN).run()
    assert not app.exception and not app.error
    assert "Start training" in labels(app) and not viewer_line(app) and not token_field(app)
    app.switch_page("app_pages/pages/runs.py").run()                 # for the whole session
    assert "Rename" in labels(app) and not viewer_line(app)
    shown = [e.value for kind in (app.markdown, app.caption, app.info, app.error, app.text, app.code) for e in kind]
    assert not any(TOKEN in str(text) for text in shown)               # never shown back


@pytest.mark.parametrize("ip, here", [(None, True), ("127.0.0.1", True), ("127.0.1.1", True), ("::1", True),
                                      ("::ffff:127.0.0.1", True), ("192.168.1.20", False), ("10.0.0.7", False),
                                      ("2001:db8::5", False), ("::ffff:192.168.1.20", False), ("not an ip", False)])
def test_loopback_is_this_machine_unless_the_setting_says_otherwise(monkeypatch, ip, here):
    monkeypatch.delenv(roles.LOOPBACK_IS_REMOTE_ENV, raising=False)
    assert roles.from_this_machine(ip) is here
    monkeypatch.setenv(roles.LOOPBACK_IS_REMOTE_ENV, "1")
    assert roles.from_this_machine(ip) is False


def test_the_pages_call_training_actions_only_through_roles():
    """A direct vae call from a page would skip the owner's check."""
    actions = {"start_run", "stop_run", "resume_run", "rename_run", "delete_run"}
    direct = []
    for page in sorted((ROOT / "app_pages" / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(page.read_text())):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Attribute) and called.attr in actions and \
                    not (isinstance(called.value, ast.Name) and called.value.id == "roles"):
                direct.append(f"{page.name}:{node.lineno} {ast.unparse(called)}")
            if isinstance(node, ast.ImportFrom) and actions & {alias.name for alias in node.names}:
                direct.append(f"{page.name}:{node.lineno} imports {ast.unparse(node)}")
    assert direct == []
