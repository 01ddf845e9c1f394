"""DDP under ``torchrun``: one process per device, NCCL on GPUs, gloo on CPUs.

Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything is single-process and
these helpers do nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vivid.device import resolve_device
from vivid.errors import VividError


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> World:
    """Join the process group if started by ``torchrun``; pick this rank's device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    target = resolve_device(device)  # auto under torchrun: cuda:LOCAL_RANK
    use_cuda = target.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(target)
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return World(rank, size, target)


def wrap(module: torch.nn.Module, world: World, sync_batchnorm: bool) -> torch.nn.Module:
    """DDP-wrap a module when there is more than one rank."""
    if world.size == 1:
        return module
    if sync_batchnorm:
        if world.device.type != "cuda":
            raise VividError("run.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm is GPU-only)")
        module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if hasattr(module, "module") else module


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def cleanup(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
