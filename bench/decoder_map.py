"""The decoder's map: seconds to decode a 100×100 lattice of the plane and classify every decoding,
and the share of [-3, 3]² that the shipped model decodes to an image its classifier reads with at
least 0.9 confidence.

    .venv/bin/python bench/decoder_map.py [--checkpoint checkpoints/mnist-2d.pt] [--n 100] [--runs 7]

Times vae.inference.decoder_map as the Latent page calls it (bfloat16 autocast, the classifier's batch
norms folded into its convolutions: vae.classifier.fused_for_inference) and in float32, after
one warm-up call each: the median and every run. The share is printed for both precisions; it is
taken on the n×n cell centres of the square (a midpoint estimate of the area's share).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

import vae
from vae import inference
from vae.classifier import classifier_path, fused_for_inference, load_classifier
from vae.datasets import dataset_of

ROOT = Path(__file__).resolve().parents[1]


def timed(call, runs: int) -> list[float]:
    call()                                                   # warm-up: allocator, oneDNN kernels
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "mnist-2d.pt")
    parser.add_argument("--n", type=int, default=100, help="cells per side of the lattice")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--extent", type=float, nargs=4, default=[-3.0, 3.0, -3.0, 3.0],
                        metavar=("X0", "X1", "Y0", "Y1"))
    args = parser.parse_args()
    model, meta = vae.load_checkpoint(args.checkpoint)
    reader_path = classifier_path(dataset_of(meta))
    classifier, reader_meta = load_classifier(reader_path, dataset=dataset_of(meta))
    basis = inference.dims_basis(model.latent_dim, (0, 1))
    print(f"{args.checkpoint.name} ({model.latent_dim}-D), classifier {reader_path.name} "
          f"({reader_meta.get('arch')}), {args.n}×{args.n} lattice over {args.extent}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; load average before: "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other processes slow every figure)")
    for name, precision in [("bfloat16", torch.bfloat16), ("float32", None)]:
        seconds = timed(lambda: inference.decoder_map(model, fused_for_inference(classifier), basis, args.extent,
                                                      args.n, precision=precision), args.runs)
        _, confidence = inference.decoder_map(model, fused_for_inference(classifier), basis, args.extent, args.n,
                                              precision=precision)
        print(f"{name:>9}: median {statistics.median(seconds):.3f} s over {args.runs} runs "
              f"[{', '.join(f'{s:.3f}' for s in seconds)}]; "
              f"share read with >= 0.9 confidence: {inference.confident_share(confidence, 0.9):.4f}")


if __name__ == "__main__":
    main()
