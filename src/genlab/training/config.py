"""The train section of a run's config: how the Trainer optimises a model."""

from __future__ import annotations

import re
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
    checkpoint_epochs: int = 1  # epochs between end-of-epoch checkpoints and model/ refreshes (the last always)
    preview_samples: int = 64  # images in the per-epoch sample and reconstruction grids
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # progress bar on interactive terminals

    def writes_at_epoch_end(self, epochs_done: int) -> bool:
        """Whether the end of this epoch writes a checkpoint and model/: every checkpoint_epochs, and the last."""
        return epochs_done % self.checkpoint_epochs == 0 or epochs_done >= self.epochs

    def check(self) -> None:
        """Every value in its meaningful range (numbers already came in finite, whole ones in 64 bits)."""
        for key, low, high in LIMITS:
            value = getattr(self, key)
            if value is not None and not low <= value <= high:
                raise GenlabError(f"train.{key} must be {_range_text(low, high)} (got {value})")
        for key in ("lr", "step_gamma", "grad_clip", "max_minutes"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise GenlabError(f"train.{key} must be positive{' or null' if key in ('grad_clip', 'max_minutes') else ''} "
                                  f"(got {value})")
        if not 0.0 <= self.momentum < 1.0:
            raise GenlabError(f"train.momentum must be in [0, 1) (got {self.momentum})")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise GenlabError(f"train.betas must be two numbers in [0, 1) (got {str(self.betas)[:80]})")
        if not re.fullmatch(r"auto|(cpu|mps|cuda)(:\d{1,4})?", self.device):
            raise GenlabError(f"train.device must be auto, cpu, cuda, cuda:N or mps (got {self.device[:40]!r})")


MAX_EPOCHS = 10**6

# (field, lowest, highest): bounds that keep a value meaningful and what it sizes allocatable
LIMITS = (
    ("epochs", 1, MAX_EPOCHS),
    ("batch_size", 1, 2**31 - 1),  # cut down to the training split's size when larger
    ("log_every", 1, 2**31 - 1),
    ("checkpoint_every", 0, 2**31 - 1),
    ("checkpoint_epochs", 1, MAX_EPOCHS),
    ("warmup_steps", 0, 2**31 - 1),
    ("step_epochs", 1, 10**6),
    ("preview_samples", 0, 1024),  # images drawn for each preview grid
    ("weight_decay", 0.0, 1e3),
)


def _range_text(low, high) -> str:
    least = {0: ">= 0", 1: "positive"}.get(low, f">= {low:g}")
    return f"{least} and at most {high:,}" if isinstance(high, int) else f"{least} and at most {high:g}"
