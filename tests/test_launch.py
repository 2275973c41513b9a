"""app_pages.launch: the training form's values to checked configs."""
import pytest

from app_pages.launch import available_devices, configs_from_form

FORM = dict(epochs=2, latent_dim=2, batch_size=128, lr=1e-3, seed=0, device="cpu", limit=0)


def test_form_builds_the_configs_the_cli_takes():
    model_cfg, train_cfg = configs_from_form(**{**FORM, "epochs": 10, "latent_dim": 4, "arch": "conv"})
    assert (model_cfg.latent_dim, model_cfg.arch) == (4, "conv")
    assert (train_cfg.epochs, train_cfg.batch_size, train_cfg.lr, train_cfg.device) == (10, 128, 1e-3, "cpu")
    assert train_cfg.log_every == 20                                  # the default for full-size runs


def test_a_short_run_logs_often_enough_to_draw_a_curve():
    _, train_cfg = configs_from_form(**{**FORM, "epochs": 1, "limit": 2000, "batch_size": 64})   # 32 steps
    assert train_cfg.log_every == 1


@pytest.mark.parametrize("change, words", [
    pytest.param({"lr": 0.0}, "learning rate", id="zero-lr"),
    pytest.param({"limit": 70_000}, "subset", id="subset-too-big"),
    pytest.param({"latent_dim": 1}, "at least 2", id="one-latent-dim"),
    pytest.param({"device": "tpu"}, "not available", id="unknown-device"),
    pytest.param({"batch_size": 0}, "batch_size", id="zero-batch"),
])
def test_bad_form_values_are_refused_in_words(change, words):
    with pytest.raises(ValueError, match=words):
        configs_from_form(**{**FORM, **change})


def test_cuda_is_offered_only_when_present(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert "cuda" not in available_devices() and available_devices()[:2] == ["auto", "cpu"]
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert "cuda" in available_devices()
