"""vae.session: a training session called with the config dataclasses, no argparse (the CLI parses and calls it)."""
import pytest

from vae import ModelConfig, TrainConfig
from vae.runs import read_status
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
