"""The run's metric log: one JSON object per line in metrics.jsonl, mirrored to TensorBoard."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genlab.files import write_text_atomic


class MetricsLog:
    """Append-only JSON lines; on resume, lines past the checkpoint's step are dropped first.

    Every record has "split" (train, val or run) and "step"; numeric values also go to
    TensorBoard as "<split>/<name>" when it is installed and enabled.
    """

    def __init__(self, path: Path, *, resume_step: int | None = None, tensorboard_dir: Path | None = None,
                 redo_validation: bool = False):
        """With `redo_validation`, a validation line at `resume_step` is dropped too (it will be written again)."""
        self.path = path
        if resume_step is not None and path.is_file():
            kept = [line for line in path.read_text(errors="replace").splitlines()
                    if _keep(line, resume_step, redo_validation)]
            write_text_atomic(path, "".join(line + "\n" for line in kept))
        self.handle = open(path, "a", buffering=1)
        self.tensorboard = _open_tensorboard(tensorboard_dir) if tensorboard_dir is not None else None

    def write(self, record: dict[str, Any]) -> None:
        clean = {key: _json_value(value) for key, value in record.items()}
        self.handle.write(json.dumps(clean) + "\n")
        if self.tensorboard is not None and record.get("split") in ("train", "val"):
            split, step = record["split"], record.get("step", 0)
            for key, value in clean.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.tensorboard.add_scalar(f"{split}/{key}", value, step)

    def close(self) -> None:
        self.handle.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed process
        if isinstance(record, dict):
            records.append(record)
    return records


def _keep(line: str, resume_step: int, redo_validation: bool) -> bool:
    """Whether a logged line was written before the checkpoint a run resumes from."""
    try:
        record = json.loads(line)
        step = float(record.get("step", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return False  # unreadable (cut short by a kill): drop it
    if step == resume_step and redo_validation and record.get("split") == "val":
        return False
    return step <= resume_step


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value


def _open_tensorboard(directory: Path):
    try:
        # TensorBoard is optional (the tensorboard extra) and slow to import: only when a run logs to it
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(directory))
