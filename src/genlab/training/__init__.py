"""Training: one Trainer for every model, with checkpoints, logs, monitors and DDP. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {"Trainer": "genlab.training.trainer", "TrainConfig": "genlab.training.config"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
