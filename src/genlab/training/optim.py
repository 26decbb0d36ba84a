"""Optimizers and learning-rate schedules built from a TrainConfig."""

from __future__ import annotations

import math

import torch

from genlab.training.config import TrainConfig


def build_optimizer(
    params: list[torch.nn.Parameter], config: TrainConfig, device: torch.device, settings: dict | None = None
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD with momentum; the fused kernels where the device has them.

    `settings` (from the model, per parameter group) override lr, betas or weight decay.

    The fused CPU Adam updates all parameters in one kernel instead of a Python loop
    over tensors: on small models it roughly halves the step time.
    """
    if config.optimizer == "sgd":
        kwargs = {"lr": config.lr, "momentum": config.momentum, "weight_decay": config.weight_decay}
        cls = torch.optim.SGD
    else:
        kwargs = {"lr": config.lr, "betas": tuple(config.betas), "weight_decay": config.weight_decay}
        cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    for key, value in (settings or {}).items():
        if key in kwargs:  # a model's Adam betas mean nothing to SGD
            kwargs[key] = tuple(value) if key == "betas" else value
    if device.type in ("cpu", "cuda"):
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):
            pass  # an older torch without the fused kernel for this device
    return cls(params, **kwargs)


def lr_factor(config: TrainConfig, steps_per_epoch: int):
    """The schedule as a function of the step: linear warm-up, then constant/cosine/linear/step decay."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = config.warmup_steps
    step_every = max(1, config.step_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        progress = min(1.0, max(0, step - warmup) / max(1, total - warmup))
        if config.scheduler == "cosine":
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif config.scheduler == "linear":
            decay = 1.0 - progress
        elif config.scheduler == "step":
            decay = config.step_gamma ** (step // step_every)
        else:
            decay = 1.0
        return ramp * decay

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, steps_per_epoch))
