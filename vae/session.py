"""A training session: train one run in its run folder, or continue it, writing metrics.jsonl, status.json
and checkpoint.pt as it goes. One function, `train_run`, that takes the config dataclasses (no argparse):
`python -m vae train` parses its flags and calls it; the dashboard starts that command as a process of
its own (vae.lifecycle.start_run), so that training outlives the page; the tests call either.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterable
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

from . import __version__
from .messages import N_, message_of, say


def train_run(run_dir, model_config, train_config, *, resume: bool = False, asked: Iterable[str] = (),
              data_root=None) -> dict | None:
    """Train the run in `run_dir` until it finishes or a SIGTERM or Ctrl-C stops it (saved, "stopped").

    A fresh start trains with the two configs, in a folder that holds no run yet. With `resume`, the run
    goes on from its checkpoint with its own configs: `train_config.device` applies, `train_config.epochs`
    applies when "epochs" is in `asked` (it may extend the run, a finished one too, but not end it before
    what it has trained), and any other field named in `asked` (what the caller asked for explicitly)
    must equal the run's own: ValueError names each that does not.

    Returns the run's last line (state, run folder and test figures), or None on a rank of a distributed
    run (torchrun) other than the first; raises what training raised, the run then marked "failed"."""
    from .distributed import World, process_group
    from .lifecycle import run_lock
    from .train import resolve_device

    run_dir = Path(run_dir)
    request = (model_config, train_config, resume, frozenset(asked), data_root)
    world = World.from_env()    # set by torchrun (RANK, WORLD_SIZE, LOCAL_RANK); one process without it
    if not world.distributed:
        with run_lock(run_dir), _stop_on_signals() as stop_requested:
            return _train(run_dir, request, stop_requested)
    # Every rank takes the signals (Ctrl-C reaches them all, the dashboard's Stop only rank 0, the lock's
    # holder); the trainer sums the ranks' stop flags at each step, so all of them stop after the same one.
    with _stop_on_signals() as stop_requested, \
            process_group(world, resolve_device(world.device(train_config.device))), \
            (run_lock(run_dir) if world.is_main else nullcontext()):
        return _train(run_dir, request, stop_requested, world)


@contextmanager
def _stop_on_signals():
    """SIGTERM (the dashboard's Stop) and Ctrl-C end the step, save, exit "stopped"; the handlers
    that were there before come back afterwards (the session may run inside a longer-lived process)."""
    stop_requested = []
    previous = {sig: signal.signal(sig, lambda *_: stop_requested.append(True))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop_requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_configs(run_dir: Path, request):
    """(model config, train config, checkpoint payload to resume from or None) for a session.
    A fresh start refuses a folder that already holds a run, so two runs never share one metrics file."""
    from .checkpoint import read_checkpoint
    from .model import ModelConfig
    from .options import flag
    from .runfiles import CHECKPOINT, holds_a_run
    from .train import TrainConfig

    model_config, train_config, resume, asked, _ = request
    if not resume:
        if holds_a_run(run_dir):
            raise ValueError(say(N_("{run_dir} already holds a run; pass --resume to continue it or pick a new "
                                    "--run-dir"), run_dir=str(run_dir)))
        return model_config, train_config, None
    payload = read_checkpoint(run_dir / CHECKPOINT)
    meta = payload["meta"]
    if "trainer" not in payload or not isinstance(meta.get("train_config"), dict):
        raise ValueError(say(N_("{path}: has no trainer state to resume from"), path=str(run_dir / CHECKPOINT)))
    stored = {**meta["model_config"], **meta["train_config"]}
    epochs = _resumed_epochs(meta, train_config.epochs if "epochs" in asked else None)
    refused = [f"{flag(name)} cannot change on --resume (the run trains with {stored[name]!r})"
               for name in sorted(asked - {"epochs", "device"}) if name in stored
               and getattr(model_config if hasattr(model_config, name) else train_config, name) != stored[name]]
    if refused:
        raise ValueError("; ".join(refused) + "; start a new run (another --run-dir) to train with other settings")
    train_cfg = TrainConfig.from_dict({**meta["train_config"], "device": train_config.device, "epochs": epochs})
    return ModelConfig(**meta["model_config"]), train_cfg, payload


def _resumed_epochs(meta: dict, asked: int | None) -> int:
    """The epochs a resumed run trains to: its own, or `asked` (--epochs), which may extend the run, a
    finished one too, but not end it before what it has already trained."""
    own = meta["train_config"]["epochs"]
    if asked is None or asked == own:
        return own
    batch, images, step = meta["train_config"].get("batch_size"), meta.get("train_images"), meta.get("step")
    if batch and images and step is not None:
        trained = step / math.ceil(images / batch)
    else:                                   # a checkpoint without its size: its whole epochs
        trained = meta.get("epoch") or 0
    if asked < trained:
        raise ValueError(f"--epochs {asked} is fewer than the run has trained ({trained:g} epochs); "
                         f"give at least {math.ceil(trained)} to extend it, or leave --epochs out")
    return asked


def _train(run_dir: Path, request, stop_requested, world=None) -> dict | None:
    """Train as `request` says. In a distributed run (`world`) every rank comes here: rank 0 decides the
    configs (and reads the checkpoint to resume) for all, and alone writes the run folder."""
    import torch

    from .distributed import World, from_main
    from .runfiles import CHECKPOINT, RunWriter, remove_orphan_parts, truncate_metrics
    from .train import resolve_device

    world = world or World()
    process_start = time.time()
    data_root = request[-1]
    if world.is_main:
        remove_orphan_parts(run_dir)          # left by a kill in the middle of an atomic write
    model_cfg, train_cfg, resume_state = from_main(world, lambda: _run_configs(run_dir, request))
    # Rows logged after the checkpoint describe training that is lost: drop them, and count the
    # run's clock on from the last kept row, so neither `step` nor `seconds` ever goes back.
    kept = truncate_metrics(run_dir, resume_state["trainer"]["step"]) if resume_state and world.is_main else []
    before = max((row.get("seconds", 0.0) for row in kept), default=0.0)

    def clock() -> float:                     # wall seconds in the run: earlier sessions' plus this one's
        return before + time.time() - process_start

    device = resolve_device(world.device(train_cfg.device))
    torch.manual_seed(train_cfg.seed)          # the one seeding: the weights (the trainer seeds its own noise)
    # After ~1.5 epochs some of Adam's second moments (weights fed by pixels that are almost never
    # inked) decay into denormal floats, and denormal arithmetic made every CPU step a third slower
    # (8.4 -> 11 ms here). Flushing them to zero changes no result that matters: they are < 1e-38.
    torch.set_flush_denormal(True)
    if not world.is_main:                      # the other ranks train beside rank 0 and write nothing
        _make_trainer(data_root, model_cfg, train_cfg, resume_state, device, world).run(
            should_stop=lambda: bool(stop_requested))
        return None
    writer = RunWriter(run_dir)
    writer.update_status(state="running", pid=os.getpid(), started=writer.status.get("started") or process_start,
                         epoch=0, epochs=train_cfg.epochs, step=0, total_steps=None, error=None, error_message=None,
                         phase="loading data", eta_seconds=None, finishes_at=None,
                         interrupted=False, device=str(device), world_size=world.world_size,
                         model_config=model_cfg.to_dict(), train_config=train_cfg.to_dict())
    try:
        trainer = _make_trainer(data_root, model_cfg, train_cfg, resume_state, device, world)
        state = _train_with_outputs(trainer, writer, run_dir / CHECKPOINT, stop_requested, clock)
    except BaseException as exc:
        # status.json gets one line for the page; the whole traceback goes to stderr, which is
        # train.log when the dashboard started the run (a torch error's cause is rarely in line one).
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        message = message_of(exc)                 # the words, as vae.messages keeps them: the dashboard translates
        writer.update_status(state="failed", error=f"{type(exc).__name__}: {reason}".rstrip(": "),
                             error_message=message and say(N_("{kind}: {reason}"), kind=type(exc).__name__,
                                                           reason=message).to_json())
        if not isinstance(exc, KeyboardInterrupt):
            traceback.print_exc()
        raise
    finally:
        writer.close()
    return {"state": state, "run_dir": str(run_dir), **(trainer.last_test or {})}


def _make_trainer(data_root, model_cfg, train_cfg, resume_state, device, world):
    """The run's model and trainer on `device`, its data loaded, and its state restored when it resumes."""
    from .data import load_dataset
    from .model import VAE
    from .train import Trainer

    train_images, _ = load_dataset("train", data_root, dataset=train_cfg.dataset)
    test_images, _ = load_dataset("test", data_root, dataset=train_cfg.dataset)
    if train_cfg.limit:
        train_images = train_images[: train_cfg.limit]
    model = VAE(model_cfg).to(device)
    trainer = Trainer(model, train_cfg, train_images, test_images, world=world)
    if resume_state is not None:
        model.load_state_dict(resume_state["model_state"])
        trainer.load_state_dict(resume_state["trainer"])
    return trainer


@lru_cache(maxsize=1)
def _source_revision() -> str | None:
    """The git commit of the code that trains, when it runs from a checkout (for reproducibility)."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _checkpoint_meta(trainer) -> dict:
    return {"git_commit": _source_revision(), "train_config": trainer.config.to_dict(),
            "dataset": trainer.config.dataset, "epoch": trainer.epochs_done, "step": trainer.step,
            "test_metrics": trainer.last_test, "train_seconds": trainer.seconds,
            "version": __version__, "command": "python -m vae " + " ".join(sys.argv[1:]),
            "train_images": len(trainer.train_images), "device": str(trainer.device),
            "world_size": trainer.world.world_size, "created": time.time()}


def _train_with_outputs(trainer, writer, ckpt_path, stop_requested, clock) -> str:
    """Wire the trainer's events to metrics.jsonl, status.json, checkpoint.pt and a progress bar."""
    from tqdm import tqdm

    from . import replay
    from .checkpoint import save_checkpoint
    from .eta import RemainingTime

    every = trainer.config.log_every
    window = []
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", disable=not sys.stderr.isatty(),
               dynamic_ncols=True)
    writer.update_status(total_steps=trainer.total_steps, step=trainer.step, epoch=trainer.epochs_done,
                         phase="training")
    remaining = RemainingTime(trainer.steps_per_epoch, trainer.total_steps)

    def save():
        save_checkpoint(ckpt_path, trainer.averaged, _checkpoint_meta(trainer),    # the weights the test rows measured
                        extra={"trainer": trainer.state_dict()})
        writer.update_status(checkpoint_epoch=trainer.epochs_done, checkpoint_step=trainer.step)

    def on_step(t, e):
        window.append((e.loss, e.recon, e.kl))
        remaining.step_ended(e.step, time.time())
        bar.update(1)
        if e.step % every and e.step != e.total_steps:
            return
        loss, recon, kl = (sum(v) / len(window) for v in zip(*window))
        window.clear()
        bar.set_postfix(loss=f"{loss:.1f}", epoch=e.epoch)
        writer.metrics({"split": "train", "epoch": e.epoch, "step": e.step, "loss": loss, "recon": recon,
                        "kl": kl, "beta": e.beta, "lr": e.lr, "seconds": clock()})
        eta = remaining.seconds_left()
        # "epoch": whole epochs done, as at the epoch end and the run's end (e.epoch is the one in progress)
        writer.update_status(epoch=t.epochs_done, step=e.step, images_per_sec=e.images_per_sec, eta_seconds=eta,
                             finishes_at=None if eta is None else time.time() + eta)

    def on_epoch(t, test):
        writer.metrics({"split": "test", "epoch": t.epochs_done, "step": t.step, "loss": test["neg_elbo"],
                        "recon": test["recon"], "kl": test["kl"], "seconds": clock()})
        save()
        writer.update_status(epoch=t.epochs_done, step=t.step, test_loss=test["neg_elbo"])
        bar.write(f"epoch {t.epochs_done}: test -ELBO {test['neg_elbo']:.2f} nats "
                  f"(recon {test['recon']:.2f}, KL {test['kl']:.2f})")

    trainer.on_step.append(on_step)
    trainer.on_epoch.append(on_epoch)
    replay.attach(trainer, ckpt_path.parent)          # the test encodings over time, for the dashboard's replay
    state = trainer.run(should_stop=lambda: bool(stop_requested))
    bar.close()
    if state == "stopped":
        save()
    writer.update_status(state=state, step=trainer.step, epoch=trainer.epochs_done, eta_seconds=0.0
                         if state == "finished" else None, finishes_at=None, train_seconds=trainer.seconds)
    return state
