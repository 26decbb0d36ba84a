"""The report's section on a run's anomaly detector (the detector.json of `genlab detect fit`): its threshold
against the training records' scores, and what made the most anomalous training records stand out, from the
same per-part split as `genlab detect explain` (columns of a table, features of vectors, pixels of images)."""

from __future__ import annotations

import html

import numpy as np
import torch

from genlab.api import run_data_config
from genlab.apps.anomaly import PER_FEATURE, AnomalyDetector
from genlab.apps.detect_runs import explanation_array
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.images import grid_picture, heat_maps, png_bytes
from genlab.models.latent import to_unit_range

SCORED_RECORDS = 5000  # training records scored for this section (the first ones of the run's training data)
TOP_RECORDS = 8  # the most anomalous of them shown with their explanation
TOP_PARTS = 5  # a record's parts named in the table
CHART_PARTS = 15  # columns or features in the bar chart


def detector_section(directory, figure, device: str = "cpu") -> str:
    """HTML for the run's detector, or "" when the run has none; `figure(png, caption)` embeds a PNG."""
    if not directory.detector_path.is_file():
        return ""
    heading = "<h2>Anomaly detector</h2>"
    try:
        detector = AnomalyDetector.load(directory.root, device=device)
        reference = detector.training_reference()  # an older detector.json has none: one line, not a traceback
    except GenlabError as error:
        return f"{heading}<p class='note'>Not shown: {html.escape(str(error))}</p>"
    flagged = f"{detector.contamination_:.1%} of the {reference.count:,} training records"
    rows = [("score", detector.score_), ("threshold", f"{detector.threshold_:.5g} (a record scoring above it is an anomaly)"),
            ("contamination", str(detector.contamination)), ("flagged when fitted", flagged)]
    table = "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"
    parts = [heading, table, figure(_score_plot(reference, detector.threshold_),
                                    "training records' scores (share at or below each score) and the threshold")]
    parts.append(_explanations(directory, detector, figure))
    return "".join(parts)


def _explanations(directory, detector, figure) -> str:
    heading = "<h3>The most anomalous training records</h3>"
    if detector.score_ not in PER_FEATURE:
        return (f"{heading}<p class='note'>The {html.escape(detector.score_)} score does not split into parts "
                f"(explanations need score {', '.join(PER_FEATURE)}).</p>")
    model = detector.model_
    try:
        x, _ = model_inputs(model, run_data_config(directory.root, model), "train", SCORED_RECORDS)
    except GenlabError as error:  # the data may be gone: the rest of the report still stands
        return f"{heading}<p class='note'>Not shown: {html.escape(str(error))}</p>"
    scores = detector.anomaly_scores_inputs(x)
    top = np.argsort(-scores, kind="stable")[:TOP_RECORDS]
    values, names = explanation_array(detector.explain_inputs(x[torch.as_tensor(top)]))
    note = (f"<p class='note'>The {len(top)} highest scores among the first {len(x):,} training records, each split "
            "into what its parts add (the parts sum to the score; as <code>genlab detect explain</code> gives them). "
            "Row: the record's place in the run's training data, from 0.</p>")
    if values.ndim > 2:  # images: the records above, their maps below
        images = to_unit_range(x[torch.as_tensor(top)].float().cpu(), model.config.value_range)
        maps = heat_maps(torch.as_tensor(values)).expand(-1, images.shape[1], -1, -1)
        caption = "records (above) and where their scores come from (below, white: the largest part)"
        return heading + note + figure(png_bytes(grid_picture(torch.cat([images, maps]), columns=len(top))), caption)
    rows = []
    for rank, (record, parts) in enumerate(zip(top, values), 1):
        order = np.argsort(-parts, kind="stable")[:TOP_PARTS]
        total = parts.sum()
        named = ", ".join(f"{html.escape(names[i])} {parts[i]:+.3g}" + (f" ({parts[i] / total:.0%})" if total > 0 else "")
                          for i in order)
        rows.append(f"<tr><td class='number'>{rank}</td><td class='number'>{record}</td>"
                    f"<td class='number'>{scores[record]:.4g}</td><td>{named}</td></tr>")
    table = ("<table><tr><th>rank</th><th>row</th><th>score</th><th>largest parts (share of the score)</th></tr>"
             + "".join(rows) + "</table>")
    chart = figure(_parts_chart(values, names), "what the parts add, summed over these records (largest first)")
    return heading + note + table + chart


def _score_plot(reference, threshold: float) -> bytes:
    # matplotlib takes a second to import: only when a report draws a detector
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores = reference.sorted_scores
    plot = Figure(figsize=(6.4, 3.2), dpi=100)
    FigureCanvasAgg(plot)
    axes = plot.add_subplot()
    axes.plot(scores, np.linspace(0.0, 1.0, len(scores)), color="#2b6cb0")
    axes.axvline(threshold, color="#c53030", linestyle="--", label=f"threshold {threshold:.4g}")
    # a long tail would squash the bulk into one edge: the axis ends past the 99th percentile and the threshold
    right = max(float(np.quantile(scores, 0.99)), threshold)
    axes.set_xlim(scores[0] - 0.05 * (right - scores[0]), right + 0.25 * (right - scores[0]))
    axes.set_xlabel("anomaly score" + (" (the top 1% of scores reach further right)" if scores[-1] > right else ""))
    axes.set_ylabel("share of training records")
    axes.legend(loc="lower right")
    plot.tight_layout()
    return png_bytes(plot)


def _parts_chart(values: np.ndarray, names: list[str]) -> bytes:
    # as above
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    totals = values.sum(0)
    order = np.argsort(-totals, kind="stable")[:CHART_PARTS][::-1]
    plot = Figure(figsize=(6.4, 0.8 + 0.28 * len(order)), dpi=100)
    FigureCanvasAgg(plot)
    axes = plot.add_subplot()
    labels = [names[i].replace("$", r"\$") for i in order]  # a "$" in a column name is not maths
    axes.barh(labels, totals[order], color=["#c53030" if totals[i] > 0 else "#718096" for i in order])
    axes.set_xlabel("summed part of the score")
    plot.tight_layout()
    return png_bytes(plot)
