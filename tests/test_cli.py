"""`python -m vae`: run in process through vae.cli.main(argv), except where a real signal is the point."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae import load_checkpoint
from vae.checkpoint import read_checkpoint
from vae.cli import main
from vae.lifecycle import read_status
from vae.runfiles import read_metrics, write_json_atomic

from helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
TRAIN_ROW = {"split", "epoch", "step", "loss", "recon", "kl", "seconds"}
STATUS = {"state", "epoch", "step", "total_steps", "images_per_sec", "eta_seconds", "pid", "error"}
# Three two-step epochs on 128 images: a whole run in a couple of seconds.
SHORT = ["--epochs", 3, "--limit", 128, "--batch-size", 64, "--log-every", 1, "--device", "cpu"]


@pytest.fixture
def vae_cli(capsys):
    """vae_cli(*args) -> (exit code, stdout, stderr) of `python -m vae *args`, run in this process."""
    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_train_then_evaluate_end_to_end(tmp_path, vae_cli):
    run = tmp_path / "run"
    code, out, err = vae_cli("train", "--run-dir", run, "--epochs", 2, "--limit", 1500, "--device", "cpu",
                             "--log-every", 4, "--grad-clip", 0.5)
    assert code == 0, err
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
    assert meta["train_config"]["grad_clip"] == 0.5                  # the flag reaches the trainer's config
    assert json.loads(out.strip().splitlines()[-1])["state"] == "finished"

    code, out, err = vae_cli("evaluate", run / "checkpoint.pt", "--limit", 500)
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) >= {"neg_elbo", "recon", "kl"} and result["images"] == 500
    assert result["neg_elbo"] == pytest.approx(result["recon"] + result["kl"])

    code, _, err = vae_cli("train", "--run-dir", run, "--epochs", 1)
    assert code == 2 and "--resume" in err


@pytest.mark.parametrize("leftover", ["metrics", "checkpoint", "finished-status"])
def test_a_fresh_start_refuses_a_folder_that_holds_a_run(tmp_path, vae_cli, leftover):
    run = tmp_path / "run"
    run.mkdir()
    if leftover == "metrics":              # a run killed before its first checkpoint
        (run / "metrics.jsonl").write_text(json.dumps({"split": "train", "step": 1, "loss": 200.0}) + "\n")
    elif leftover == "checkpoint":
        (run / "checkpoint.pt").write_bytes(b"weights")
    else:
        write_json_atomic(run / "status.json", {"state": "finished", "step": 10})
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, _, err = vae_cli("train", "--run-dir", run, *SHORT)
    assert code == 2 and "already holds a run" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != "run.lock"} == before


def test_sigterm_stops_with_a_checkpoint_and_resume_is_exact(tmp_path, vae_cli):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "vae", "train", "--run-dir", str(run), *map(str, SHORT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Once the status names this process, its SIGTERM handler is in place: it ends the first step and saves.
    wait_until(lambda: (read_status(run) or {}).get("pid") == proc.pid, every=0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    status = read_status(run)
    assert status["state"] == "stopped" and 1 <= status["step"] < status["total_steps"] == 6
    meta = read_checkpoint(run / "checkpoint.pt")["meta"]
    assert meta["step"] == status["step"] and meta["test_metrics"] is None       # stopped before its first test row
    (run / ".checkpoint.pt.x1y2z3.part").write_bytes(b"left by a kill during a write")

    code, _, err = vae_cli("train", "--run-dir", run, "--resume", "--device", "cpu")
    assert code == 0, err
    status = read_status(run)
    assert status["state"] == "finished" and status["step"] == status["total_steps"] == 6
    assert not list(run.glob("*.part"))
    rows = [r for r in read_metrics(run) if r["split"] == "train"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["seconds"] for r in rows] == sorted(r["seconds"] for r in rows)

    code, _, err = vae_cli("train", "--run-dir", tmp_path / "uninterrupted", *SHORT)
    assert code == 0, err
    resumed = read_checkpoint(run / "checkpoint.pt")["model_state"]
    for name, tensor in read_checkpoint(tmp_path / "uninterrupted" / "checkpoint.pt")["model_state"].items():
        assert torch.equal(resumed[name], tensor), name


def test_bad_arguments_get_a_clear_message(tmp_path, vae_cli):
    code, _, err = vae_cli("train", "--run-dir", tmp_path / "r", "--epochs", 0)
    assert code == 2 and "Epochs (--epochs) must be between 1 and 1000, got 0" in err
    assert not (tmp_path / "r").exists()                  # refused before any folder was made
    code, _, err = vae_cli("evaluate", tmp_path / "nothing.pt")
    assert code == 2 and "nothing.pt" in err and "Traceback" not in err
    for name, content in [("text.pt", b"not a classifier"), ("foreign.pt", None)]:
        if content is None:
            torch.save({"format": "vae-latent-explorer/classifier", "weights": {}}, tmp_path / name)
        else:
            (tmp_path / name).write_bytes(content)
        code, _, err = vae_cli("evaluate", ROOT / "checkpoints" / "mnist-2d.pt", "--limit", 10, "--knn-k", 0,
                               "--classifier", tmp_path / name)
        assert code == 2 and (f"{name}: not a" in err or f"{name}: the classifier" in err), err


def test_evaluate_prints_strict_json_when_a_figure_overflows(tmp_path, vae_cli):
    """Finite weights whose codes overflow float32: the -ELBO is not a number. The last line stays JSON that
    a strict reader accepts (json.dumps wrote NaN, and the dashboard's JavaScript threw a SyntaxError)."""
    from vae.checkpoint import read_checkpoint, save_checkpoint

    model, meta = load_checkpoint(ROOT / "checkpoints" / "mnist-2d.pt")
    with torch.no_grad():
        model.encoder[-1].weight.mul_(1e30)                     # codes near 1e30: their square is inf
    save_checkpoint(tmp_path / "huge.pt", model, meta)
    assert read_checkpoint(tmp_path / "huge.pt")             # finite weights: a checkpoint that loads
    code, out, err = vae_cli("evaluate", tmp_path / "huge.pt", "--limit", 20, "--knn-k", 0, "--device", "cpu")
    assert code == 0, err

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    result = json.loads(out.strip().splitlines()[-1], parse_constant=refuse)
    assert result["neg_elbo"] is None and result["images"] == 20
    assert "warning: neg_elbo is" in err and "printed as null" in err


@pytest.mark.parametrize("args, message", [
    (["evaluate", "m.pt", "--knn-k", "-1"], "argument --knn-k: must be at least 0, got -1"),
    (["evaluate", "m.pt", "--limit", "-5"], "argument --limit: must be at least 0, got -5"),
    (["evaluate", "m.pt", "--iwae-k", "two"], "argument --iwae-k: must be a whole number, got 'two'"),
    (["evaluate", "m.pt", "--device", "bogus"],
     "argument --device: Device (--device) must be one of auto, cpu, cuda, mps, got 'bogus'"),
    (["train-classifier", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "--run-dir", "{file}"], "argument --run-dir: {file} is a file, not a folder"),
    (["train", "--run-dir", "{file}/run"], "argument --run-dir: {file} is a file, not a folder"),
], ids=["knn-k", "limit", "iwae-k", "device", "classifier-epochs", "run-dir-file", "run-dir-under-a-file"])
def test_bad_flags_are_refused_by_argparse_naming_the_flag(tmp_path, capsys, args, message):
    """Issue 19 item 10: these reached torch or the file system, and said `[Errno 17] File exists`,
    `selected index k out of range`, torch's list of backends, `Expected positive integer total_steps`, or
    nothing at all (--limit -5 evaluated 9,995 images)."""
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{file}", str(tmp_path / "a-file")) for a in args]
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(message.replace("{file}", str(tmp_path / "a-file"))), err


def test_main_leaves_the_signal_handlers_as_it_found_them(tmp_path, vae_cli):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    code, _, err = vae_cli("train", "--run-dir", tmp_path / "r", "--epochs", 1, "--limit", 64, "--device", "cpu")
    assert code == 0, err
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_training_error_keeps_its_traceback_and_states_one_line(tmp_path, vae_cli, monkeypatch):
    from vae.train import Trainer

    def fail(self, should_stop):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nsecond line of the message")

    monkeypatch.setattr(Trainer, "run", fail)
    code, _, err = vae_cli("train", "--run-dir", tmp_path / "r", "--epochs", 1, "--limit", 64, "--device", "cpu")
    assert code == 2
    assert "Traceback (most recent call last)" in err and "second line of the message" in err
    status = read_status(tmp_path / "r")
    assert status["state"] == "failed"
    assert status["error"] == "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"


def test_a_diverged_run_fails_naming_the_step_and_keeps_its_last_finite_checkpoint(tmp_path, vae_cli, monkeypatch):
    import vae.train

    calls, elbo = [], vae.train.negative_elbo

    def nan_from_step_4(*args, **kwargs):                # planted: the bounded log-variance keeps real runs finite
        calls.append(1)
        loss, recon, kl = elbo(*args, **kwargs)
        return (loss * float("nan"), recon * float("nan"), kl) if len(calls) >= 4 else (loss, recon, kl)

    monkeypatch.setattr(vae.train, "negative_elbo", nan_from_step_4)
    run = tmp_path / "runs" / "diverged"
    code, _, err = vae_cli("train", "--run-dir", run, *SHORT)
    assert code == 2 and "lower learning rate" in err
    status = read_status(run)
    assert status["state"] == "failed" and "loss became nan at step 4 (epoch 2)" in status["error"]
    payload = read_checkpoint(run / "checkpoint.pt")                # epoch 1's, untouched by the broken step
    assert payload["meta"]["step"] == 2
    assert all(torch.isfinite(t).all() for t in payload["model_state"].values())
    assert all(r["loss"] == r["loss"] for r in read_metrics(run))   # no NaN row (failed: not in the menu, test_catalog)


def test_an_exploded_but_finite_run_ends_failed_with_its_reason_and_is_not_offered(tmp_path, vae_cli):
    """Issue 19: `--lr 1 --limit 4096 --epochs 2` ended "finished" at 131,725,273.8 nats, offered in the menu
    (the menu offers no failed run: test_catalog)."""
    run = tmp_path / "runs" / "lr1"
    code, out, err = vae_cli("train", "--run-dir", run, "--lr", 1, "--limit", 1024, "--epochs", 2, "--device", "cpu")
    assert code == 2 and "error: training diverged: its test -ELBO is" in err
    status = read_status(run)
    assert status["state"] == "failed"
    assert status["error"].startswith("TrainingDiverged: training diverged: its test -ELBO is")
    assert "than twice that of a model that learned nothing (543.4" in status["error"]
    assert not (run / "checkpoint.pt").exists()


def test_a_one_dimensional_latent_space_is_refused_before_anything_is_written(tmp_path, vae_cli):
    code, _, err = vae_cli("train", "--run-dir", tmp_path / "r", "--latent-dim", 1, "--epochs", 1, "--limit", 64)
    assert code == 2 and "Latent size (--latent-dim) must be between 2 and 64, got 1" in err and "plane" in err
    assert not (tmp_path / "r").exists()


def test_resume_refuses_by_name_each_flag_that_would_change_the_run(tmp_path, vae_cli):
    """Issue 19: a finished run "resumed" with --epochs 4 --lr 0.5 exited 0, trained nothing and kept its lr."""
    run = tmp_path / "run"
    code, _, err = vae_cli("train", "--run-dir", run, *SHORT)
    assert code == 0, err
    before = (read_status(run), (run / "checkpoint.pt").read_bytes())
    code, _, err = vae_cli("train", "--run-dir", run, "--resume", "--epochs", 4, "--lr", 0.5, "--arch", "conv",
                           "--device", "cpu")
    assert code == 2
    assert "--lr cannot change on --resume (the run trains with 0.002)" in err
    assert "--arch cannot change on --resume (the run trains with 'mlp')" in err
    assert "--epochs" not in err and "--device" not in err          # those two may change
    assert (read_status(run), (run / "checkpoint.pt").read_bytes()) == before
    code, _, err = vae_cli("train", "--run-dir", run, "--resume", "--epochs", 2)
    assert code == 2 and "--epochs 2 is fewer than the run has trained (3 epochs); give at least 3" in err
    assert (read_status(run), (run / "checkpoint.pt").read_bytes()) == before


def test_resume_with_more_epochs_extends_a_finished_run_on_the_longer_schedule(tmp_path, vae_cli):
    run, longer = tmp_path / "run", ["--epochs", 4, *SHORT[2:]]
    code, _, err = vae_cli("train", "--run-dir", run, *SHORT)
    assert code == 0, err
    code, _, err = vae_cli("train", "--run-dir", run, "--resume", "--epochs", 4, "--lr", 0.002, "--device", "cpu")
    assert code == 0, err                        # a flag equal to the run's own value is no change
    status = read_status(run)
    assert status["state"] == "finished" and status["step"] == status["total_steps"] == 8
    assert status["epochs"] == read_checkpoint(run / "checkpoint.pt")["meta"]["train_config"]["epochs"] == 4
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows if r["split"] == "test"] == [1, 2, 3, 4]
    code, _, err = vae_cli("train", "--run-dir", tmp_path / "four", *longer)
    assert code == 0, err
    # after the extension the learning rate is the one a 4-epoch run has at those steps (the cosine laid over 8)
    lr = lambda rows: [r["lr"] for r in rows if r["split"] == "train" and r["step"] > 6]  # noqa: E731
    assert lr(rows) == pytest.approx(lr(read_metrics(tmp_path / "four"))) and lr(rows)[0] > 1e-4


def test_the_data_roots_help_names_the_real_default(monkeypatch):
    """`python -m vae data --help` names the folder vae.data.default_root uses (the project's data/, whatever
    the working folder), not "./data"."""
    import argparse

    from vae.cli import build_parser
    from vae.data import default_root

    monkeypatch.delenv("VAE_DATA_ROOT", raising=False)
    monkeypatch.setenv("COLUMNS", "400")                # one line per option: the path is not wrapped
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["data"].format_help()
    assert f"(default: $VAE_DATA_ROOT, else the project's {default_root()})" in text and "./data" not in text


def test_evaluate_prints_the_latent_metrics_of_vae_evaluate(vae_cli, monkeypatch, mnist_train, mnist_test):
    """The kNN accuracy and the class agreement that `evaluate` prints are vae.evaluate.latent_metrics' (the
    Runs page's), called once with the CLI's k and the shipped classifier, not a second computation."""
    import vae.evaluate
    from vae.classifier import classifier_path, load_classifier, predict

    calls = []

    def recorded(*args, **kwargs):
        calls.append(kwargs["knn_k"])
        return latent_metrics(*args, **kwargs)

    latent_metrics = vae.evaluate.latent_metrics
    monkeypatch.setattr(vae.evaluate, "latent_metrics", recorded)
    checkpoint = ROOT / "checkpoints" / "mnist-2d.pt"
    code, out, err = vae_cli("evaluate", checkpoint, "--limit", 300, "--knn-k", 3, "--device", "cpu")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert calls == [3]

    model, _ = load_checkpoint(checkpoint)
    reader, _ = load_classifier(classifier_path("mnist"))
    images, labels = mnist_test[0][:300], mnist_test[1][:300]
    expected = latent_metrics(model, images, labels, train=mnist_train, knn_k=3, classify=lambda x: predict(reader, x))
    assert set(expected) == {"knn_accuracy", "knn_k", "class_agreement"}
    assert {name: result[name] for name in expected} == expected
