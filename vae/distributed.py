"""Training on several processes with PyTorch's own launcher: `torchrun --nproc-per-node N -m vae train ...`.

torchrun starts one process per rank and tells each who it is through environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, and where to meet: MASTER_ADDR, MASTER_PORT). `World.from_env` reads them;
without them (a plain `python -m vae train`) the world is one process and nothing here is used.

How a distributed run divides the work (see `vae.train.Trainer`):
  - `--batch-size` is the global batch: every rank draws the same permutation of the epoch from the
    same seeded generator, cuts it into the same batches and takes its contiguous share of each
    (`World.shard`), so the ranks together see exactly what one process would;
  - the sampling noise is drawn for the whole global batch on every rank (same seed) and each rank
    takes its rows: a distributed run is the single-process run, up to the order of float sums;
  - gradients are averaged by DistributedDataParallel (gloo on CPUs, NCCL on CUDA, one GPU per rank:
    cuda:LOCAL_RANK);
  - the test set is evaluated on rank 0 alone and its figures are broadcast to the others; rank 0
    alone holds the run lock and writes the run folder.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0          # this process's place among all processes, 0 = the one that writes
    world_size: int = 1    # how many processes train together
    local_rank: int = 0    # its place on this machine: which GPU it drives

    @classmethod
    def from_env(cls, environ=None) -> "World":
        """The world torchrun describes in the environment; one process when it describes none."""
        env = os.environ if environ is None else environ
        if "WORLD_SIZE" not in env:
            return cls()
        try:
            world = cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"])))
        except (KeyError, ValueError):
            raise ValueError("WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number: start "
                             "distributed runs with torchrun, which sets all three") from None
        if not 0 <= world.rank < world.world_size or world.local_rank < 0:
            raise ValueError(f"RANK {world.rank} does not fit WORLD_SIZE {world.world_size}")
        return world

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> slice:
        """The rows of a global batch this rank trains on: contiguous, the ranks' shares differ by at
        most one row and together cover the batch once, in order."""
        size, extra = divmod(len(batch), self.world_size)
        start = self.rank * size + min(self.rank, extra)
        return slice(start, start + size + (self.rank < extra))

    def device(self, name: str) -> str:
        """The device this rank trains on, given the --device asked for: one GPU per rank, cuda:LOCAL_RANK."""
        if not self.distributed:
            return name
        if name.startswith("cuda:"):
            raise ValueError(f"--device {name}: in a distributed run each process takes the GPU of its "
                             "LOCAL_RANK; pass --device cuda (or auto)")
        if name == "mps":
            raise ValueError("distributed training runs on CPUs (gloo) or CUDA GPUs (NCCL), not on Apple's MPS")
        if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
            return f"cuda:{self.local_rank}"
        return "cpu"


@contextmanager
def process_group(world: World, device: torch.device):
    """Join the other ranks for the block (NCCL on CUDA, gloo otherwise); leave the group afterwards."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", rank=world.rank, world_size=world.world_size, device_id=device)
    else:
        dist.init_process_group("gloo", rank=world.rank, world_size=world.world_size)
    try:
        yield
        dist.barrier()              # none leaves while another may still be talking to it (after an error: no wait)
    finally:
        dist.destroy_process_group()


def from_main(world: World, compute):
    """compute() on rank 0, its result sent to every rank. When it raises, every rank raises: the others
    a RuntimeError quoting rank 0's error, so no rank is left waiting for a partner that has given up."""
    if not world.distributed:
        return compute()
    box, error = [None], None
    if world.is_main:
        try:
            box[0] = ("ok", compute())
        except Exception as exc:
            box[0], error = ("error", f"{type(exc).__name__}: {exc}"), exc
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if error is not None:
        raise error
    if kind == "error":
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def sum_across(world: World, values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over the ranks (in place); the tensor itself in a one-process world."""
    if world.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values
