"""Training: one Trainer for every model, with checkpoints, logs and DDP."""

from genlab.train.trainer import Trainer

__all__ = ["Trainer"]
