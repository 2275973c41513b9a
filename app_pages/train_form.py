"""The training form, read from vae.options: which widget each config field gets, with the table's bounds,
and the form's values turned into the two config dataclasses the CLI takes. Also how the Train page
words a run's progress."""
from __future__ import annotations

import math
import time
from dataclasses import fields

from app_pages.i18n import _, said
from vae.model import ModelConfig
from vae.options import OPTIONS
from vae.runfiles import epoch_of_step
from vae.train import TrainConfig, available_devices   # what the device menu offers

MNIST_TRAIN_IMAGES = 60_000
CHART_POINTS = 60            # short runs log more often so the live chart still draws a curve
# The fields shown outside "Advanced", in this order (three columns, filled down). Any other config field
# with an entry in vae.options.OPTIONS appears under Advanced by itself; name it here to bring it up front.
BASIC = ("dataset", "epochs", "latent_dim", "arch", "batch_size", "lr", "seed", "device", "limit")
# Number fields' arrows and display (bounds and labels come from vae.options).
STEPS = {"lr": (1e-4, "%.5f"), "weight_decay": (1e-4, "%.5f"), "beta": (0.1, "%.2f"),
         "kl_warmup_epochs": (0.5, "%.1f"), "grad_clip": (0.5, "%.2f"), "limit": (1000, None)}
AUTOMATIC = ("log_every",)   # left empty, the form picks the value (see configs_from_form)


def config_fields() -> list[tuple[str, object]]:
    """(name, default) of every field of ModelConfig and TrainConfig that the table describes."""
    return [(f.name, f.default) for cls in (ModelConfig, TrainConfig) for f in fields(cls) if f.name in OPTIONS]


def advanced_fields() -> list[str]:
    return [name for name, _ in config_fields() if name not in BASIC]


def widget(name: str) -> dict:
    """What the form draws for one field: {"kind": "select", "options", ...} or {"kind": "number",
    "min_value", "max_value", "step", "format", ...}, with its label, help and default. The bounds are
    the table's: the widget accepts what the config accepts (an open bound, lr > 0, is left to the config).
    Its words are the table's, in the session's language (app_pages.i18n.extract_options puts them in the catalog)."""
    option, default = OPTIONS[name], dict(config_fields())[name]
    spec = {"label": _(option.label), "help": _(option.help), "value": default}
    if option.choices:
        choices = available_devices() if name == "device" else list(option.choices)
        return {**spec, "kind": "select", "options": choices, "index": choices.index(default)}
    integer = isinstance(default, int)
    cast = int if integer else float
    step, fmt = STEPS.get(name, (1 if integer else 0.1, None))
    spec.update(kind="number", min_value=None if option.low is None else cast(option.low),
                max_value=None if option.high is None else cast(option.high), step=cast(step))
    if fmt:
        spec["format"] = fmt
    if name in AUTOMATIC:
        spec.update(value=None, placeholder=_("automatic"),
                    help=_("{help} (empty: about 60 points per run)").format(help=_(option.help)))
    return spec


def configs_from_form(values: dict) -> tuple[ModelConfig, TrainConfig]:
    """Build and check the configs from the form's {field: value}; raises ValueError with the table's words,
    or vae.memory's refusal when the run cannot fit in memory. Fields left out take their defaults; an empty
    log interval is chosen so a short run still draws a curve."""
    model_cfg, train_cfg = _configs(values)
    memory = memory_needed(model_cfg, train_cfg)
    if memory.refusal:
        raise ValueError(memory.refusal)
    return model_cfg, train_cfg


def memory_caption(values: dict) -> str:
    """The line under the form's options: vae.memory's estimate of the run's peak memory for the form's
    values (memory_needed's note), or why there is none."""
    try:
        model_cfg, train_cfg = _configs(values)
    except ValueError as exc:
        return _("No memory estimate: {error}").format(error=said(exc))
    memory = memory_needed(model_cfg, train_cfg)
    return _("{note} More than is free: Start will refuse it.").format(note=memory.note) if memory.refusal else memory.note


def _configs(values: dict) -> tuple[ModelConfig, TrainConfig]:
    device = values.get("device", "auto")
    if device not in available_devices():
        raise ValueError(_("Device {device} is not available here; choose one of {devices}.").format(
            device=repr(device), devices=available_devices()))
    values = {name: value for name, value in values.items() if value is not None}
    model_cfg = ModelConfig(**{f.name: values[f.name] for f in fields(ModelConfig) if f.name in values})
    train_values = {f.name: values[f.name] for f in fields(TrainConfig) if f.name in values}
    if "log_every" not in train_values:
        probe = TrainConfig(**train_values)          # checks the values before they are used
        images = min(probe.limit or MNIST_TRAIN_IMAGES, MNIST_TRAIN_IMAGES)
        steps = probe.epochs * math.ceil(images / probe.batch_size)
        train_values["log_every"] = max(1, min(TrainConfig.log_every, steps // CHART_POINTS))
    return model_cfg, TrainConfig(**train_values)


def memory_needed(model_cfg: ModelConfig, train_cfg: TrainConfig):
    """The run's estimated peak memory (vae.memory) against what its device has free: .estimate, .available,
    .note (one line for the form) and .refusal (why it cannot start, or None)."""
    from types import SimpleNamespace

    from vae.memory import available_memory, estimate_training_memory, memory_refusal, size_text
    from vae.train import resolve_device

    estimate = estimate_training_memory(model_cfg, train_cfg)
    available = available_memory(resolve_device(train_cfg.device))
    note = (_("Training this needs about {size} of memory ({free} free).").format(
                size=size_text(estimate.total), free=size_text(available)) if available is not None else
            _("Training this needs about {size} of memory.").format(size=size_text(estimate.total)))
    return SimpleNamespace(estimate=estimate, available=available, note=note,
                           refusal=memory_refusal(estimate, available))


# Progress --------------------------------------------------------------------------------------------

def starting(status: dict) -> str | None:
    """What a run that has not begun its steps is doing, or None once it trains."""
    if status.get("state") != "running" or status.get("total_steps"):
        return None
    if status.get("phase") == "loading data":
        return _("Starting: loading data…")
    return _("Starting: launching the training process…")


def time_left(seconds: float) -> str:
    """Rounded as a person would say it: 7 s, 25 s (to 5 s), 3 min (to a minute), 1 h 20 min."""
    if seconds < 10:
        return _("{seconds} s").format(seconds=max(1, math.ceil(seconds)))
    if seconds < 90:
        return _("{seconds} s").format(seconds=f"{5 * round(seconds / 5):.0f}")
    if seconds < 3600:
        return _("{minutes} min").format(minutes=f"{round(seconds / 60):.0f}")
    return _("{hours} h {minutes} min").format(hours=int(seconds // 3600), minutes=f"{round(seconds % 3600 / 60):.0f}")


def count(value) -> str:
    """A count read from status.json, for Markdown (the progress bar's text is): a number, or whatever
    else a hand-edited file holds, escaped."""
    if isinstance(value, (int, float)):
        return f"{value}"
    from app_pages.common import escape_markdown

    return escape_markdown(value)


def position(status: dict, step: int | None = None) -> str:
    """'epoch 2/5 · step 300/750': the global step `step` (the run's last by default) and the epoch it
    belongs to (vae.runfiles.epoch_of_step), in the same words while the run trains and once it ended.
    Without the run's length yet, the whole epochs done that status.json counts."""
    step = status.get("step") if step is None else step
    epoch = epoch_of_step(status, step)
    epoch = count(status.get("epoch", 0)) if epoch is None else epoch
    return _("epoch {epoch}/{epochs} · step {step}/{steps}").format(
        epoch=epoch, epochs=count(status.get("epochs", "?")), step=count(step or 0), steps=status.get("total_steps") or "?")


def progress_text(status: dict, now: float | None = None) -> str:
    """'epoch 2/5 · step 300/750 · 4,100 images/s · about 25 s left' (position), counting down between the
    run's status updates (from its expected finish), and 'finishing…' once only the last test pass is left."""
    waiting = starting(status)
    if waiting:
        return waiting
    text = position(status)
    if status.get("images_per_sec"):
        text += " · " + _("{rate} images/s").format(rate=f"{status['images_per_sec']:,.0f}")
    if status.get("state") != "running":
        return text
    now = time.time() if now is None else now
    left = (status["finishes_at"] - now if status.get("finishes_at") is not None
            else status.get("eta_seconds"))
    if left is None:
        return text
    return text + " · " + (_("about {time} left").format(time=time_left(left)) if left >= 0.5 else _("finishing…"))
