"""`genlab report`: one self-contained HTML page about a run.

Everything is inside the file (PNG images as base64 data, CSS inline, no scripts, no
links to the network), so it opens from disk, mails as an attachment and archives as it
is. Sections: summary, resolved config, loss curves, sample grids across training, the
last reconstructions, for a model of audio its samples and reconstructions to play, a latent map, the anomaly detector of `genlab detect fit` with the
explanations of its most anomalous training records, and the metrics of `genlab eval`.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from pathlib import Path

from genlab.api import load, run_data_config
from genlab.apps.latent import scatter_plot
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.eval.formatting import format_results
from genlab.eval.stored import read_eval
from genlab.files import check_output_path, write_text_atomic
from genlab.report.audio import audio_section
from genlab.report.detector import detector_section
from genlab.report.summary import run_summary
from genlab.runs import RunDirectory
from genlab.training.curves import plot_training_curves

MAX_GRIDS = 6  # sample grids shown across training
MAP_POINTS = 2000

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 24px; color: #1d232a; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d9dee3; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
th { color: #56606b; font-weight: 600; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f7f9; padding: 12px; overflow-x: auto; font-size: 13px; }
figure { display: inline-block; margin: 0 16px 16px 0; } figcaption { color: #56606b; font-size: 13px; }
img { image-rendering: pixelated; max-width: 100%; } .note { color: #56606b; }
"""


def render_report(run: str | Path, output: str | Path | None = None, eval_file: str | Path | None = None,
                  device: str = "cpu") -> Path:
    """Write the report of `run` to `output` (default RUN/report.html) and return its path."""
    directory = RunDirectory.open(run)
    output = Path(output) if output is not None else directory.report_path
    check_output_path(output, (".html", ".htm"))
    summary = run_summary(directory.root)
    evaluation = read_eval(eval_file if eval_file is not None else directory.root)
    if eval_file is not None and evaluation is None:
        raise GenlabError(f"{eval_file}: no such file")
    outdated = evaluation is None and read_eval(directory.root, current=False) is not None

    sections = [_summary_section(summary), _curves_section(directory), _samples_section(directory),
                audio_section(directory, device), _latent_section(directory, device),
                detector_section(directory, _figure, device),
                _metrics_section(evaluation, outdated),
                f"<h2>Configuration</h2><pre>{html.escape(directory.config_path.read_text())}</pre>"]
    title = f"{summary['model']} on {summary.get('data') or '?'}"
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>genlab report: {html.escape(title)}</title>"
            f"<meta name='genlab-weights-sha256' content='{summary['weights_sha256']}'><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='note'>{html.escape(str(directory.root))}</p>{''.join(s for s in sections if s)}</body></html>")
    write_text_atomic(output, page)
    return output


# ---- sections ------------------------------------------------------------------------------


def _summary_section(summary: dict) -> str:
    rows = [("model", f"{summary['model']} ({summary['class']})"), ("parameters", f"{summary['parameters']:,}"),
            ("data", f"{summary.get('data')} — samples of shape {'x'.join(map(str, summary['data_shape']))}")]
    if summary.get("latent_dim"):
        rows.append(("code", f"{summary['latent_dim']} dimensions, {summary.get('arch')} networks"))
    rows += [("training", f"{summary.get('epochs_done')} of {summary.get('epochs_planned')} epochs, {summary.get('step'):,} steps, "
                          f"{'finished' if summary.get('finished') else 'not finished'}"
                          + (f" ({summary['stopped']})" if summary.get("stopped") else "")),
             ("training time", f"{summary.get('train_seconds', 0):.1f} s on {summary.get('device')} ({summary.get('precision')})"),
             ("throughput", f"{summary['images_per_s']:,.0f} images/s (median over logging windows)"
              if summary.get("images_per_s") else "-"),
             ("seed", str(summary.get("seed"))),
             ("weights", f"SHA-256 {summary['weights_sha256'][:16]}… (every figure here describes these weights)")]
    last = summary.get("last_validation") or {}
    if last:
        rows.append(("last validation", ", ".join(f"{k} {v:.5g}" for k, v in last.items() if isinstance(v, (int, float)))))
    return "<h2>Summary</h2>" + _table(rows)


def _curves_section(directory) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = plot_training_curves(directory.metrics_path, Path(scratch) / "losses.png") if directory.metrics_path.is_file() else None
        if path is None:
            return "<h2>Losses</h2><p class='note'>No losses were logged yet.</p>"
        return "<h2>Losses</h2>" + _figure(path.read_bytes(), "training and validation losses against the step")


def _samples_section(directory) -> str:
    if not directory.samples_dir.is_dir():
        return ""
    samples = sorted(directory.samples_dir.glob("epoch_*_samples.png"), key=_epoch)
    reconstructions = sorted(directory.samples_dir.glob("epoch_*_reconstructions.png"), key=_epoch)
    if not samples and not reconstructions:
        return ""
    parts = []
    if samples:
        shown = [samples[round(i * (len(samples) - 1) / max(1, min(MAX_GRIDS, len(samples)) - 1))]
                 for i in range(min(MAX_GRIDS, len(samples)))]
        parts.append("<h2>Samples across training</h2>" + "".join(
            _figure(path.read_bytes(), f"epoch {_epoch(path)}") for path in dict.fromkeys(shown)))
    if reconstructions:
        last = reconstructions[-1]
        parts.append("<h2>Reconstructions</h2>" + _figure(last.read_bytes(), f"epoch {_epoch(last)}: originals above, "
                                                                          "reconstructions below"))
    return "".join(parts)


def _latent_section(directory, device: str = "cpu") -> str:
    model = load(directory.root, device=device)
    if not model.capabilities.label_free_codes:
        return ""
    try:
        x, y = model_inputs(model, run_data_config(directory.root, model), "test", MAP_POINTS)
    except GenlabError as error:  # the data may be gone or offline: the rest of the report still stands
        return f"<h2>Latent map</h2><p class='note'>Not drawn: {html.escape(str(error))}</p>"
    with tempfile.TemporaryDirectory() as scratch:
        path = scatter_plot(model, x, y, Path(scratch) / "map.png")
        return "<h2>Latent map</h2>" + _figure(path.read_bytes(), f"codes of {len(x):,} test samples"
                                                                     + (" coloured by class" if y is not None else ""))


def _metrics_section(evaluation: dict | None, outdated: bool = False) -> str:
    if evaluation is None:
        what = ("The stored evaluation is of earlier weights (the run was trained further since), so it is not shown"
                if outdated else "No evaluation yet")
        return (f"<h2>Evaluation</h2><p class='note'>{what}: run <code>genlab eval RUN</code>, "
                "which stores its results in the run directory, then render the report again.</p>")

    rows = []
    for group, values in evaluation.get("metrics", {}).items():
        for name, value in _flat(values):
            if isinstance(value, (int, float)) and not name.endswith(("_interval", "_std", "std_error")):
                rows.append((group, name, f"{value:.5g}" if isinstance(value, float) else str(value)))
    table = "<table><tr><th>group</th><th>metric</th><th>value</th></tr>" + "".join(
        f"<tr><td>{html.escape(g)}</td><td>{html.escape(n)}</td><td class='number'>{v}</td></tr>" for g, n, v in rows) + "</table>"
    try:
        text = format_results(evaluation)
    except (KeyError, TypeError):
        text = ""
    protocol = json.dumps(evaluation.get("protocol", {}), indent=2)
    return (f"<h2>Evaluation</h2>{table}<details><summary>Protocol</summary><pre>{html.escape(protocol)}</pre></details>"
            + (f"<details><summary>As printed by genlab eval</summary><pre>{html.escape(text)}</pre></details>" if text else ""))


# ---- helpers -------------------------------------------------------------------------------


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"


def _epoch(path: Path) -> int:
    return int(path.name.split("_")[1])


def _flat(values, prefix: str = ""):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _flat(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    else:
        yield prefix, values
