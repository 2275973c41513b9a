"""`python -m vae ...`: fetch data, train, evaluate. Flags are built from the config dataclasses; each command
parses its flags and calls the package (training: vae.session.train_run)."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path

from . import __version__
from .datasets import DATASETS
from .files import PROJECT_ROOT


class _Given(argparse.Action):
    """Store the value and record the field's name in `namespace.given`: the flags the command line holds,
    told apart from the defaults (train --resume refuses a flag that would change the run)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def _add_dataclass_flags(parser, cls, skip=()):
    """One flag per field; its help comes from vae.options, and its value is checked by the config itself,
    so that the CLI refuses a bad value with the same words as the dashboard's form."""
    from .options import OPTIONS, flag

    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        option = OPTIONS.get(f.name)
        parser.add_argument(flag(f.name), type=type(default), default=default, action=_Given,
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
    data_dir = str(PROJECT_ROOT / "data").replace("%", "%%")      # vae.data.default_root: not the working folder
    p.add_argument("--root", default=None, help=f"data root (default: $VAE_DATA_ROOT, else the project's {data_dir})")
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
    from .session import train_run

    model_cfg, train_cfg = _configs(args)       # bad flags are refused before the run folder is made or locked
    result = train_run(args.run_dir, model_cfg, train_cfg, resume=args.resume, asked=getattr(args, "given", ()),
                       data_root=args.data_root)
    if result is not None:                      # None: a rank of a distributed run other than the first
        print(_json_line(result))
    return 0


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
    from .evaluate import evaluate_elbo, evaluate_iwae, latent_metrics
    from .train import resolve_device

    model, meta = load_checkpoint(args.checkpoint, map_location=resolve_device(args.device))
    dataset = dataset_of(meta)
    images, labels = load_dataset("test", args.data_root, dataset=dataset)
    images, labels = images[: args.limit or None], labels[: args.limit or None]
    result = evaluate_elbo(model, images, seed=args.seed)
    if args.iwae_k:
        result["nll_iwae"] = evaluate_iwae(model, images, k=args.iwae_k, seed=args.seed)
        result["iwae_k"] = args.iwae_k
    reader = args.classifier or classifier_path(dataset)
    classifier = load_classifier(reader, map_location=model.device, dataset=dataset)[0] if reader.is_file() else None
    if classifier is not None:
        result["classifier_accuracy"] = (predict(classifier, images).cpu() == labels).float().mean().item()
    # The kNN accuracy and the class agreement are the Runs page's too: one function computes them for both.
    result.update(latent_metrics(
        model, images, labels, knn_k=args.knn_k,
        train=load_dataset("train", args.data_root, dataset=dataset) if args.knn_k else None,
        classify=None if classifier is None else (lambda x: predict(classifier, x))))
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
    meta = {"dataset": args.dataset, "test_accuracy": report.accuracy, "epochs": args.epochs, "seed": args.seed,
            "version": __version__,
            "command": "python -m vae " + " ".join(sys.argv[1:]), "train_seconds": time.time() - started}
    save_classifier(args.out or classifier_path(args.dataset), model, meta)
    print(json.dumps(meta))
    return 0
