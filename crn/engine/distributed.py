"""Device choice and multi-process data parallelism (torchrun + DistributedDataParallel).

Launch: `torchrun --nproc_per_node=N -m crn.cli train crn ...`; torchrun sets RANK,
WORLD_SIZE and LOCAL_RANK. Without them training runs in one process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from crn.errors import UserError


@dataclass(frozen=True)
class DistContext:
    """This process's place in a (possibly single-process) run and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, logs and samples."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Draw from `seed` inside the block and restore the global RNG (CPU and `device`) after."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.manual_seed(seed)
        yield


def pick_device(name: str = "auto") -> torch.device:
    """ "auto" -> cuda, then mps, then cpu; an explicit name must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {name}: MPS is not available on this machine")
    return device


def setup(device_name: str = "auto") -> DistContext:
    """Join the torchrun process group if launched by torchrun, else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 1, pick_device(device_name))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), device)


def teardown(ctx: DistContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, ctx: DistContext, find_unused: bool) -> torch.nn.Module:
    """DDP around the model when distributed (`find_unused` when a phase skips parameters)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)


def any_flag(flag: bool, ctx: DistContext) -> bool:
    """True on every process if `flag` is true on any (e.g. a stop request or a bad loss)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op for one)."""
    if ctx.distributed:
        dist.barrier()
