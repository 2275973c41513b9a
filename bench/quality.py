"""Write bench/quality.md: the figures of every shipped VAE checkpoint, from `python -m vae evaluate`.

    .venv/bin/python bench/quality.py [--iwae-k 1000] [checkpoints/mnist-2d.pt ...]   (default: every shipped model)

Each row comes from running the evaluate command printed beside it, so the table can be
checked by running that command again (same seed, same numbers).
"""
import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from vae import load_checkpoint
from vae.locations import SHIPPED

ROOT = Path(__file__).resolve().parents[1]


def evaluate(path: Path, iwae_k: int) -> tuple[str, dict]:
    cmd = ["python", "-m", "vae", "evaluate", str(path), "--iwae-k", str(iwae_k)]
    done = subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, capture_output=True, text=True, check=True)
    return " ".join(cmd), json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoints", nargs="*", type=Path, default=[Path("checkpoints") / name for name in SHIPPED])
    parser.add_argument("--iwae-k", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "quality.md")
    args = parser.parse_args()
    lines = [f"# Model quality ({date.today().isoformat()})", "",
             "Test set: all 10,000 test images of the model's dataset (MNIST or Fashion-MNIST), pixels in [0, 1], "
             "Bernoulli likelihood. Nats per image.",
             "`neg_elbo`: single-sample -ELBO with seed 0; `nll_iwae`: the importance-weighted bound with "
             f"K={args.iwae_k} (an upper bound on -log p(x)); `knn`: 5-nearest-neighbour accuracy of the test "
             "latent means against the training latent means; `agree`: share of test images whose "
             "reconstruction the shipped classifier (checkpoints/mnist-classifier.pt) reads as the true digit "
             "(for the Fashion model: checkpoints/fashion-mnist-classifier.pt, the true class).",
             "", "| model | -ELBO | recon | KL | IWAE | kNN acc. | class agree | evaluate command |",
             "|---|---|---|---|---|---|---|---|"]
    details = []
    for path in args.checkpoints:
        cmd, r = evaluate(path, args.iwae_k)
        _, meta = load_checkpoint(ROOT / path)
        lines.append(f"| `{path}` | {r['neg_elbo']:.2f} | {r['recon']:.2f} | {r['kl']:.2f} | {r['nll_iwae']:.2f} | "
                     f"{r['knn_accuracy']:.4f} | {r.get('class_agreement', float('nan')):.4f} | `{cmd}` |")
        details += [f"## `{path}`", "", f"- trained with: `{meta['command']}`",
                    f"- model: {json.dumps(meta['model_config'])}",
                    f"- seed {meta['train_config']['seed']}, {meta['epoch']} epochs, "
                    f"{meta['train_seconds'] / 60:.1f} min of training on {meta.get('device', 'cpu')}",
                    f"- classifier accuracy on the test set: {r.get('classifier_accuracy', float('nan')):.4f}", ""]
    details.append("The configurations tried on the way to this model are in [experiments.md](experiments.md).")
    args.out.write_text("\n".join(lines + [""] + details) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
