"""How near vae.memory's estimate of a training run's peak memory comes to a measured one: for three
configurations, the estimate against the peak of three real training steps in a fresh process (the
smallest of --runs), and whether both order the configurations alike.

    .venv/bin/python bench/memory_estimate.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from vae.memory import RUNTIME, estimate_training_memory
from vae.model import ModelConfig
from vae.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CASES = [({"hidden": 1024, "depth": 4}, {"batch_size": 1024, "limit": 4096}),
         ({"arch": "conv", "channels": 64, "hidden": 256}, {"batch_size": 512, "limit": 2048}),
         ({"hidden": 256}, {"batch_size": 256, "limit": 1024})]

# A fresh process: its peak resident memory (getrusage's maxrss) over three real training steps, less the
# file pages resident at the end (torch's libraries: paged in as kernels are first used, or again after a
# machine short of memory evicted them) and the anonymous memory just before the trainer existed (torch,
# vae and the images loaded): what the run itself allocated at its peak.
MEASURE = """
import json, resource, sys
import torch
torch.set_num_threads(1)
import vae
import vae.memory
from vae.train import TrainConfig, Trainer
model_cfg, train_cfg = vae.ModelConfig(**json.loads(sys.argv[1])), TrainConfig(**json.loads(sys.argv[2]))
train = torch.randint(0, 256, (train_cfg.limit, 28, 28), dtype=torch.uint8)
test = torch.randint(0, 256, (1000, 28, 28), dtype=torch.uint8)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def resident(kind):
    return sum(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(kind + ":"))
before, process = resident("RssAnon"), resident("VmRSS")
steps = iter(range(2, -1, -1))
Trainer(vae.VAE(model_cfg), train_cfg, train, test).run(should_stop=lambda: next(steps) == 0)
print(json.dumps({"step": peak() - resident("RssFile") - resident("RssShmem") - before, "process": process}))
"""


def measured(model: dict, train: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(model),
                          json.dumps({**train, "device": "cpu", "precision": "float32"})],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}")
    rows = []
    for model, train in CASES:
        estimate = estimate_training_memory(ModelConfig(**model), TrainConfig(**train))
        got = min((measured(model, train) for _ in range(args.runs)), key=lambda m: m["step"])
        rows.append((estimate.training - estimate.data, got["step"]))      # the images were there before
        print(f"{model} {train}: estimate {rows[-1][0] / 1e6:.0f} MB, measured peak {got['step'] / 1e6:.0f} MB "
              f"(ratio {rows[-1][0] / got['step']:.2f}); process before the run {got['process'] / 1e6:.0f} MB "
              f"against RUNTIME {RUNTIME / 1e6:.0f} MB")
    same = sorted(range(len(rows)), key=lambda i: rows[i][0]) == sorted(range(len(rows)), key=lambda i: rows[i][1])
    print(f"the estimate orders the configurations as the measurements do: {same}")


if __name__ == "__main__":
    main()
