"""vae.session: a training session called with the config dataclasses, no argparse (the CLI parses and calls it)."""
import pytest

from vae import ModelConfig, TrainConfig
from vae.lifecycle import read_status
from vae.session import train_run

TINY = dict(epochs=1, limit=64, batch_size=32, device="cpu")


def test_a_session_trains_from_the_configs_and_resumes_on_the_runs_own(tmp_path):
    run = tmp_path / "run"
    result = train_run(run, ModelConfig(hidden=32), TrainConfig(**TINY))
    assert result["state"] == "finished" and result["run_dir"] == str(run) and result["neg_elbo"] > 0
    assert read_status(run)["model_config"]["hidden"] == 32
    # resuming, the configs given are the run's unless `asked` names a field: here nothing changes but the epochs
    result = train_run(run, ModelConfig(), TrainConfig(**{**TINY, "epochs": 2}), resume=True, asked={"epochs"})
    status = read_status(run)
    assert result["state"] == "finished" and status["step"] == status["total_steps"] == 4
    assert status["model_config"]["hidden"] == 32
    with pytest.raises(ValueError, match=r"--hidden cannot change on --resume \(the run trains with 32\)"):
        train_run(run, ModelConfig(), TrainConfig(**TINY), resume=True, asked={"hidden"})


def stopped_mid_epoch(run_dir, monkeypatch) -> list[dict]:
    """Train 3 epochs of 5 steps (160 images in batches of 32), a status at every step, stopped by a SIGTERM
    (the dashboard's Stop) sent during step 7: the run ends after step 8, in epoch 2. Every status the run
    wrote, in order."""
    import os
    import signal
    import threading

    from vae.runfiles import RunWriter

    written, write = [], RunWriter.update_status

    def recording(writer, **fields):
        write(writer, **fields)
        written.append(dict(writer.status))
        training_thread = threading.current_thread() is threading.main_thread()    # not the heartbeat
        if training_thread and fields.get("step") == 7 and writer.status["state"] == "running":
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(RunWriter, "update_status", recording)
    result = train_run(run_dir, ModelConfig(hidden=32), TrainConfig(epochs=3, limit=160, batch_size=32, log_every=1,
                                                                     device="cpu"))
    monkeypatch.setattr(RunWriter, "update_status", write)
    assert result["state"] == "stopped"
    return written


def test_status_counts_whole_epochs_at_the_global_step_while_running_and_once_stopped(tmp_path, monkeypatch):
    """Issue 16: one run read "epoch 1/2 · step 45" while running and "epoch 0/2 · step 55" once stopped:
    status.json's "epoch" was the epoch in progress at each step and the epochs done at an epoch's end and
    the run's. Now it is whole epochs done in every status, and epoch_of_step the epoch a step is in."""
    from vae.runfiles import epoch_of_step

    written = [s for s in stopped_mid_epoch(tmp_path / "run", monkeypatch) if s.get("total_steps")]
    last = read_status(tmp_path / "run")
    assert (last["state"], last["step"], last["checkpoint_step"], last["total_steps"]) == ("stopped", 8, 8, 15)
    for status in written + [last]:
        assert status["epoch"] == status["step"] // 5, status                  # 5 steps an epoch
    steps = sorted({s["step"] for s in written})
    assert steps == list(range(9))
    assert [epoch_of_step(last, step) for step in steps] == [1, 1, 1, 1, 1, 1, 2, 2, 2]
    assert epoch_of_step(last) == 2 and epoch_of_step({**last, "total_steps": None}) is None



def test_the_epoch_of_a_step_in_runs_of_one_epoch_or_of_one_step_an_epoch():
    from vae.runfiles import epoch_of_step

    assert [epoch_of_step({"total_steps": 10, "epochs": 1}, step) for step in (0, 1, 10)] == [1, 1, 1]
    assert [epoch_of_step({"total_steps": 3, "epochs": 3}, step) for step in (1, 2, 3)] == [1, 2, 3]
    assert epoch_of_step({"step": 4, "total_steps": 10, "epochs": 0}) is None          # not a run's length
