"""Distributed training: `torchrun -m vae train` (DistributedDataParallel, gloo) on two CPU processes
against one process with the same global batch.

The two runs are the same computation: the same weights at the start, the same permutation and noise,
each rank's gradient weighed by its share of the batch. They differ only in the order of float sums:
one process sums a batch's gradient in one matmul, two sum half-batches and DDP averages the halves
(and the step's figures are all-reduced). Those rounding differences (~1e-7 relative a step) are carried
forward by Adam; over these 30 steps they reach ~1e-4 in the weights and ~1e-4 nats in the losses, so
the tolerances are 0.01 nats and 2e-3 in the weights. A bug in what a rank trains on (another order,
other noise, one rank's rows twice) moves the losses by tenths of a nat or more.
"""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import multiprocessing

from vae import VAE, ModelConfig, TrainConfig, Trainer, load_checkpoint
from vae.checkpoint import read_checkpoint
from vae.cli import main
from vae.data import epoch_batches, load_mnist, to_float
from vae.distributed import World, process_group
from vae.lifecycle import read_status, stop_run
from vae.replay import read_index
from vae.runfiles import read_metrics

from helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
# 631 images in global batches of 64: 10 steps an epoch, the last batch 55 images (28 + 27: unequal shares).
# float32 steps: bfloat16 (the default on a CPU that has it) rounds a rank's half batch otherwise than the
# whole batch, 0.04 nats apart after 16 steps, more than the tolerances below allow.
RUN = ["--epochs", "3", "--limit", "631", "--batch-size", "64", "--log-every", "1", "--device", "cpu",
       "--precision", "float32"]
LOSS_TOLERANCE, WEIGHT_TOLERANCE = 0.01, 2e-3


def torchrun(run_dir, *flags):
    """`torchrun --nproc-per-node 2 -m vae train` as its own process, from the checkout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "vae", "train", "--run-dir", str(run_dir), *flags]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)          # its own process group: a hung run is killed whole


def finish(proc, timeout=120):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not end within {timeout} s (a rank left waiting?):\n{err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return out


@pytest.mark.slow                           # three torchrun launches: `make test-slow`
def test_two_processes_stop_resume_and_train_like_one(tmp_path):
    run = tmp_path / "run"
    first = torchrun(run, *RUN)
    wait_until(lambda: first.poll() is not None or (read_status(run) or {}).get("pid"), every=0.02)
    assert stop_run(run)                   # the dashboard's Stop: SIGTERM to the lock's holder, rank 0
    finish(first)                          # every rank learnt of it and ended: torchrun exits 0
    stopped = read_status(run)
    assert stopped["state"] == "stopped" and 1 <= stopped["step"] < stopped["total_steps"] == 30
    assert read_checkpoint(run / "checkpoint.pt")["meta"]["step"] == stopped["step"]

    finish(torchrun(run, "--resume", "--device", "cpu"))
    assert main(["train", "--run-dir", str(tmp_path / "single"), *RUN]) == 0

    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "single"]        # one run folder
    assert {p.name for p in run.iterdir()} == {p.name for p in (tmp_path / "single").iterdir()} | {"stop.requested"}
    status = read_status(run)
    assert status["state"] == "finished" and status["step"] == status["total_steps"] == 30
    assert status["world_size"] == 2 and status["pid"] != stopped["pid"]

    ours, single = read_metrics(run), read_metrics(tmp_path / "single")
    key = lambda r: (r["split"], r["step"])                                   # noqa: E731
    assert [key(r) for r in ours] == [key(r) for r in single]              # one writer: no row twice, none lost
    assert len({key(r) for r in ours}) == len(ours) == 33
    for a, b in zip(ours, single):
        assert abs(a["loss"] - b["loss"]) < LOSS_TOLERANCE and abs(a["kl"] - b["kl"]) < LOSS_TOLERANCE, (a, b)
    train = [r["loss"] for r in ours if r["split"] == "train"]
    test = [r["loss"] for r in ours if r["split"] == "test"]
    assert sum(train[-10:]) / 10 < sum(train[:10]) / 10 - 2 and test == sorted(test, reverse=True)

    model, meta = load_checkpoint(run / "checkpoint.pt")
    reference, _ = load_checkpoint(tmp_path / "single" / "checkpoint.pt")
    assert meta["world_size"] == 2 and meta["step"] == 30 and meta["test_metrics"]["neg_elbo"] == test[-1]
    for (name, ours_), theirs in zip(model.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(ours_, theirs, atol=WEIGHT_TOLERANCE, rtol=0, msg=name)
    assert [e["step"] for e in read_index(run)] == [e["step"] for e in read_index(tmp_path / "single")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SHARD_LIMIT, SHARD_BATCH = 300, 63


def _record_what_each_rank_trains_on(rank, port, out):
    """One of two spawned ranks: two steps of the real Trainer in a real gloo group, saving the images
    its encoder saw."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    world = World(rank=rank, world_size=2, local_rank=rank)
    with process_group(world, torch.device("cpu")):
        torch.manual_seed(0)
        images = load_mnist("train")[0][:SHARD_LIMIT]
        trainer = Trainer(VAE(ModelConfig()), TrainConfig(epochs=1, batch_size=SHARD_BATCH), images, images[:10],
                          world=world)
        seen = []
        trainer.model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
        trainer.run(should_stop=lambda: trainer.step == 2)
        torch.save(seen, Path(out) / f"rank{rank}.pt")


def test_each_rank_trains_on_its_share_of_every_global_batch(tmp_path, mnist_train):
    multiprocessing.spawn(_record_what_each_rank_trains_on, args=(_free_port(), str(tmp_path)), nprocs=2)
    seen = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    # The order one process would take: the trainer's epoch-0 shuffle (seed 0), cut into batches of 63.
    batches = epoch_batches(SHARD_LIMIT, SHARD_BATCH, torch.Generator().manual_seed(0))
    for step in range(2):
        expected = to_float(mnist_train[0][:SHARD_LIMIT][batches[step]])
        assert [len(seen[r][step]) for r in (0, 1)] == [32, 31]                # contiguous, near-equal shares
        assert torch.equal(torch.cat([seen[0][step], seen[1][step]]), expected)


@pytest.mark.parametrize("env, expected", [
    ({}, World()),
    ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, World(rank=3, world_size=4, local_rank=1)),
], ids=["plain-python", "torchrun"])
def test_the_world_comes_from_torchruns_environment(env, expected):
    assert World.from_env(env) == expected


@pytest.mark.parametrize("env", [{"WORLD_SIZE": "2"}, {"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"},
                                 {"WORLD_SIZE": "two", "RANK": "0"}], ids=["no-rank", "rank-too-big", "not-a-number"])
def test_a_broken_torchrun_environment_is_refused(env):
    with pytest.raises(ValueError, match="RANK"):
        World.from_env(env)


@pytest.mark.parametrize("size, world_size", [(64, 2), (55, 2), (10, 3), (3, 3), (7, 4)])
def test_shards_cover_the_batch_once_in_order(size, world_size):
    batch = torch.arange(size)
    shares = [batch[World(rank=r, world_size=world_size).shard(batch)] for r in range(world_size)]
    assert torch.equal(torch.cat(shares), batch)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_each_rank_takes_the_gpu_of_its_local_rank_and_never_mps():
    world = World(rank=5, world_size=8, local_rank=1)
    assert world.device("cuda") == "cuda:1" and world.device("cpu") == "cpu"
    assert World().device("cuda:3") == "cuda:3"                       # one process: as asked
    for name, message in [("cuda:0", "LOCAL_RANK"), ("mps", "MPS")]:
        with pytest.raises(ValueError, match=message):
            world.device(name)


def test_a_batch_too_small_to_share_is_refused_before_training(mnist_train, mnist_test):
    world = World(rank=0, world_size=4)
    with pytest.raises(ValueError, match="last batch of 3 for 4 processes"):
        Trainer(VAE(ModelConfig()), TrainConfig(batch_size=64), mnist_train[0][:67], mnist_test[0][:10], world=world)
    trainer = Trainer(VAE(ModelConfig()), TrainConfig(batch_size=64), mnist_train[0][:68], mnist_test[0][:10],
                      world=world)                      # a last batch of 4: one image for each process will do
    assert trainer.steps_per_epoch == 2
