"""Time to a test -ELBO of 150 nats, from process start: the project's default `python -m vae train`
against the tutorial's pipeline (bench/tutorial_pipeline.py), side by side, for several seeds.

    .venv/bin/python bench/time_to_quality.py [--seeds 0 1 2] [--target 150] [--timeout 400]

For each seed both pipelines run with that seed, each as its own process, one after the other (never
both at once on a 2-core CPU), so a machine shared with other work slows both alike; the clock starts
just before the process is launched and stops when its first test evaluation at or below the target
is written. Prints both times and their ratio per seed, then the median ratio.
"""
import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_to_target(cmd, read_losses, target, timeout):
    """Seconds from launch until read_losses() yields a loss <= target; the process is then stopped."""
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while time.time() - start < timeout:
            for epoch, loss, stamp in read_losses(proc):
                print(f"  epoch {epoch}: {loss:.2f} nats at {stamp - start:.1f} s", flush=True)
                if loss <= target:
                    return stamp - start, epoch
            if proc.poll() is not None:
                return float("nan"), None
            time.sleep(0.05)
        return float("nan"), None
    finally:
        proc.kill()
        proc.wait()


def ours(seed, target, timeout):
    run_dir = Path(tempfile.mkdtemp(prefix="ttq-")) / "run"
    metrics, seen = run_dir / "metrics.jsonl", set()

    def read(proc):
        rows = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
        for row in rows:
            if row["split"] == "test" and row["epoch"] not in seen:
                seen.add(row["epoch"])
                yield row["epoch"], row["loss"], metrics.stat().st_mtime
    return time_to_target([sys.executable, "-m", "vae", "train", "--run-dir", str(run_dir), "--device", "cpu",
                           "--seed", str(seed)], read, target, timeout)


def tutorial(seed, target, timeout):
    lines = queue.Queue()

    def read(proc):
        if not hasattr(read, "thread"):          # a thread reads the pipe so polling never blocks
            read.thread = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
            read.thread.start()
        while not lines.empty():
            row = json.loads(lines.get())
            yield row["epoch"], row["test_loss"], row["time"]
    return time_to_target([sys.executable, str(ROOT / "bench" / "tutorial_pipeline.py"), "--seed", str(seed)],
                          read, target, timeout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, default=150.0)
    parser.add_argument("--timeout", type=float, default=400.0)
    args = parser.parse_args()
    ratios = []
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    for seed in args.seeds:
        print(f"seed {seed}: tutorial pipeline (sigmoid MLP, DataLoader + ToTensor, batch 128, Adam 1e-3, "
              "loss repaired):")
        t_ref, e_ref = tutorial(seed, args.target, args.timeout)
        print(f"seed {seed}: python -m vae train (defaults):")
        t_ours, e_ours = ours(seed, args.target, args.timeout)
        ratios.append(t_ours / t_ref)
        print(f"seed {seed}: tutorial {t_ref:.1f} s (epoch {e_ref})  ours {t_ours:.1f} s (epoch {e_ours})  "
              f"ratio ours/tutorial {ratios[-1]:.3f}", flush=True)
    print(f"ratios {' '.join(f'{r:.3f}' for r in ratios)}  median {statistics.median(ratios):.3f}  "
          f"(load average at the end: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
