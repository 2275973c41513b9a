"""app_pages.train_form: the training form read from vae.options, its values to checked configs, and the words
the Train page uses for a run's progress."""
import pytest

from app_pages import train_form
from app_pages.train_form import available_devices, configs_from_form, progress_text, time_left
from vae import ModelConfig
from vae.options import OPTIONS, refusal

FORM = dict(epochs=2, latent_dim=2, batch_size=128, lr=1e-3, seed=0, device="cpu", limit=0)


def test_form_builds_the_configs_the_cli_takes():
    model_cfg, train_cfg = configs_from_form({**FORM, "epochs": 10, "latent_dim": 4, "arch": "conv", "hidden": 64,
                                              "channels": 8, "activation": "elu", "beta": 4.0, "log_every": 7})
    assert model_cfg == ModelConfig(latent_dim=4, arch="conv", hidden=64, channels=8, activation="elu")
    assert (train_cfg.epochs, train_cfg.batch_size, train_cfg.lr, train_cfg.device) == (10, 128, 1e-3, "cpu")
    assert (train_cfg.beta, train_cfg.log_every) == (4.0, 7)


def test_an_empty_log_interval_is_chosen_to_draw_a_curve():
    assert configs_from_form({**FORM, "epochs": 20, "log_every": None})[1].log_every == 20    # long runs: the default
    _, train_cfg = configs_from_form({**FORM, "epochs": 1, "limit": 2000, "batch_size": 64})   # 32 steps
    assert train_cfg.log_every == 1


def test_every_config_field_gets_a_widget_with_the_tables_bounds():
    names = [name for name, _ in train_form.config_fields()]
    assert set(names) == set(OPTIONS) and set(train_form.BASIC) | set(train_form.advanced_fields()) == set(names)
    for name in names:
        spec, option = train_form.widget(name), OPTIONS[name]
        assert spec["label"] == option.label and spec["help"].startswith(option.help)
        if spec["kind"] == "number":
            for bound in (spec["min_value"], spec["max_value"]):       # what the widget allows, the config takes
                if bound is not None and not (bound == option.low and option.low_open):
                    assert refusal(name, bound) is None, name
        else:
            assert set(spec["options"]) <= set(option.choices) and spec["options"][spec["index"]] == spec["value"]


@pytest.mark.parametrize("change, words", [
    pytest.param({"lr": 0.0}, r"Learning rate \(--lr\) must be greater than 0 and at most 1, got 0.0", id="zero-lr"),
    pytest.param({"limit": 70_000}, r"Training subset \(--limit\) must be between 0 and 60000", id="subset-too-big"),
    pytest.param({"latent_dim": 1}, r"\(--latent-dim\) must be between 2 and 64, got 1: .*plane", id="one-latent-dim"),
    pytest.param({"device": "tpu"}, "not available", id="unknown-device"),
    pytest.param({"batch_size": 0}, r"Batch size \(--batch-size\)", id="zero-batch"),
])
def test_bad_form_values_are_refused_in_the_tables_words(change, words):
    with pytest.raises(ValueError, match=words):
        configs_from_form({**FORM, **change})


def test_cuda_is_offered_only_when_present(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert "cuda" not in available_devices() and available_devices()[:2] == ["auto", "cpu"]
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert "cuda" in available_devices()


RUNNING = {"state": "running", "epoch": 1, "epochs": 3, "step": 40, "total_steps": 120, "images_per_sec": 5120.4}


@pytest.mark.parametrize("status, text", [
    ({"state": "running", "phase": "starting"}, "Starting: launching the training process…"),
    ({"state": "running"}, "Starting: launching the training process…"),
    ({"state": "running", "phase": "loading data", "epoch": 0, "epochs": 3, "step": 0}, "Starting: loading data…"),
    ({**RUNNING, "finishes_at": 1018.0}, "epoch 1/3 · step 40/120 · 5,120 images/s · about 20 s left"),
    ({**RUNNING, "finishes_at": 999.8}, "epoch 1/3 · step 40/120 · 5,120 images/s · finishing…"),
    ({**RUNNING, "eta_seconds": 200.0}, "epoch 1/3 · step 40/120 · 5,120 images/s · about 3 min left"),
    ({**RUNNING, "state": "finished", "epoch": 3, "step": 120, "finishes_at": None},
     "epoch 3/3 · step 120/120 · 5,120 images/s"),
    # 40 steps an epoch: step 55 is in epoch 2, one whole epoch done (issue 16: it read "epoch 1/3" once stopped)
    ({**RUNNING, "state": "stopped", "epoch": 1, "step": 55}, "epoch 2/3 · step 55/120 · 5,120 images/s"),
    ({**RUNNING, "epoch": 1, "step": 55}, "epoch 2/3 · step 55/120 · 5,120 images/s"),
    ({"state": "failed", "epoch": 0, "epochs": 3, "step": 0, "total_steps": None}, "epoch 0/3 · step 0/?"),
], ids=["starting", "no-phase-yet", "loading-data", "counting-down", "finishing", "old-status", "finished",
        "stopped-mid-epoch", "running-mid-epoch", "ended-before-training"])
def test_progress_is_worded_for_each_phase(status, text):
    assert progress_text(status, now=1000.0) == text


def test_time_left_counts_down_from_the_expected_finish_between_updates():
    status = {**RUNNING, "finishes_at": 1060.0, "eta_seconds": 60.0}
    assert [progress_text(status, now).split(" · ")[-1] for now in (1000.0, 1030.0, 1055.0)] == [
        "about 60 s left", "about 30 s left", "about 5 s left"]


@pytest.mark.parametrize("seconds, words", [(0.2, "1 s"), (7.2, "8 s"), (18.0, "20 s"), (89.0, "90 s"),
                                            (150.0, "2 min"), (4800.0, "1 h 20 min")])
def test_time_left_is_rounded_as_a_person_says_it(seconds, words):
    assert time_left(seconds) == words
