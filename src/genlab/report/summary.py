"""What a run directory says about its run: model, data, progress, speed, last metrics."""

from __future__ import annotations

from pathlib import Path

from genlab.api import load
from genlab.models.base import weights_sha256
from genlab.runs import RunDirectory, model_dir_of
from genlab.training.metrics import read_metrics


def run_summary(path: str | Path) -> dict:
    """A flat description of a run (or of a bare model folder), as `genlab info` prints it."""
    path = Path(path)
    model = load(path)
    config = model.config
    summary = {
        "path": str(path),
        "model": model.model_name,
        "class": type(model).__name__,
        "parameters": model.num_parameters(),
        "data_shape": list(config.data_shape),
        "num_classes": config.num_classes,
        "value_range": config.value_range,
        "latent_dim": getattr(config, "latent_dim", None),
        "arch": getattr(config, "arch", None),
        "weights_sha256": weights_sha256(model_dir_of(path)),  # which weights every figure below describes
    }
    run = RunDirectory.find(path)
    if run is None:  # a bare model folder
        return summary
    tree = run.read_config()
    records = [_numbers_checked(r) for r in read_metrics(run.metrics_path)]
    starts = [r for r in records if r.get("split") == "run" and r.get("event") in ("start", "resume")]
    ends = [r for r in records if r.get("split") == "run" and r.get("event") == "end"]
    vals = [r for r in records if r.get("split") == "val"]
    trains = [r for r in records if r.get("split") == "train"]
    speeds = [r["images_per_s"] for r in trains if isinstance(r.get("images_per_s"), (int, float))]
    summary.update({
        "data": (tree.get("data") or {}).get("name"),
        "seed": tree.get("seed"),
        "epochs_planned": (tree.get("train") or {}).get("epochs"),
        "epochs_done": vals[-1]["epoch"] if vals else (trains[-1]["epoch"] if trains else 0),
        "step": (trains[-1]["step"] if trains else 0),
        "finished": bool(ends) and ends[-1]["step"] >= (trains[-1]["step"] if trains else 0),
        "stopped": ends[-1].get("stopped") if ends else None,  # e.g. a train.max_minutes budget, by design
        "train_seconds": sum(r.get("train_seconds", 0) for r in ends),
        "device": starts[-1].get("device") if starts else None,
        "precision": starts[-1].get("precision") if starts else None,
        # the median over logging windows: robust to the first, slower window
        "images_per_s": sorted(speeds)[len(speeds) // 2] if speeds else None,
        "last_validation": {k: v for k, v in vals[-1].items() if k not in ("split", "step", "epoch")} if vals else {},
        "checkpoint": run.checkpoint_path.is_file(),
        "sample_grids": len(list(run.samples_dir.glob("*.png"))) if run.samples_dir.is_dir() else 0,
    })
    return summary


def _numbers_checked(record: dict) -> dict:
    """A logged record whose step, epoch and timing are numbers (an edited or damaged log may hold anything)."""
    checked = dict(record)
    for key in ("step", "epoch", "train_seconds"):
        if not isinstance(checked.get(key, 0), (int, float)) or isinstance(checked.get(key), bool):
            checked[key] = 0
    return checked
