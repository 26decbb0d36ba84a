"""Process groups for `torchrun`: DDP on CPU (gloo) or GPUs (nccl), one process otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from genlab.errors import GenlabError


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """`value` as rank 0 has it, on every rank."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self, wait: bool = True) -> None:
        """Wait for every rank, then leave the group (a process that exits without this can abort)."""
        if self.active and dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.active:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values


def init_distributed(device: str = "auto") -> Distributed:
    """Join the process group that torchrun describes in the environment (if any)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        use_nccl = device != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def resolve_device(spec: str | torch.device, local_rank: int = 0) -> torch.device:
    """auto: a CUDA GPU, else Apple's MPS, else the CPU; explicit requests are checked (training and loading alike)."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError):
        raise GenlabError(f"unknown device '{spec}' (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GenlabError(f"device {spec} asked for, but no CUDA GPU is visible; use device cpu or auto")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GenlabError("device mps asked for, but MPS is not available; use device cpu or auto")
    return device


def resolve_precision(spec: str, device: torch.device, model_prefers_bf16: bool = False) -> str:
    """auto: bf16 autocast on GPUs that support it; on CPUs only for models that ask for it.

    For small MLPs bf16 is no sure gain on a CPU (benchmarks/vs_pythae.py: the MNIST VAE at
    0.68x the fp32 speed with AVX-512 BF16 and no AMX) and likelihoods are what such models
    are for, so they stay in fp32 unless train.precision=bf16. Convolutional classifiers and
    GANs, which lose nothing measurable, declare `prefers_bf16` and get it where the CPU
    computes bf16 natively.
    """
    if spec != "auto":
        return spec
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and model_prefers_bf16 and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def cpu_has_native_bf16() -> bool:
    """True on CPUs with AVX512-BF16 or AMX, where oneDNN runs bf16 matrix products natively."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
