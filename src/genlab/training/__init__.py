"""Training: one Trainer for every model, with checkpoints, logs, monitors and DDP. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {"genlab.training.trainer": ("Trainer",), "genlab.training.config": ("TrainConfig",)}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
