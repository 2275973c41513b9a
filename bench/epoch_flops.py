"""How much of the CPU's arithmetic an epoch of the default training uses.

    .venv/bin/python bench/epoch_flops.py [--epochs 1] [--device cpu] [--optimizer fused|loop]
        [--precision auto|float32|bfloat16]

FLOPs per training step are counted by torch's FlopCounterMode (matmuls and convolutions,
forward and backward); the epoch is timed on the real training set with the real Trainer.
The ceiling is a large float32 matrix multiply on the same threads, which is what the
BLAS reaches on this machine (the theoretical peak is cores x clock x FLOPs per cycle). With bfloat16
steps the same FLOPs are counted against the same float32 ceiling.
"""
import argparse
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


from vae import VAE, ModelConfig, TrainConfig, Trainer
from vae.data import load_mnist
from vae.model import negative_elbo
from vae.options import PRECISIONS
from vae.train import resolve_device, resolve_precision


def flops_per_step(model, batch_size, device):
    x = torch.rand(batch_size, 1, 28, 28, device=device)
    with FlopCounterMode(display=False) as counter:
        logits, mean, logvar = model(x)
        negative_elbo(logits, x, mean, logvar)[0].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def gemm_gflops(device, n=2048, repeats=10):
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hidden", type=int, default=ModelConfig.hidden)
    parser.add_argument("--optimizer", choices=("fused", "loop"), default="fused",
                        help="loop: AdamW's per-parameter loop (the trainer's optimizer before the fused one)")
    parser.add_argument("--precision", default=TrainConfig.precision, choices=PRECISIONS,
                        help="the training steps' precision (auto: bfloat16 on a CPU that has it natively)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_flush_denormal(True)             # as `python -m vae train` does
    cfg = TrainConfig(epochs=args.epochs, device=args.device, precision=args.precision)
    torch.manual_seed(0)
    model = VAE(ModelConfig(hidden=args.hidden)).to(device)
    train, _ = load_mnist("train")
    test, _ = load_mnist("test")
    per_step = flops_per_step(model, cfg.batch_size, device)
    trainer = Trainer(model, cfg, train, test)
    if args.optimizer == "loop":
        trainer.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, foreach=False)
        trainer.scheduler = trainer._make_scheduler()
    epoch_times = []
    trainer.on_epoch.append(lambda t, m: epoch_times.append(t.seconds))
    trainer.run()
    seconds = epoch_times[-1] / len(epoch_times)
    flops = per_step * trainer.steps_per_epoch
    ceiling = gemm_gflops(device)
    print(f"device {device}, threads {torch.get_num_threads()}, hidden {args.hidden}, batch {cfg.batch_size}, "
          f"optimizer {args.optimizer}, precision {resolve_precision(args.precision, device)}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")   # a loaded machine moves the fraction
    print(f"FLOPs per epoch: {flops / 1e9:.1f} GFLOP; epoch (training steps) {seconds:.2f} s; "
          f"{60000 / seconds:.0f} images/s")
    print(f"achieved {flops / seconds / 1e9:.1f} GFLOP/s; float32 GEMM on this machine {ceiling:.1f} GFLOP/s; "
          f"fraction {flops / seconds / 1e9 / ceiling:.2f}")


if __name__ == "__main__":
    main()
