"""The training loop. It knows nothing about its caller: it calls back on step and epoch ends.

`vae.session` attaches the run-folder writer, the progress bar and SIGTERM handling;
the dashboard starts the CLI as its own process and reads what it writes.
"""
from __future__ import annotations

import copy
import inspect
import math
import time
import warnings
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import epoch_batches, to_float
from .distributed import World, from_main, sum_across
from .evaluate import evaluate_elbo
from .model import VAE, negative_elbo
from .options import check
from .messages import N_, say
from .runfiles import divergence

AVERAGE_DECAY = 0.99     # of the weights' moving average, reached after ~1,000 steps: (1 + step) / (10 + step) before


@dataclass
class TrainConfig:
    dataset: str = "mnist"         # what to train on: a name in vae.datasets.DATASETS (mnist, fashion-mnist)
    epochs: int = 20               # passes over the training set
    batch_size: int = 128          # images per optimizer step; split across the processes of a distributed run
    lr: float = 2e-3               # peak learning rate; 2e-3 reached 150 nats sooner than 1e-3 or 3e-3
    lr_schedule: str = "cosine"    # "constant", "onecycle" (warm up, then anneal) or "cosine" (anneal)
    weight_decay: float = 0.0      # AdamW's decoupled weight decay
    beta: float = 1.0              # weight of the KL term (beta-VAE); 1 trains the true ELBO
    kl_warmup_epochs: float = 0.0  # ramp the KL weight linearly from 0 to beta over this many epochs
    grad_clip: float = 0.0         # clip the gradient norm to this; 0 disables
    seed: int = 0                  # seeds the weights, the shuffling and the sampling noise
    device: str = "auto"           # "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "mps"
    limit: int = 0                 # train on the first N training images only; 0 = all 60,000
    log_every: int = 20            # write a train metrics row every this many steps
    precision: str = "auto"        # the training steps' matrix products: "float32", "bfloat16" (autocast),
                                   # "auto": bfloat16 on a CPU that has it natively, else float32 (resolve_precision)

    def __post_init__(self):
        check(self)                    # the bounds and their messages: vae.options, shared with the CLI and the form

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_ABSENT = {"cuda": N_("--device cuda was asked for, but torch sees no CUDA device here"),
           "mps": N_("--device mps was asked for, but Apple's MPS is not available here")}


def available_devices() -> list[str]:
    """The device names that work here, as the training form offers them: "auto" and "cpu", then "cuda"
    and Apple's "mps" where torch sees them."""
    mps = getattr(torch.backends, "mps", None)
    return (["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
            + (["mps"] if mps is not None and mps.is_available() else []))


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" picks CUDA when available, then Apple's MPS, else the CPU; an explicit name is checked
    against available_devices() ("cuda:1" as "cuda")."""
    here = available_devices()
    if name == "auto":
        return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if kind in here))
    kind = name.split(":")[0]
    if kind in _ABSENT and kind not in here:
        raise ValueError(say(_ABSENT[kind]))
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """"auto" is bfloat16 on a CPU with native bfloat16 arithmetic (AVX-512 BF16 or AMX), else float32.

    There a training step takes about a quarter less time, and the default run's test -ELBO after 20 epochs is
    no worse (bench/experiments.md); a CPU without it would emulate bfloat16, slower than float32. On CUDA
    and MPS, where that check was not made, "auto" stays float32."""
    if name != "auto":
        return name
    cpu = torch.cpu
    native = any(getattr(cpu, probe, lambda: False)()
                 for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return "bfloat16" if device.type == "cpu" and native else "float32"


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number; the message names the step and what to try."""


@dataclass
class StepEvent:
    epoch: int           # 1-based epoch the step belongs to
    step: int            # global step, 1-based
    total_steps: int
    loss: float
    recon: float
    kl: float
    beta: float
    lr: float
    seconds: float       # training wall time so far, including earlier (resumed) sessions
    images_per_sec: float


class _AdamW(torch.optim.AdamW):
    """torch's AdamW, the same update and the same state_dict, without importing torch._dynamo.

    torch.optim wraps step, zero_grad, add_param_group and (load_)state_dict in decorators that import
    torch._dynamo at their first call, to fence the optimizer off from torch.compile. The trainer never
    compiles, and that import is 1.2 s of CPU before the first step (over a third of the start-up on the
    project's 2-core CPU, bench/experiments.md). Here the methods are the functions under the decorators
    (functools.wraps keeps each as __wrapped__); a torch without them leaves the decorated ones, which
    only start slower."""

    add_param_group = inspect.unwrap(torch.optim.Optimizer.add_param_group)
    zero_grad = inspect.unwrap(torch.optim.Optimizer.zero_grad)
    state_dict = inspect.unwrap(torch.optim.Optimizer.state_dict)
    load_state_dict = inspect.unwrap(torch.optim.Optimizer.load_state_dict)
    _update = inspect.unwrap(torch.optim.AdamW.step)

    def step(self, closure=None):
        with torch.no_grad():             # what the decorator did besides fencing off dynamo (differentiable=False)
            return self._update(closure)


class _Reparameterized(nn.Module):
    """The VAE's forward pass with its noise given: what DistributedDataParallel wraps (its forward
    must be the one called). Taking eps rather than a generator lets every rank draw the noise of the
    whole global batch and keep its own rows, so a distributed run draws what one process would."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, x, eps):
        mean, logvar = self.vae.encode(x)
        return self.vae.decode_logits(self.vae.reparameterize(mean, logvar, eps=eps)), mean, logvar


class Trainer:
    """Adam(W) on the negative ELBO over shuffled in-memory batches; resumable mid-epoch.

    In a distributed `world` (see vae.distributed) every rank builds the same Trainer: each trains on its
    share of every global batch, the test set is evaluated on rank 0 and its figures broadcast, and the
    step's figures and stop decision are summed over the ranks, so every rank sees the same events."""

    def __init__(self, model: VAE, config: TrainConfig, train_images: torch.Tensor, test_images: torch.Tensor,
                 *, world: World = World()):
        self.model, self.config, self.world = model, config, world
        self.device = model.device
        self.train_images = train_images.to(self.device)   # uint8, (N, 28, 28): stays resident on the device
        # The mean image from exact integer sums: numpy's uint8 -> int64 reduction takes 0.02 s where a float
        # copy of the 60,000 images takes 0.12 s, all of it before the first step. A resume overwrites the bias.
        pixel_sums = train_images.reshape(len(train_images), -1).cpu().numpy().sum(axis=0, dtype=np.int64)
        model.init_output_bias(torch.from_numpy(pixel_sums / (255.0 * len(train_images))))
        # What the run reports, saves and replays: an exponential moving average of the weights (the last
        # ~100 steps). Averaging away the steps' noise puts the test -ELBO 1-1.5 nats lower during the first
        # epochs, where the rate is still high (half an epoch sooner to 150 nats, bench/experiments.md); at the
        # end of a schedule annealed to zero it is the weights themselves.
        self.averaged = copy.deepcopy(model).requires_grad_(False).eval()
        self.test_images = test_images
        self.steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        smallest = len(train_images) - (self.steps_per_epoch - 1) * config.batch_size     # the epoch's last batch
        if smallest < world.world_size:
            raise ValueError(f"every step needs at least one image per process: {len(train_images)} images in "
                             f"batches of {config.batch_size} leave a last batch of {smallest} for "
                             f"{world.world_size} processes; change --batch-size or --limit")
        # The fused kernel updates all the parameters in one pass (CPU and CUDA): 3.5 -> 1.3 ms of a
        # 14 ms CPU step here (bench/experiments.md); the same algorithm, the same state_dict.
        fused = True if self.device.type in ("cpu", "cuda") else None
        self.optimizer = _AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
        self.scheduler = self._make_scheduler()
        # The sampling noise comes from the trainer's own generator, saved with its state, so that
        # stop-then-resume draws the same noise as an uninterrupted run: bit-identical weights on a CPU.
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.precision = resolve_precision(config.precision, self.device)
        self.step = 0                 # optimizer steps done
        self.seconds = 0.0            # wall time spent training in earlier sessions
        self.last_test: dict | None = None
        self.on_step, self.on_epoch = [], []

    def _make_scheduler(self):
        c, opt = self.config, self.optimizer
        if c.lr_schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=self.total_steps)
        if c.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.total_steps)
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)

    @property
    def epochs_done(self) -> int:
        return self.step // self.steps_per_epoch

    def kl_weight(self) -> float:
        warm = self.config.kl_warmup_epochs * self.steps_per_epoch
        return self.config.beta * (1.0 if warm <= 0 else min(1.0, (self.step + 1) / warm))

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "step": self.step, "seconds": self.seconds, "generator": self.generator.get_state(),
                "weights": self.model.state_dict(), "averaged": self.averaged.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a stopped run. Checkpoints from before the averaged weights hold one set of weights,
        which the caller loaded into the model: the average starts from them."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        saved = state["scheduler"]
        if saved.get("T_max", saved.get("total_steps", self.total_steps)) == self.total_steps:
            self.scheduler.load_state_dict(saved)
        else:
            self._stretch_schedule()
        if "generator" in state:          # checkpoints from before the trainer owned its noise lack it
            self.generator.set_state(state["generator"])
        if "weights" in state:
            self.model.load_state_dict(state["weights"])
        self.averaged.load_state_dict(state.get("averaged", self.model.state_dict()))

    def _stretch_schedule(self) -> None:
        """A run resumed with other --epochs: its learning rate from here on is the one a run of the new
        length has at this step (the schedule is laid over the new total, not the one it was started with)."""
        for group in self.optimizer.param_groups:
            group["lr"] = group.get("initial_lr", self.config.lr)
        self.scheduler = self._make_scheduler()
        with warnings.catch_warnings():           # "scheduler.step() before optimizer.step()": on purpose here
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(self.step):
                self.scheduler.step()

    @torch.no_grad()
    def _update_average(self) -> None:
        decay = min(AVERAGE_DECAY, (1 + self.step) / (10 + self.step))     # the untrained start fades out fast
        torch._foreach_lerp_(list(self.averaged.parameters()), list(self.model.parameters()), 1 - decay)

    def _check_finite(self, loss: float, where) -> None:
        """Raise before any callback sees a non-finite loss, so nothing records or saves the broken model.
        `where()` says where it happened (a message, made only then)."""
        if not math.isfinite(loss):
            raise TrainingDiverged(say(N_("training diverged: the loss became {loss} {where}; {remedy}"),
                                       loss=str(loss), where=where(), remedy=self._remedy()))

    def _check_learned(self, test: dict) -> None:
        """Raise before the epoch's callbacks when the test figures are worse than a model that learned
        nothing would score (vae.runfiles.divergence): finite but exploded, like lr 1's 131 M nats, the run
        must end failed rather than be saved and offered as a model."""
        why = divergence(test["recon"], test["kl"], self.kl_weight())
        if why:
            raise TrainingDiverged(say(N_("training {why}, after epoch {epoch}; {remedy}"), why=why,
                                       epoch=str(self.epochs_done), remedy=self._remedy()))

    def _remedy(self) -> str:
        if self.config.grad_clip:
            return say(N_("try a lower learning rate than {lr}"), lr=f"{self.config.lr:g}")
        return say(N_("try a lower learning rate than {lr} or --grad-clip 1"), lr=f"{self.config.lr:g}")

    def _network(self) -> nn.Module:
        """The module the steps call. Wrapped by DDP when distributed, here rather than in __init__, so
        that weights a resume loads are in place when DDP broadcasts rank 0's to the others."""
        net = _Reparameterized(self.model)
        if not self.world.distributed:
            return net
        return DistributedDataParallel(net, device_ids=[self.device] if self.device.type == "cuda" else None)

    def run(self, should_stop=lambda: False) -> str:
        """Train until the last epoch ("finished") or until should_stop() after a step ("stopped"; in a
        distributed run, should_stop() on any rank stops all of them after the same step).
        A non-finite loss raises TrainingDiverged."""
        c, model, world = self.config, self.model, self.world
        net = self._network()
        model.train()
        started, start_step, base_seconds = time.perf_counter(), self.step, self.seconds
        while self.step < self.total_steps:
            epoch = self.epochs_done
            # Every rank draws the same order (same seed) and the same noise, then keeps its rows.
            order = epoch_batches(len(self.train_images), c.batch_size,
                                  torch.Generator().manual_seed(c.seed * 1_000_003 + epoch), self.device)
            for idx in order[self.step - epoch * self.steps_per_epoch:]:   # skip steps done before a resume
                noise = torch.randn((len(idx), model.latent_dim), generator=self.generator, device=self.device)
                rows = world.shard(idx)
                x = to_float(self.train_images[idx[rows]])
                share = len(x) / len(idx)          # of the global batch; DDP averages the ranks' gradients,
                beta = self.kl_weight()            # so each rank's mean is weighed by share * world_size
                # Autocast around the forward pass only: the backward follows its dtypes, and the loss, the
                # optimizer's update and the test evaluation stay float32.
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
                    logits, mean, logvar = net(x, noise[rows])
                # The loss in float32 either way: its sums over 784 pixels and the batch need the mantissa.
                loss, recon, kl = negative_elbo(logits.float(), x, mean.float(), logvar.float(), beta=beta)
                self.optimizer.zero_grad(set_to_none=True)
                (loss * (share * world.world_size)).backward()
                if c.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
                self.optimizer.step()
                lr = self.scheduler.get_last_lr()[0]
                self.scheduler.step()
                self.step += 1
                self._update_average()
                # One read of the step's figures (and, across ranks, one all-reduce): the global batch's
                # mean terms and how many ranks were asked to stop.
                recon_, kl_, stops = sum_across(world, torch.stack(
                    [recon.detach() * share, kl.detach() * share,
                     torch.tensor(float(should_stop()), device=self.device)])).tolist()
                elapsed = time.perf_counter() - started
                self.seconds = base_seconds + elapsed
                event = StepEvent(epoch + 1, self.step, self.total_steps, recon_ + kl_, recon_, kl_, beta, lr,
                                  self.seconds, (self.step - start_step) * c.batch_size / max(elapsed, 1e-9))
                self._check_finite(event.loss, lambda: say(N_("at step {step} (epoch {epoch})"), step=self.step,
                                                                epoch=epoch + 1))
                for callback in self.on_step:
                    callback(self, event)
                if stops:
                    return "stopped"
            self.last_test = from_main(world, lambda: evaluate_elbo(self.averaged, self.test_images, seed=c.seed))
            self._check_finite(self.last_test["neg_elbo"], lambda: say(N_("on the test set after epoch {epoch}"),
                                                                       epoch=str(self.epochs_done)))
            self._check_learned(self.last_test)
            for callback in self.on_epoch:
                callback(self, self.last_test)
        model.eval()
        return "finished"
