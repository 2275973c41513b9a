"""The training loop. It knows nothing about its caller: it calls back on step and epoch ends.

`vae.cli` attaches the run-folder writer, the progress bar and SIGTERM handling;
the dashboard starts the CLI as its own process and reads what it writes.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import epoch_batches, to_float
from .distributed import World, from_main, sum_across
from .evaluate import evaluate_elbo
from .model import VAE, negative_elbo
from .options import check

SCHEDULES = ("constant", "onecycle", "cosine")


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

    def __post_init__(self):
        check(self)                    # the bounds and their messages: vae.options, shared with the CLI and the form

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" picks CUDA when available, then Apple's MPS, else the CPU; an explicit name is checked."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device here")
    if name == "mps" and not has_mps:
        raise ValueError("--device mps was asked for, but Apple's MPS is not available here")
    return torch.device(name)


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


class _Reparameterized(nn.Module):
    """The VAE's forward pass with its noise given: what DistributedDataParallel wraps (its forward
    must be the one called). Taking eps rather than a generator lets every rank draw the noise of the
    whole global batch and keep its own rows, so a distributed run draws what one process would."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, x, eps):
        mean, logvar = self.vae.encode(x)
        return self.vae.decode_logits(mean + torch.exp(0.5 * logvar) * eps), mean, logvar


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
        model.init_output_bias(self.train_images.float().mean(dim=0) / 255)   # a resume overwrites it
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
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                           fused=fused)
        self.scheduler = self._make_scheduler()
        # The sampling noise comes from the trainer's own generator, saved with its state, so that
        # stop-then-resume draws the same noise as an uninterrupted run: bit-identical weights on a CPU.
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
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
                "step": self.step, "seconds": self.seconds, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        if "generator" in state:          # checkpoints from before the trainer owned its noise lack it
            self.generator.set_state(state["generator"])

    def _check_finite(self, loss: float, where: str) -> None:
        """Raise before any callback sees a non-finite loss, so nothing records or saves the broken model."""
        if not math.isfinite(loss):
            raise TrainingDiverged(f"training diverged: the loss became {loss} {where}; try a lower learning "
                                   f"rate than {self.config.lr:g}" +
                                   (" or --grad-clip 1" if not self.config.grad_clip else ""))

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
                logits, mean, logvar = net(x, noise[rows])
                loss, recon, kl = negative_elbo(logits, x, mean, logvar, beta=beta)
                self.optimizer.zero_grad(set_to_none=True)
                (loss * (share * world.world_size)).backward()
                if c.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
                self.optimizer.step()
                lr = self.scheduler.get_last_lr()[0]
                self.scheduler.step()
                self.step += 1
                # One read of the step's figures (and, across ranks, one all-reduce): the global batch's
                # mean terms and how many ranks were asked to stop.
                recon_, kl_, stops = sum_across(world, torch.stack(
                    [recon.detach() * share, kl.detach() * share,
                     torch.tensor(float(should_stop()), device=self.device)])).tolist()
                elapsed = time.perf_counter() - started
                self.seconds = base_seconds + elapsed
                event = StepEvent(epoch + 1, self.step, self.total_steps, recon_ + kl_, recon_, kl_, beta, lr,
                                  self.seconds, (self.step - start_step) * c.batch_size / max(elapsed, 1e-9))
                self._check_finite(event.loss, f"at step {self.step} (epoch {epoch + 1})")
                for callback in self.on_step:
                    callback(self, event)
                if stops:
                    return "stopped"
            model.eval()
            self.last_test = from_main(world, lambda: evaluate_elbo(model, self.test_images, seed=c.seed))
            self._check_finite(self.last_test["neg_elbo"], f"on the test set after epoch {self.epochs_done}")
            model.train()
            for callback in self.on_epoch:
                callback(self, self.last_test)
        model.eval()
        return "finished"
