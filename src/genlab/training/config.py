"""The train section of a run's config: how the Trainer optimises a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from genlab.errors import GenlabError


@dataclass
class TrainConfig:
    """How the Trainer optimises a model; shared by every model."""

    epochs: int = 10
    batch_size: int = 128  # per process
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # adam, adamw
    momentum: float = 0.9  # sgd
    weight_decay: float = 0.0
    scheduler: Literal["constant", "cosine", "linear", "step"] = "constant"
    warmup_steps: int = 0
    step_epochs: int = 10  # step scheduler: multiply the rate by step_gamma every step_epochs
    step_gamma: float = 0.1
    grad_clip: float | None = None  # max gradient norm per parameter group
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast where the hardware has it
    compile: bool = False  # torch.compile the model's training step
    flush_denormals: bool = True  # treat denormal floats as zero while training (CPU speed; restored afterwards)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    max_minutes: float | None = None  # stop when this much time has passed (checked every log_every steps)
    log_every: int = 50  # steps between metric lines
    checkpoint_every: int = 0  # steps between checkpoints (0: at epoch ends only)
    preview_samples: int = 64  # images in the per-epoch sample and reconstruction grids
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # progress bar on interactive terminals

    def check(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "log_every": self.log_every}
        for key, value in positive.items():
            if value <= 0:
                raise GenlabError(f"train.{key} must be positive (got {value})")
        if self.checkpoint_every < 0 or self.warmup_steps < 0:
            raise GenlabError("train.checkpoint_every and train.warmup_steps must be >= 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise GenlabError(f"train.betas must be two numbers in [0, 1) (got {self.betas})")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise GenlabError(f"train.max_minutes must be positive or null (got {self.max_minutes})")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise GenlabError(f"train.grad_clip must be positive or null (got {self.grad_clip})")
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise GenlabError(f"train.device must be auto, cpu, cuda, cuda:N or mps (got {self.device!r})")
