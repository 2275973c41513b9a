"""`python -m vae ...`: fetch data, train, evaluate. Flags are built from the config dataclasses."""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import MISSING, fields
from functools import lru_cache
from pathlib import Path

from . import __version__
from .datasets import DATASETS


class _Given(argparse.Action):
    """Store the value and record the field's name in `namespace.given`: the flags the command line holds,
    told apart from the defaults (train --resume refuses a flag that would change the run)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def _add_dataclass_flags(parser, cls, skip=()):
    """One flag per field; its help comes from vae.options, and its value is checked by the config itself,
    so that the CLI refuses a bad value with the same words as the dashboard's form."""
    from .options import OPTIONS

    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        option = OPTIONS.get(f.name)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default, action=_Given,
                            metavar="{" + ",".join(option.choices) + "}" if option and option.choices else None,
                            help=f"{option.help if option else ''} (default: {default})".lstrip())


def _at_least(least: int):
    """An argparse type: a whole number of at least `least`. argparse refuses anything else naming the flag
    ("argument --knn-k: must be at least 0, got -1"), where a negative count used to reach torch (a
    `selected index k out of range`) or slice from the end (--limit -5 evaluated 9,995 images)."""
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    return whole_number


def _device(text: str) -> str:
    """An argparse type: a device name the training form accepts too (auto, cpu, cuda, cuda:N, mps),
    refused in vae.options' words rather than with torch's list of its backends."""
    from .options import refusal

    message = refusal("device", text)
    if message:
        raise argparse.ArgumentTypeError(message)
    return text


def _folder(text: str) -> Path:
    """An argparse type: a path that is, or can become, a folder: none of it names a file."""
    path = Path(text)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise argparse.ArgumentTypeError(f"{part} is a file, not a folder")
            break
    return path


def build_parser() -> argparse.ArgumentParser:
    from .model import ModelConfig
    from .train import TrainConfig

    parser = argparse.ArgumentParser(prog="python -m vae", description="VAE Latent Explorer: train and evaluate "
                                     "a variational autoencoder on MNIST or Fashion-MNIST.")
    parser.add_argument("--version", action="version", version=f"vae-latent-explorer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch and verify a dataset under the data root")
    p.add_argument("--root", default=None, help="data root (default: $VAE_DATA_ROOT or ./data)")
    p.add_argument("--dataset", default="mnist", choices=[*DATASETS, "all"], help="(default: mnist)")

    p = sub.add_parser("train", help="train a VAE; writes metrics.jsonl, status.json, checkpoint.pt in --run-dir")
    p.add_argument("--run-dir", required=True, type=_folder)
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir with its own settings; "
                   "--device may change, and --epochs may extend it (a finished run too); other flags that "
                   "differ from the run's are refused")
    p.add_argument("--data-root", default=None)
    _add_dataclass_flags(p, ModelConfig)
    _add_dataclass_flags(p, TrainConfig)

    p = sub.add_parser("export", help="copy a run's checkpoint without optimizer state (small, for sharing)")
    p.add_argument("source", type=Path)
    p.add_argument("destination", type=Path)
    p.add_argument("--half", action="store_true", help="store the weights as float16: half the size")

    p = sub.add_parser("evaluate", help="test-set -ELBO (and more) of a checkpoint; last stdout line is JSON")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--limit", type=_at_least(0), default=0, help="evaluate on the first N test images (default: all)")
    p.add_argument("--device", type=_device, default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iwae-k", type=_at_least(0), default=0, help="also the importance-weighted bound with K samples")
    p.add_argument("--knn-k", type=_at_least(0), default=5, help="neighbours of the latent kNN classifier (0 skips it)")
    p.add_argument("--classifier", type=Path, default=None,
                   help="classifier that judges reconstructions (default: the shipped one for the model's "
                        "dataset; skipped if the file is absent)")
    p.add_argument("--data-root", default=None)

    p = sub.add_parser("export-html", help="write a model's latent plane as one HTML file that opens anywhere, "
                                           "with no server (vae.export)")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path, help="the .html file to write (whole or not at all)")
    p.add_argument("--dims", default="0,1", help="for a model of more than two latent dimensions: the two to "
                   "show, as i,j (the others held at 0, or at --hold's code), or pca (default: 0,1)")
    p.add_argument("--hold", type=int, default=None, help="hold the other dimensions at this test image's code")
    p.add_argument("--data-root", default=None)

    p = sub.add_parser("train-classifier", help="train the small CNN that judges reconstructions")
    p.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="(default: mnist)")
    p.add_argument("--out", type=Path, default=None,
                   help="(default: checkpoints/<dataset>-classifier.pt, the shipped one)")
    p.add_argument("--epochs", type=_at_least(1), default=6,
                   help="(default: 6, as the shipped classifiers were trained)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"data": cmd_data, "train": cmd_train, "export": cmd_export, "evaluate": cmd_evaluate,
                "train-classifier": cmd_train_classifier, "export-html": cmd_export_html}[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_data(args) -> int:
    from .data import ensure_data

    for name in DATASETS if args.dataset == "all" else [args.dataset]:
        print(ensure_data(args.root, dataset=name, log=lambda m: print(m, file=sys.stderr)))
    return 0


def _configs(args):
    from .model import ModelConfig
    from .train import TrainConfig

    pick = lambda cls: cls(**{f.name: getattr(args, f.name) for f in fields(cls)})  # noqa: E731
    return pick(ModelConfig), pick(TrainConfig)           # each refuses a bad value, saying which and why


def cmd_train(args) -> int:
    from .distributed import World, process_group
    from .runs import run_lock
    from .train import resolve_device

    _configs(args)              # bad flags are refused before the run folder is made or locked
    world = World.from_env()    # set by torchrun (RANK, WORLD_SIZE, LOCAL_RANK); one process without it
    if not world.distributed:
        with run_lock(args.run_dir), _stop_on_signals() as stop_requested:
            return _train_run(args, stop_requested)
    # Every rank takes the signals (Ctrl-C reaches them all, the dashboard's Stop only rank 0, the lock's
    # holder); the trainer sums the ranks' stop flags at each step, so all of them stop after the same one.
    with _stop_on_signals() as stop_requested, process_group(world, resolve_device(world.device(args.device))), \
            (run_lock(args.run_dir) if world.is_main else nullcontext()):
        return _train_run(args, stop_requested, world)


@contextmanager
def _stop_on_signals():
    """SIGTERM (the dashboard's Stop) and Ctrl-C end the step, save, exit "stopped"; the handlers
    that were there before come back afterwards (main() may run inside a longer-lived process)."""
    stop_requested = []
    previous = {sig: signal.signal(sig, lambda *_: stop_requested.append(True))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop_requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_configs(args):
    """(model config, train config, checkpoint payload to resume from or None) for a train command.
    A fresh start refuses a folder that already holds a run, so two runs never share one metrics file."""
    from .checkpoint import read_checkpoint
    from .model import ModelConfig
    from .options import flag
    from .runs import CHECKPOINT, holds_a_run
    from .train import TrainConfig

    run_dir: Path = args.run_dir
    if not args.resume:
        if holds_a_run(run_dir):
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or pick a new --run-dir")
        return (*_configs(args), None)
    payload = read_checkpoint(run_dir / CHECKPOINT)
    meta = payload["meta"]
    if "trainer" not in payload or not isinstance(meta.get("train_config"), dict):
        raise ValueError(f"{run_dir / CHECKPOINT}: has no trainer state to resume from")
    asked = {name: getattr(args, name) for name in getattr(args, "given", ())}
    epochs = _resumed_epochs(meta, asked.pop("epochs", None))
    stored = {**meta["model_config"], **meta["train_config"]}
    refused = [f"{flag(name)} cannot change on --resume (the run trains with {stored[name]!r})"
               for name, value in asked.items() if name != "device" and name in stored and value != stored[name]]
    if refused:
        raise ValueError("; ".join(refused) + "; start a new run (another --run-dir) to train with other settings")
    train_cfg = TrainConfig.from_dict({**meta["train_config"], "device": args.device, "epochs": epochs})
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


def _train_run(args, stop_requested, world=None) -> int:
    """Train as `args` say. In a distributed run (`world`) every rank comes here: rank 0 decides the
    configs (and reads the checkpoint to resume) for all, and alone writes the run folder."""
    import torch

    from .distributed import World, from_main
    from .runs import CHECKPOINT, RunWriter, remove_orphan_parts, truncate_metrics
    from .train import resolve_device

    world = world or World()
    process_start = time.time()
    run_dir: Path = args.run_dir
    if world.is_main:
        remove_orphan_parts(run_dir)          # left by a kill in the middle of an atomic write
    model_cfg, train_cfg, resume_state = from_main(world, lambda: _run_configs(args))
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
        _make_trainer(args, model_cfg, train_cfg, resume_state, device, world).run(
            should_stop=lambda: bool(stop_requested))
        return 0
    writer = RunWriter(run_dir)
    writer.update_status(state="running", pid=os.getpid(), started=writer.status.get("started") or process_start,
                         epoch=0, epochs=train_cfg.epochs, step=0, total_steps=None, error=None,
                         phase="loading data", eta_seconds=None, finishes_at=None,
                         interrupted=False, device=str(device), world_size=world.world_size,
                         model_config=model_cfg.to_dict(), train_config=train_cfg.to_dict())
    try:
        trainer = _make_trainer(args, model_cfg, train_cfg, resume_state, device, world)
        state = _train_with_outputs(trainer, writer, run_dir / CHECKPOINT, stop_requested, clock)
    except BaseException as exc:
        # status.json gets one line for the page; the whole traceback goes to stderr, which is
        # train.log when the dashboard started the run (a torch error's cause is rarely in line one).
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        writer.update_status(state="failed", error=f"{type(exc).__name__}: {reason}".rstrip(": "))
        if not isinstance(exc, KeyboardInterrupt):
            traceback.print_exc()
        raise
    finally:
        writer.close()
    print(_json_line({"state": state, "run_dir": str(run_dir), **(trainer.last_test or {})}))
    return 0


def _make_trainer(args, model_cfg, train_cfg, resume_state, device, world):
    """The run's model and trainer on `device`, its data loaded, and its state restored when it resumes."""
    from .data import load_dataset
    from .model import VAE
    from .train import Trainer

    train_images, _ = load_dataset("train", args.data_root, dataset=train_cfg.dataset)
    test_images, _ = load_dataset("test", args.data_root, dataset=train_cfg.dataset)
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
    return {"git_commit": _source_revision(), "train_config": trainer.config.to_dict(), "dataset": trainer.config.dataset,
            "epoch": trainer.epochs_done, "step": trainer.step, "test_metrics": trainer.last_test, "train_seconds": trainer.seconds,
            "version": __version__, "command": "python -m vae " + " ".join(sys.argv[1:]),
            "train_images": len(trainer.train_images), "device": str(trainer.device),
            "world_size": trainer.world.world_size, "created": time.time()}


def _train_with_outputs(trainer, writer, ckpt_path, stop_requested, clock) -> str:
    """Wire the trainer's events to metrics.jsonl, status.json, checkpoint.pt and a progress bar."""
    from tqdm import tqdm

    from . import replay
    from .checkpoint import save_checkpoint
    from .runs import RemainingTime

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
        writer.update_status(epoch=e.epoch, step=e.step, images_per_sec=e.images_per_sec, eta_seconds=eta,
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


def cmd_export(args) -> int:
    from .checkpoint import export_checkpoint

    export_checkpoint(args.source, args.destination, half=args.half)
    print(f"{args.destination}: {args.destination.stat().st_size / 1e6:.1f} MB")
    return 0


def cmd_export_html(args) -> int:
    from .export import export_html

    explorer = export_html(args.checkpoint, args.out, dims=args.dims, hold=args.hold, data_root=args.data_root)
    parts = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in explorer.parts.items())
    print(f"{args.out}: {len(explorer.content) / 1e6:.2f} MB ({parts}; test images as {explorer.thumbnails})")
    return 0


def cmd_evaluate(args) -> int:
    from .checkpoint import load_checkpoint
    from .classifier import classifier_path, load_classifier, predict
    from .data import load_dataset
    from .datasets import dataset_of
    from .evaluate import class_agreement, evaluate_elbo, evaluate_iwae, knn_accuracy
    from .inference import encode_dataset
    from .train import resolve_device

    model, meta = load_checkpoint(args.checkpoint, map_location=resolve_device(args.device))
    dataset = dataset_of(meta)
    images, labels = load_dataset("test", args.data_root, dataset=dataset)
    images, labels = images[: args.limit or None], labels[: args.limit or None]
    result = evaluate_elbo(model, images, seed=args.seed)
    if args.iwae_k:
        result["nll_iwae"] = evaluate_iwae(model, images, k=args.iwae_k, seed=args.seed)
        result["iwae_k"] = args.iwae_k
    if args.knn_k:
        train_images, train_labels = load_dataset("train", args.data_root, dataset=dataset)
        result["knn_accuracy"] = knn_accuracy(encode_dataset(model, train_images), train_labels,
                                              encode_dataset(model, images), labels, k=args.knn_k)
        result["knn_k"] = args.knn_k
    reader = args.classifier or classifier_path(dataset)
    if reader.is_file():
        classifier, _ = load_classifier(reader, map_location=model.device, dataset=dataset)
        result["classifier_accuracy"] = (predict(classifier, images).cpu() == labels).float().mean().item()
        result["class_agreement"] = class_agreement(lambda x: predict(classifier, x), model, images, labels)
    result["images"], result["dataset"] = len(images), dataset.name
    print(_json_line(result))
    return 0


def _json_line(result: dict) -> str:
    """The command's last stdout line, strict JSON: a figure that is not a finite number (a model whose
    numbers overflow) is printed as null, with a warning on stderr. json.dumps would write NaN or
    Infinity, which no strict JSON reader (a browser's JSON.parse) accepts."""
    odd = {k: v for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)}
    for name, value in odd.items():
        print(f"warning: {name} is {value}, not a finite number; printed as null", file=sys.stderr)
    return json.dumps({k: None if k in odd else v for k, v in result.items()}, allow_nan=False)


def cmd_train_classifier(args) -> int:
    from .classifier import classifier_path, predict, save_classifier, train_classifier
    from .data import load_dataset

    started = time.time()
    images, labels = load_dataset("train", args.data_root, dataset=args.dataset)
    test_images, test_labels = load_dataset("test", args.data_root, dataset=args.dataset)

    def report(epoch, model):
        acc = (predict(model, test_images) == test_labels).float().mean().item()
        print(f"epoch {epoch}: test accuracy {acc:.4f}", file=sys.stderr)
        report.accuracy = acc

    model = train_classifier(images, labels, epochs=args.epochs, seed=args.seed, on_epoch=report)
    meta = {"dataset": args.dataset, "test_accuracy": report.accuracy, "epochs": args.epochs, "seed": args.seed, "version": __version__,
            "command": "python -m vae " + " ".join(sys.argv[1:]), "train_seconds": time.time() - started}
    save_classifier(args.out or classifier_path(args.dataset), model, meta)
    print(json.dumps(meta))
    return 0
