"""Training curves as a PNG (matplotlib, without pyplot's global state)."""

from __future__ import annotations

from pathlib import Path

from genlab.files import atomic_path
from genlab.training.metrics import read_metrics


def plot_training_curves(metrics_path: Path, output: Path) -> Path | None:
    """Plot every loss in metrics.jsonl against the step, training and validation; None if nothing to plot."""
    # matplotlib takes about half a second to import: only when a plot is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = read_metrics(metrics_path)
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        split = record.get("split")
        if split not in ("train", "val"):
            continue
        for key, value in record.items():
            if key.endswith("loss") and isinstance(value, (int, float)):
                steps, values = series.setdefault(f"{split} {key}", ([], []))
                steps.append(record["step"])
                values.append(value)
    if not series:
        return None
    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, (steps, values) in sorted(series.items()):
        axes.plot(steps, values, label=label, marker="o" if label.startswith("val") else None, markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_path(output) as scratch:
        figure.savefig(scratch, format="png")
    return output
