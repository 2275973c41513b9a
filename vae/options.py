"""The training options: for each field of ModelConfig and TrainConfig, its label, one line of help
and the values it accepts. One table, read by the configs' own checks (`check`), by the CLI (flags and
--help) and by the dashboard's training form (widgets and their bounds), so that the three can never
disagree about what is allowed or say it differently.

A new config field gets its entry here; the CLI and the form pick it up from the table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .datasets import DATASETS
from .messages import N_, Message, say

# The choices, here only: the model, the trainer, the CLI and the form read them from these.
ARCHITECTURES = ("mlp", "conv")
ACTIVATIONS = ("relu", "elu", "gelu", "sigmoid", "tanh")
SCHEDULES = ("constant", "onecycle", "cosine")
PRECISIONS = ("auto", "float32", "bfloat16")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Option:
    label: str                      # what the form shows, and what a refusal calls the option
    help: str                       # one line, for `--help` and the form's tooltip
    low: float | None = None        # the least value accepted (None: no bound) ...
    low_open: bool = False          # ... or the bound itself refused: values must be greater than `low`
    high: float | None = None       # the greatest value accepted
    choices: tuple[str, ...] = ()   # a choice among these (then no bounds)
    indexed: tuple[str, ...] = ()   # choices that also take an index: "cuda:1"
    why: str = ""                   # said after a refusal, when the bound needs a reason (marked N_)

    def accepts(self, value) -> bool:
        if self.choices:
            return isinstance(value, str) and (value in self.choices or any(
                value.startswith(f"{c}:") and value[len(c) + 1:].isdigit() for c in self.indexed))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        return above and (self.high is None or value <= self.high)

    def allowed(self) -> Message:
        """What the option accepts, in words: "between 1 and 1000", "at least 0", "one of mlp, conv"."""
        if self.choices:
            return say(N_("one of {choices}"), choices=", ".join(self.choices))
        low = None if self.low is None else say(N_("greater than {low}") if self.low_open else N_("at least {low}"),
                                                low=f"{self.low:g}")
        high = None if self.high is None else say(N_("at most {high}"), high=f"{self.high:g}")
        if low and high and not self.low_open:
            return say(N_("between {low} and {high}"), low=f"{self.low:g}", high=f"{self.high:g}")
        if low and high:
            return say(N_("{low} and {high}"), low=low, high=high)
        return low or high or say(N_("a finite number"))


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


OPTIONS: dict[str, Option] = {
    # ModelConfig
    "latent_dim": Option("Latent size", "size of the latent code z; 2 is drawn as it is, more are "
                         "shown two dimensions at a time", low=2, high=64,
                         why=N_("the dashboard draws the latent space as a plane of two of its dimensions")),
    "arch": Option("Architecture", "mlp: fully connected layers; conv: two strided convolutions and a dense layer",
                   choices=ARCHITECTURES),
    "hidden": Option("Hidden width", "units in each hidden layer (mlp) or in the dense layer (conv)",
                     low=1, high=4096),
    "depth": Option("Depth", "hidden layers in the encoder and again in the decoder; mlp only",
                    low=1, high=8),
    "activation": Option("Activation", "the nonlinearity after each hidden layer",
                         choices=ACTIVATIONS),
    "channels": Option("Conv channels", "channels of the first convolution, doubled in the second; conv only",
                       low=1, high=256),
    # TrainConfig
    "dataset": Option("Dataset", "what to train on: mnist (handwritten digits) or fashion-mnist (photos of "
                      "clothing, shoes and bags); the checkpoint remembers it", choices=tuple(DATASETS)),
    "epochs": Option("Epochs", "passes over the training set", low=1, high=1000),
    "batch_size": Option("Batch size", "images per optimizer step", low=1, high=60_000),
    "lr": Option("Learning rate", "the peak learning rate of AdamW; 2e-3 is a good start", low=0, low_open=True,
                 high=1),
    "lr_schedule": Option("Learning-rate schedule", "constant; onecycle: warm up, then anneal; cosine: anneal "
                          "from the start", choices=SCHEDULES),
    "weight_decay": Option("Weight decay", "AdamW's decoupled weight decay; 0 turns it off", low=0, high=1),
    "beta": Option("β (KL weight)", "weight of the KL term; 1 trains the true ELBO, more pulls the codes "
                   "towards the prior", low=0, high=1000),
    "kl_warmup_epochs": Option("KL warm-up (epochs)", "raise the KL weight linearly from 0 to β over this many "
                               "epochs; 0 starts at β", low=0, high=1000),
    "grad_clip": Option("Gradient clipping", "clip the gradient's norm to this; 0 turns clipping off",
                        low=0, high=1e6),
    "seed": Option("Seed", "seeds the weights, the shuffling and the sampling noise", low=0, high=2**31 - 1),
    "device": Option("Device", "auto: CUDA, then Apple's MPS, then the CPU", choices=DEVICES, indexed=("cuda",)),
    "limit": Option("Training subset", "train on the first N training images only (a few thousand and 1–2 "
                    "epochs make a run of seconds); 0 uses all 60,000", low=0, high=60_000),
    "log_every": Option("Log interval (steps)", "write a training-loss row every this many steps", low=1,
                        high=1_000_000),
    "precision": Option("Precision", "the training steps' matrix products; auto: bfloat16 on a CPU that has it "
                        "natively (a quarter faster per step, the same test −ELBO), else float32; the test set is "
                        "always evaluated in float32", choices=PRECISIONS),
}


def refusal(name: str, value) -> Message | None:
    """Why `value` is not accepted for the option `name`, in the words the CLI and the form both use (a
    message, vae.messages: the form says it in the user's language); None when it is accepted (or the name
    has no entry)."""
    option = OPTIONS.get(name)
    if option is None or option.accepts(value):
        return None
    params = {"label": say(option.label), "flag": flag(name), "allowed": option.allowed(), "value": repr(value)}
    if option.why:
        return say(N_("{label} ({flag}) must be {allowed}, got {value}: {why}"), why=say(option.why), **params)
    return say(N_("{label} ({flag}) must be {allowed}, got {value}"), **params)


def check(config) -> None:
    """Raise ValueError for the first field of a config dataclass whose value the table refuses."""
    for f in fields(config):
        message = refusal(f.name, getattr(config, f.name))
        if message:
            raise ValueError(message)
