"""vae.lifecycle and vae.runfiles: the run folder, and the life of a training process as the dashboard sees it."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app_pages import catalog
from vae import ModelConfig, TrainConfig
from vae import lifecycle
from vae.lifecycle import (active_run, list_runs, lock_holder, pid_alive, read_status, resume_run, start_run,
                           stop_run)
from vae import runfiles
from vae.runfiles import read_metrics, read_recorded_status, write_json_atomic

from helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
# Many one-step epochs: a run that lasts, reaches a checkpoint within seconds, and stops at once.
LONG = TrainConfig(epochs=100, limit=64, batch_size=64, device="cpu", log_every=1)


def python(code: str, *args) -> subprocess.Popen:
    """A Python child with the project importable, reading stdin and writing stdout line by line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


def reaped(pid: int) -> bool:
    """Gone from the process table: ended and waited for by its parent (a zombie still has /proc/pid)."""
    return not Path(f"/proc/{pid}").exists()


def stopped(run_dir) -> bool:
    return read_status(run_dir)["state"] != "running"


def test_one_run_at_a_time_and_stop_ends_it_as_stopped(tmp_path):
    run = start_run(tmp_path, ModelConfig(), LONG)
    try:
        assert read_status(run)["state"] == "running" and active_run(tmp_path) == run
        with pytest.raises(RuntimeError, match="already going"):
            start_run(tmp_path, ModelConfig(), LONG)
        assert wait_until(lambda: (read_status(run).get("step") or 0) >= 2)
        pid = read_status(run)["pid"]
        assert lock_holder(run) == pid and "heartbeat" in read_status(run)
    finally:
        assert stop_run(run)
    assert wait_until(lambda: stopped(run))
    status = read_status(run)
    assert status["state"] == "stopped" and not status["interrupted"] and (run / "checkpoint.pt").is_file()
    assert active_run(tmp_path) is None
    assert [d for d, _ in list_runs(tmp_path)] == [run]
    assert wait_until(lambda: lock_holder(run) is None)     # it wrote "stopped" just before it let go
    assert not stop_run(run)                      # nothing left to stop
    if Path("/proc").is_dir():
        assert wait_until(lambda: reaped(pid)), "the finished training process stays a zombie"


def test_a_run_starts_from_any_working_folder(tmp_path, monkeypatch):
    """The dashboard's server may run anywhere (`streamlit run /abs/path/streamlit_app.py` from /tmp)."""
    from vae.data import raw_dir

    monkeypatch.setenv("VAE_DATA_ROOT", str(raw_dir().parents[1].resolve()))   # the MNIST the tests use
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = start_run(tmp_path / "runs", ModelConfig(), LONG, cwd=elsewhere)
    try:
        assert wait_until(lambda: (read_status(run).get("step") or 0) >= 1 or stopped(run))
    finally:
        stop_run(run)
    assert wait_until(lambda: stopped(run))
    assert read_status(run)["state"] == "stopped", (run / "train.log").read_text()


def test_a_killed_run_keeps_its_checkpoint_and_resumes(tmp_path):
    run = start_run(tmp_path, ModelConfig(), LONG)
    try:
        assert wait_until(lambda: read_status(run).get("checkpoint_step") is not None)
        pid = read_status(run)["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: stopped(run))
        status = read_status(run)
        assert status["state"] == "stopped" and status["interrupted"] and "killed" in status["error"]
        assert status["step"] == status["checkpoint_step"] >= 1
        assert active_run(tmp_path) is None and not stop_run(run)
        assert run / "checkpoint.pt" in [choice.path for choice in catalog.run_choices(tmp_path)]
        # What a kill can leave behind: rows logged after the checkpoint, a half-written line, a temporary file
        with open(run / "metrics.jsonl", "a") as metrics:
            metrics.write(json.dumps({"split": "train", "step": status["step"] + 1, "loss": -1.0}) + '\n{"spl')
        (run / ".checkpoint.pt.k1ll3d.part").write_bytes(b"half a checkpoint")

        resume_run(run)
        assert active_run(tmp_path) == run
        assert wait_until(lambda: (read_status(run).get("step") or 0) > status["step"] + 1)
    finally:
        stop_run(run)
    assert wait_until(lambda: stopped(run))
    assert read_status(run)["state"] == "stopped" and not read_status(run)["interrupted"]
    rows = [r for r in read_metrics(run) if r["split"] == "train"]
    assert [r["step"] for r in rows] == list(range(1, rows[-1]["step"] + 1))      # one row per step (log_every=1)
    assert -1.0 not in [r["loss"] for r in rows]
    assert [r["seconds"] for r in rows] == sorted(r["seconds"] for r in rows)
    assert not list(run.glob("*.part"))
    assert wait_until(lambda: reaped(pid))


def test_stop_pressed_while_the_run_is_starting_reads_as_stopped(tmp_path):
    run = start_run(tmp_path, ModelConfig(), LONG)
    assert stop_run(run)                     # the child is still importing torch: SIGTERM ends it outright
    assert wait_until(lambda: stopped(run))
    status = read_status(run)
    assert status["state"] == "stopped" and not status.get("interrupted") and not status.get("error")
    assert not (run / "checkpoint.pt").exists() and catalog.run_choices(tmp_path) == []


def test_a_stop_meant_for_an_earlier_process_does_not_excuse_a_kill(tmp_path):
    write_json_atomic(tmp_path / "status.json", {"state": "running", "pid": 4321, "checkpoint_step": 2, "step": 3})
    (tmp_path / "checkpoint.pt").write_bytes(b"weights")
    (tmp_path / "run.lock").write_text("4321")                       # its last holder, now gone
    (tmp_path / "stop.requested").write_text("1234")                 # a Stop sent to an earlier session
    status = read_status(tmp_path)
    assert status["state"] == "stopped" and status["interrupted"] and status["step"] == 2
    (tmp_path / "stop.requested").write_text("4321")
    status = read_status(tmp_path)
    assert status["state"] == "stopped" and not status.get("interrupted")


def test_a_killed_run_names_its_checkpoint_by_the_epoch_its_step_is_in(tmp_path):
    """Its checkpoint was saved at step 8 of 15, 5 steps an epoch: in epoch 2, as the Train page says it
    (issue 16), with one whole epoch done, as status.json counts it."""
    write_json_atomic(tmp_path / "status.json", {"state": "running", "pid": 4321, "epoch": 1, "epochs": 3, "step": 9,
                                                 "total_steps": 15, "checkpoint_epoch": 1, "checkpoint_step": 8})
    (tmp_path / "checkpoint.pt").write_bytes(b"weights")
    status = read_status(tmp_path)
    assert status["interrupted"] and (status["epoch"], status["step"]) == (1, 8)
    assert "its last checkpoint (epoch 2, step 8) is kept" in status["error"]


HOLD_LOCK = """
import sys
from vae.lifecycle import run_lock
with run_lock(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_stop_signals_only_the_process_that_holds_the_run(tmp_path):
    # A dead run whose pid now belongs to an unrelated process: it reads as ended and nothing is signalled.
    stranger = subprocess.Popen(["sleep", "60"])
    write_json_atomic(tmp_path / "status.json", {"state": "running", "pid": stranger.pid})
    assert read_status(tmp_path)["state"] == "failed"
    assert not stop_run(tmp_path)
    stranger.kill()
    assert stranger.wait() == -signal.SIGKILL            # a SIGTERM sent before would have set this to -15

    # The process that holds the run's lock is the one that is signalled.
    with python(HOLD_LOCK, tmp_path) as holder:
        assert holder.stdout.readline() == "holding\n"
        assert lock_holder(tmp_path) == holder.pid and read_status(tmp_path)["state"] == "running"
        assert stop_run(tmp_path)
        assert holder.wait() == -signal.SIGTERM


START = """
import sys, time
from vae import ModelConfig, TrainConfig, lifecycle
name = lifecycle.run_name
lifecycle.run_name = lambda *cfgs: (time.sleep(0.5), name(*cfgs))[1]     # widen the window between check and start
sys.stdin.readline()
try:
    print(lifecycle.start_run(sys.argv[1], ModelConfig(), TrainConfig(epochs=100, limit=64, batch_size=int(sys.argv[2]),
                                                                  device="cpu")), flush=True)
except RuntimeError as exc:
    print(f"refused: {exc}", flush=True)
"""


def test_two_processes_starting_at_once_start_one_run(tmp_path):
    starters = [python(START, tmp_path, batch) for batch in (32, 64)]      # two batch sizes: two folder names
    try:
        for starter in starters:
            starter.stdin.write("go\n")
            starter.stdin.flush()
        answers = sorted(starter.communicate()[0] for starter in starters)
    finally:
        for run_dir, _ in list_runs(tmp_path):
            stop_run(run_dir)
        assert wait_until(lambda: active_run(tmp_path) is None)
    assert len(list_runs(tmp_path)) == 1
    assert answers[1].startswith("refused: A training run is already going"), answers


def test_a_run_whose_process_vanished_reads_as_failed(tmp_path):
    write_json_atomic(tmp_path / "status.json", {"state": "running", "pid": 999_999_999})
    status = read_status(tmp_path)
    assert status["state"] == "failed" and status["error"]


@pytest.mark.parametrize("text, reason", [
    ("null", "holds a JSON NoneType"), ("[1, 2]", "holds a JSON list"), ('"running"', "holds a JSON str"),
    ('{"state": "finished", "started": "yesterday"}', "started is 'yesterday', not a number"),
    ('{"state": "finished", "model_config": [2]}', "model_config is [2], not dict"),
    ('{"state": "finished", "epoch": "2"}', "epoch is '2', not int"),
    ('{"state": "finished", "test_loss": true}', "test_loss is True, not a number"),
    ('{"state": "exploded"}', "state is 'exploded'"), ('{"state": "fini', "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "not JSON (nested too deeply)"),     # json's RecursionError crashed every page
    ('{"state": "finished", "model_config": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
], ids=["null", "list", "string", "string-started", "list-model-config", "string-epoch", "bool-loss",
        "unknown-state", "truncated", "deeply-nested", "deeply-nested-field"])
def test_a_malformed_status_is_listed_as_unreadable_with_the_reason(tmp_path, text, reason):
    good = tmp_path / "good"
    write_json_atomic(good / "status.json", {"state": "finished", "started": 5.0, "epoch": 1, "epochs": 1,
                                              "model_config": {"latent_dim": 2}, "test_loss": 150.0})
    (good / "checkpoint.pt").write_bytes(b"weights")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "status.json").write_text(text)
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"weights")
    listed = dict(list_runs(tmp_path))
    assert listed[good]["state"] == "finished"
    assert listed[tmp_path / "bad"]["state"] == "unreadable" and reason in listed[tmp_path / "bad"]["error"]
    assert [choice.path for choice in catalog.run_choices(tmp_path)] == [good / "checkpoint.pt"]
    assert active_run(tmp_path) is None


def test_a_status_of_undecodable_bytes_is_unreadable_and_no_run_holder(tmp_path):
    from vae.runfiles import holds_a_run

    (tmp_path / "status.json").write_bytes(b'{"state": "\xff\xfe finished"}')
    status = read_status(tmp_path)
    assert status["state"] == "unreadable" and "not JSON" in status["error"]
    (tmp_path / "status.json").write_text("[" * 100_000 + "]" * 100_000)
    assert not holds_a_run(tmp_path)


def test_malformed_metrics_rows_are_skipped(tmp_path):
    good = {"split": "train", "epoch": 1, "step": 1, "loss": 300.0, "recon": 290.0, "kl": 10.0, "seconds": 1.5}
    lines = [json.dumps(good), "[1, 2, 3]", "null", json.dumps({**good, "loss": "300"}),
             json.dumps({**good, "step": "2"}), json.dumps({**good, "step": 2, "kl": None}), json.dumps({"loss": 1.0})]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines + ['{"split": "tr', json.dumps({**good, "step": 3})]) + "\n")
    assert read_metrics(tmp_path) == [good, {**good, "step": 3}]      # a line that is not JSON, in the middle: passed over


def test_half_written_metrics_line_is_skipped(tmp_path):
    rows = [{"split": "train", "step": 1, "loss": 300.0}, {"split": "test", "step": 2, "loss": 200.0}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"split": "train", "st'
    (tmp_path / "metrics.jsonl").write_text(text)
    assert read_metrics(tmp_path) == rows
    assert read_metrics(tmp_path / "missing") == []


def test_the_divergence_rule_flags_exploded_runs_and_spares_untrained_or_poor_ones():
    from vae.runfiles import DIVERGED_NATS, divergence

    assert round(DIVERGED_NATS, 1) == 1086.9                              # twice 784 ln 2, a coin flip a pixel
    assert "131,725,170.7 nats" in divergence(131_067_969.1, 657_201.6, 1.0)    # lr 1, issue 19
    assert "116,900.1 nats" in divergence(116_675.7, 224.4, 1.0)               # lr 0.3
    assert "(reconstruction + 0 × KL)" in divergence(float("nan"), 0.0, 0.0)
    assert divergence(206.1, 5.4, 1.0) is None                                 # lr 0.05: poor, not diverged
    assert divergence(498.0, 0.1, 1.0) is None                                 # the worst untrained model measured
    assert divergence(100.0, 5_000.0, 0.0) is None                             # β = 0: the KL is free to grow


def test_a_recorded_run_is_judged_by_its_own_objective_at_its_own_beta(tmp_path):
    """run_divergence: status.json's test -ELBO settles a run whose β is at most 1 (or not recorded, or not a
    number: β = 1); above, the last test row's recon + β·KL does, and without test rows the -ELBO alone."""
    from vae.runfiles import run_divergence

    def judged(name, test_loss, train_config=None, rows=()):
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps({"split": "test", "step": 9, **row}) + "\n"
                                                       for row in rows))
        status = {"state": "finished", "test_loss": test_loss}
        return run_divergence(run_dir, status if train_config is None else {**status, "train_config": train_config})

    row = {"loss": 900.0, "recon": 500.0, "kl": 400.0}                 # -ELBO 900: recon 500 + KL 400
    for name, config in [("beta-1", {"beta": 1.0}), ("no-beta", {"lr": 0.1}), ("no-config", None),
                         ("beta-is-a-bool", {"beta": True}), ("beta-is-text", {"beta": "x"})]:
        assert judged(name, 900.0, config, [row]) is None, name         # 900 nats, under 1,086.9
    assert "(reconstruction + 2 × KL) is 1,300.0 nats" in judged("beta-2", 900.0, {"beta": 2.0}, [row])
    assert judged("beta-2-sound", 400.0, {"beta": 2.0}, [{"loss": 400.0, "recon": 300.0, "kl": 100.0}]) is None
    assert judged("beta-2-no-rows", 1000.0, {"beta": 2.0}) is None      # the -ELBO alone: 1,000 nats
    assert "test -ELBO is 1,100.0 nats" in judged("no-rows", 1100.0)
    assert "test -ELBO is 2,000.0 nats" in judged("row-without-recon", 2000.0, None, [{"loss": 2000.0}])
    assert judged("no-test-loss", None) is None and judged("test-loss-is-a-bool", True) is None


def test_stop_signals_the_lock_holder_not_the_pid_written_in_run_lock(tmp_path):
    """run.lock names another live process: Stop must find the holder from the kernel, not the file."""
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        write_json_atomic(tmp_path / "status.json", {"state": "running", "started": 1.0})
        (tmp_path / "run.lock").write_text(str(stranger.pid))             # no holder at all
        assert lock_holder(tmp_path, search=True) is None and not stop_run(tmp_path)
        with python(HOLD_LOCK, tmp_path) as holder:
            assert holder.stdout.readline() == "holding\n"
            (tmp_path / "run.lock").write_text(str(stranger.pid))         # the holder's file now lies
            assert lock_holder(tmp_path) == 0                             # held, and not by the one it names
            assert lock_holder(tmp_path, search=True) == holder.pid
            assert read_status(tmp_path)["state"] == "running"
            assert stop_run(tmp_path)
            assert holder.wait(30) == -signal.SIGTERM                     # the holder got the SIGTERM
            assert (tmp_path / "stop.requested").read_text() == str(holder.pid)
        assert stranger.poll() is None                                    # and the stranger nothing
    finally:
        stranger.kill()
    assert stranger.wait() == -signal.SIGKILL


def test_a_run_started_by_the_cli_beside_a_live_run_is_refused_naming_it(tmp_path, capsys):
    """The CLI into another folder of the runs root while a run trains there: refused, naming the live run."""
    from vae.cli import main

    with python(HOLD_LOCK, tmp_path / "dashboard-run") as holder:          # a run that trains (its lock held)
        assert holder.stdout.readline() == "holding\n"
        code = main(["train", "--run-dir", str(tmp_path / "cli-run"), "--epochs", "1", "--limit", "64",
                     "--device", "cpu"])
        err = capsys.readouterr().err
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
    assert code == 2 and "already going: dashboard-run" in err and f"pid {holder.pid}" in err, err
    assert not (tmp_path / "cli-run").exists()                             # nothing left behind


def test_the_dashboard_refuses_to_start_beside_a_run_the_cli_started(tmp_path):
    """A CLI run holds its lock before its status says "running" (it loads its data first): a start beside
    it sees the lock and is refused, leaving no folder behind."""
    with python(HOLD_LOCK, tmp_path / "cli-run") as holder:                # no status.json yet
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(RuntimeError, match="already going: cli-run"):
            start_run(tmp_path, ModelConfig(), LONG)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["cli-run"]


def test_a_process_is_alive_until_it_ends_and_a_zombie_is_not(tmp_path, monkeypatch):
    """pid_alive: where there is no flock (Windows), the pid in status.json is all that says a run lives."""
    assert pid_alive(os.getpid()) and pid_alive(1)
    assert not any(pid_alive(pid) for pid in (None, 0, -1, str(os.getpid()), float(os.getpid())))
    odd_name = tmp_path / "x) R"            # /proc/PID/stat says "PID (x) R) Z ...": the state follows the last ") "
    odd_name.symlink_to(shutil.which("true"))
    child = subprocess.Popen([str(odd_name)])
    if Path("/proc").is_dir():              # ended, not yet waited for: a zombie, which is not alive
        assert wait_until(lambda: Path(f"/proc/{child.pid}/stat").read_text().startswith(f"{child.pid} (x) R) Z"))
        assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)         # reaped: no such process
    monkeypatch.setattr(lifecycle, "PROC", tmp_path / "no-proc")
    assert pid_alive(os.getpid())           # no /proc to ask (macOS): a process that answers is alive

    def not_yours(pid, sig):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(lifecycle.os, "kill", not_yours)
    assert pid_alive(os.getpid() + 1)       # another user's process: it exists, we may not signal it


def test_a_run_writer_keeps_the_status_it_finds_beats_and_writes_one_row_a_line(tmp_path, monkeypatch):
    monkeypatch.setattr(runfiles, "HEARTBEAT_SECONDS", 0.01)
    run = tmp_path / "runs" / "a"                                  # folders made as needed
    writer = runfiles.RunWriter(run)
    writer.update_status(state="running", started=5.0)
    row = {"split": "train", "step": 1, "loss": 2.5}
    writer.metrics(row)
    first = read_recorded_status(run)
    assert isinstance(first["updated"], float) and first["heartbeat"] == first["updated"]
    assert wait_until(lambda: read_recorded_status(run)["heartbeat"] > first["heartbeat"], timeout=30)
    writer.close()
    assert (run / runfiles.METRICS).read_text() == json.dumps(row) + "\n"
    resumed = runfiles.RunWriter(run)                               # a resume goes on from the status it finds
    resumed.update_status(step=2)
    resumed.close()
    status = read_recorded_status(run)
    assert (status["state"], status["started"], status["step"]) == ("running", 5.0, 2)
    (run / runfiles.STATUS).write_text("[1, 2")                     # unreadable: not a status to go on from
    fresh = runfiles.RunWriter(run)
    fresh.update_status(state="failed")
    fresh.close()
    assert set(read_recorded_status(run)) == {"state", "updated", "heartbeat"}


def test_truncating_metrics_keeps_the_rows_up_to_the_checkpoint_one_a_line(tmp_path):
    rows = [{"split": "train", "step": s, "loss": 1.0 / s} for s in (1, 2, 3)] + [{"split": "test", "step": 2}]
    (tmp_path / runfiles.METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"split": "tr')
    kept = [rows[0], rows[1], rows[3]]
    assert runfiles.truncate_metrics(tmp_path, 2) == kept
    assert (tmp_path / runfiles.METRICS).read_text() == "".join(json.dumps(r) + "\n" for r in kept)


def test_a_folder_holds_a_run_once_it_has_outputs_or_a_final_state(tmp_path):
    def folder(name, **files):
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file.replace("_", ".")).write_text(text)
        return runfiles.holds_a_run(tmp_path / name)

    assert not folder("empty") and not folder("marked", status_json='{"state": "running"}')   # start_run's mark
    assert folder("metrics", metrics_jsonl="") and folder("checkpoint", checkpoint_pt="")
    assert folder("finished", status_json='{"state": "finished"}') and folder("not-ours", status_json="[1]")
    assert not folder("not-json", status_json="{")


def test_only_the_temporary_files_of_atomic_writes_are_removed(tmp_path):
    orphan, kept = tmp_path / ".status.json.x1y2.part", tmp_path / "checkpoint.pt"
    orphan.write_text("{")
    kept.write_text("")
    assert runfiles.remove_orphan_parts(tmp_path) == [orphan]
    assert not orphan.exists() and kept.exists()


def test_exactly_twice_the_coin_flips_loss_is_not_diverged():
    assert runfiles.divergence(runfiles.DIVERGED_NATS, 0.0, 1.0) is None
    assert runfiles.divergence(runfiles.DIVERGED_NATS + 0.5, 0.0, 1.0) is not None


def test_an_unreadable_status_says_why_in_at_most_300_characters(tmp_path):
    (tmp_path / "status.json").write_text("{")
    assert read_recorded_status(tmp_path) == {"state": "unreadable", "started": 0.0,
                                              "error": "status.json is not JSON (Expecting property name enclosed "
                                                       "in double quotes: line 1 column 2 (char 1))"}
    wrong = {field: "x" * 40 for field in ("error", "pid", "epoch", "step", "phase", "device", "command", "epochs")}
    (tmp_path / "status.json").write_text(json.dumps({"state": 5, **wrong}))
    status = read_recorded_status(tmp_path)
    assert (status["state"], status["started"]) == ("unreadable", 0.0) and len(status["error"]) == 13 + 300
    assert status["error"].startswith("status.json: state is 5, not str; pid is '" + "x" * 40 + "', not int; ")


@pytest.mark.parametrize("text, pid", [("1", 1), ("4242\n", 4242), ("0", None), ("-5", None), ("abc", None), ("", None)])
def test_a_pid_file_gives_a_positive_pid_or_none(tmp_path, text, pid):
    (tmp_path / "run.lock").write_text(text)
    assert runfiles.read_pid(tmp_path / "run.lock") == pid
