import json
import signal
import subprocess
import sys
import time

import pytest

from vae import load_checkpoint
from vae.runs import read_metrics, read_status

TRAIN_ROW = {"split", "epoch", "step", "loss", "recon", "kl", "seconds"}
STATUS = {"state", "epoch", "step", "total_steps", "images_per_sec", "eta_seconds", "pid", "error"}


def vae_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "vae", *map(str, args)], capture_output=True, text=True,
                          timeout=300, **kwargs)


def test_train_then_evaluate_end_to_end(tmp_path):
    run = tmp_path / "run"
    done = vae_cli("train", "--run-dir", run, "--epochs", 2, "--limit", 1500, "--device", "cpu", "--log-every", 4)
    assert done.returncode == 0, done.stderr
    rows = read_metrics(run)
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    assert all(TRAIN_ROW <= set(r) for r in rows)
    assert [r["epoch"] for r in test] == [1, 2] and test[1]["loss"] < test[0]["loss"]
    assert train[-1]["loss"] < train[0]["loss"]
    status = read_status(run)
    assert STATUS <= set(status) and status["state"] == "finished"
    assert status["step"] == status["total_steps"] == 2 * 12

    model, meta = load_checkpoint(run / "checkpoint.pt")
    assert meta["epoch"] == 2 and meta["test_metrics"]["neg_elbo"] == pytest.approx(test[1]["loss"])
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["state"] == "finished"

    ev = vae_cli("evaluate", run / "checkpoint.pt", "--limit", 500)
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    assert set(result) >= {"neg_elbo", "recon", "kl"} and result["images"] == 500
    assert result["neg_elbo"] == pytest.approx(result["recon"] + result["kl"])

    again = vae_cli("train", "--run-dir", run, "--epochs", 1)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_sigterm_stops_with_a_checkpoint_and_resume_finishes(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "vae", "train", "--run-dir", str(run), "--epochs", "30",
                             "--limit", "2000", "--device", "cpu", "--log-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((read_status(run) or {}).get("step") or 0) >= 3:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    status = read_status(run)
    assert status["state"] == "stopped" and 3 <= status["step"] < status["total_steps"]
    _, meta = load_checkpoint(run / "checkpoint.pt")
    assert meta["step"] == status["step"]

    resumed = vae_cli("train", "--run-dir", run, "--resume", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    status = read_status(run)
    assert status["state"] == "finished" and status["step"] == status["total_steps"] == 30 * 16
    steps = [r["step"] for r in read_metrics(run) if r["split"] == "train"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))


def test_bad_arguments_get_a_clear_message(tmp_path):
    done = vae_cli("train", "--run-dir", tmp_path / "r", "--epochs", 0)
    assert done.returncode == 2 and "epochs must be at least 1" in done.stderr
    done = vae_cli("evaluate", tmp_path / "nothing.pt")
    assert done.returncode == 2 and "nothing.pt" in done.stderr and "Traceback" not in done.stderr
