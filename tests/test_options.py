"""vae.options: one table of what each training option accepts, read by the configs, the CLI and the form."""
from dataclasses import fields, replace

import pytest
import torch

from vae import ModelConfig, TrainConfig
from vae.cli import build_parser
from vae.model import VAE
from vae.options import ACTIVATIONS, ARCHITECTURES, OPTIONS, PRECISIONS, SCHEDULES, Option, flag, refusal
from vae.train import Trainer, resolve_precision

CONFIGS = [ModelConfig(), TrainConfig()]
FIELDS = [(cfg, f.name) for cfg in CONFIGS for f in fields(cfg)]
NUMERIC = [(cfg, name) for cfg, name in FIELDS if name in OPTIONS and not OPTIONS[name].choices]


def test_every_config_field_has_an_option():
    missing = [name for _, name in FIELDS if name not in OPTIONS]
    assert not missing, f"add these config fields to vae.options.OPTIONS: {missing}"
    assert set(OPTIONS) == {name for _, name in FIELDS}


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_model_choice_the_table_offers_builds_a_model(arch, activation):
    model = VAE(ModelConfig(arch=arch, activation=activation, hidden=8, channels=2))
    assert model(torch.zeros(3, 1, 28, 28))[0].shape == (3, 1, 28, 28)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_training_choice_the_table_offers_trains(schedule, precision):
    images = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    config = TrainConfig(epochs=2, batch_size=16, lr_schedule=schedule, precision=precision, device="cpu")
    trainer = Trainer(VAE(ModelConfig(hidden=8)), config, images, images[:8])
    assert trainer.run() == "finished" and trainer.step == 4
    assert resolve_precision(precision, trainer.device) in ("float32", "bfloat16")


def nudge(value, option: Option, direction: int):
    """The nearest value past a bound: one for integers, a tiny relative step for floats."""
    if isinstance(value, int):
        return value + direction
    return value + direction * max(abs(value) * 1e-9, 1e-12)


@pytest.mark.parametrize("config, name", NUMERIC, ids=[name for _, name in NUMERIC])
def test_each_bound_is_accepted_and_the_value_past_it_refused_in_the_tables_words(config, name):
    option, kind = OPTIONS[name], type(getattr(config, name))
    edges = [(option.low, -1), (option.high, +1)]
    for bound, direction in edges:
        if bound is None:
            continue
        bound = kind(bound)
        if bound == option.low and option.low_open:
            inside = nudge(bound, option, +1)
            replace(config, **{name: inside})                 # just above an open bound: accepted
            outside = bound                                   # the bound itself: refused
        else:
            replace(config, **{name: bound})                  # the bound itself: accepted
            outside = nudge(bound, option, direction)
        with pytest.raises(ValueError) as refused:
            replace(config, **{name: outside})
        assert str(refused.value) == refusal(name, outside)
        assert str(refused.value).startswith(f"{option.label} ({flag(name)}) must be ")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "2"], ids=["nan", "inf", "bool", "text"])
def test_what_is_not_a_finite_number_is_refused(value):
    with pytest.raises(ValueError, match=r"\(--beta\) must be between 0 and 1000"):
        TrainConfig(beta=value)


def test_a_cuda_device_may_carry_an_index_and_nothing_else_may():
    TrainConfig(device="cuda:1")
    for device in ("cpu:1", "cuda:", "cuda:x", "tpu"):
        with pytest.raises(ValueError, match=r"Device \(--device\) must be one of auto, cpu, cuda, mps"):
            TrainConfig(device=device)


def test_cli_help_gives_each_option_its_line():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    helps = {action.dest: action.help for action in train._actions}
    for name, option in OPTIONS.items():
        assert helps[name].startswith(option.help), name
        assert "\n" not in option.help and len(option.help) < 200, name
