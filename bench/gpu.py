"""Training throughput on a CUDA GPU, and a CUDA-vs-CPU correctness check.

    .venv/bin/python bench/gpu.py                       # on a machine with a CUDA GPU
    .venv/bin/python bench/gpu.py --device cpu --quick  # the same code path on the CPU, small, as a smoke test

For the default model (MLP 784-400-400-2) and the shipped model's shape (MLP 768×3), at batch sizes
128 to 8192, with the 60,000 training images resident on the device, it times optimizer steps
(Adam, the project's loss) in images per second:
  - eager: plain PyTorch;
  - compiled: torch.compile(mode="max-autotune-no-cudagraphs") of the model;
  - graphs: torch.compile(mode="reduce-overhead"), which captures CUDA graphs.
Then it evaluates the shipped checkpoint's −ELBO on the first 1,000 test images on the device and on
the CPU, with the same sampling noise, and checks they agree within 0.5 nats.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import vae
from vae.data import load_mnist, to_float
from vae.model import negative_elbo

ROOT = Path(__file__).resolve().parents[1]

MODELS = {"default 400×2": vae.ModelConfig(), "shipped 768×3": vae.ModelConfig(hidden=768, depth=3)}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(config: vae.ModelConfig, images: torch.Tensor, batch_size: int, mode: str,
                      device: torch.device, steps: int) -> float:
    """Median over 3 timed bursts of `steps` optimizer steps each, after warm-up (and compilation)."""
    torch.manual_seed(0)
    model = vae.VAE(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    forward = model
    if mode == "compiled":
        forward = torch.compile(model, mode="max-autotune-no-cudagraphs")
    elif mode == "graphs":
        forward = torch.compile(model, mode="reduce-overhead")
    generator = torch.Generator(device=device).manual_seed(0)

    def step(batch: torch.Tensor) -> None:
        x = to_float(batch)
        logits, mean, logvar = forward(x)
        loss, _, _ = negative_elbo(logits, x, mean, logvar)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    order = torch.randperm(len(images), generator=generator, device=device)
    batches = [images[order[i: i + batch_size]] for i in range(0, len(images) - batch_size + 1, batch_size)]
    for batch in batches[:5]:                                  # warm-up: allocation, autotuning, graph capture
        step(batch)
    synchronize(device)
    rates = []
    for burst in range(3):
        started = time.perf_counter()
        for i in range(steps):
            step(batches[(burst * steps + i) % len(batches)])
        synchronize(device)
        rates.append(steps * batch_size / (time.perf_counter() - started))
    return statistics.median(rates)


@torch.inference_mode()
def shipped_elbo(device: torch.device, count: int = 1000) -> float:
    """−ELBO (nats) of the shipped model on the first `count` test images, noise drawn on the CPU."""
    model, _ = vae.load_checkpoint(ROOT / "checkpoints" / "mnist-2d.pt", map_location=device)
    x = to_float(load_mnist("test", fetch=False)[0][:count]).to(device)
    mean, logvar = model.encode(x)
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(0)).to(device)
    logits = model.decode_logits(mean + torch.exp(0.5 * logvar) * eps)
    return negative_elbo(logits, x, mean, logvar)[0].item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[128, 512, 2048, 8192])
    parser.add_argument("--modes", nargs="*", default=["eager", "compiled", "graphs"])
    parser.add_argument("--steps", type=int, default=50, help="optimizer steps per timed burst")
    parser.add_argument("--quick", action="store_true", help="a smoke test: batch 128 and 512, eager, 5 steps")
    args = parser.parse_args()
    if args.quick:
        args.batch_sizes, args.modes, args.steps = [128, 512], ["eager"], 5
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("No CUDA device here: run on a machine with a GPU, or pass --device cpu --quick for a smoke test.")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}")
    images = load_mnist("train", fetch=False)[0].to(device)     # uint8, resident on the device
    print("| model | batch | " + " | ".join(f"{m} img/s" for m in args.modes) + " |")
    print("|---|---|" + "---|" * len(args.modes))
    for label, config in MODELS.items():
        for batch_size in args.batch_sizes:
            rates = []
            for mode in args.modes:
                try:
                    rates.append(f"{images_per_second(config, images, batch_size, mode, device, args.steps):,.0f}")
                except Exception as exc:                         # a mode this torch/GPU cannot do: say so
                    rates.append(f"failed ({type(exc).__name__})")
            print(f"| {label} | {batch_size} | " + " | ".join(rates) + " |")
    on_device, on_cpu = shipped_elbo(device), shipped_elbo(torch.device("cpu"))
    verdict = "agree" if abs(on_device - on_cpu) <= 0.5 else "DISAGREE"
    print(f"shipped model, first 1,000 test images: −ELBO {on_device:.3f} nats on {device}, {on_cpu:.3f} on the CPU "
          f"({verdict}: |difference| {abs(on_device - on_cpu):.4f}, limit 0.5)")


if __name__ == "__main__":
    main()
