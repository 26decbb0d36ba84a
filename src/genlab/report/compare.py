"""`genlab compare`: VAEs against GANs (or any generators) on the same data, measured.

Runs that differ only in their seed form one recipe; each recipe gets the mean and the
spread over its seeds of:
- sample quality: FID, KID, precision, recall, density, coverage (genlab eval's quality
  group, in the reference classifier's feature space when the dataset has one);
- diversity: class entropy and the largest class's share of the samples;
- reconstruction: PSNR and SSIM for models with an encoder (a GAN has none: it cannot
  map data back to its latent space, and the table says so);
- cost: training images/s, sampling samples/s, parameter count;
- stability: the spread of the final FID over seeds, runs that did not finish (a NaN
  stop leaves a run unfinished), and collapse events (a run whose samples put more than
  half their mass on one class, or whose class entropy is under half its maximum).
Results missing from a run's eval.json are computed once and stored there.
Outputs: HTML with plots, and the same tables as Markdown and JSON.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import statistics
from pathlib import Path

from genlab.api import load
from genlab.errors import GenlabError
from genlab.eval.registry import applicable_metrics
from genlab.eval.runner import evaluate
from genlab.eval.stored import read_eval, store_eval
from genlab.files import check_output_path, write_text_atomic
from genlab.report.html import STYLE
from genlab.report.summary import run_summary
from genlab.runs import RunDirectory

QUALITY = ("fid", "kid", "precision", "recall", "density", "coverage")
# settings that change how a run is watched or where it runs, not what it learns
NOT_RECIPE = {"train.progress", "train.tensorboard", "train.device", "train.log_every", "train.checkpoint_every",
              "train.preview_samples", "train.compile", "data.root"}
LOWER_IS_BETTER = {"fid", "kid"}


def output_paths(output: str | Path) -> tuple[Path, Path, Path]:
    """The three files a comparison writes: OUTPUT.html, and .md and .json beside it."""
    output = Path(output)
    return output, output.with_suffix(".md"), output.with_suffix(".json")


def compare_runs(runs: list[str | Path], output: str | Path = "compare.html", *, samples: int = 5000, seed: int = 0,
                 device: str = "cpu", progress: bool = True) -> dict:
    """Evaluate and compare `runs`; write OUTPUT (.html) with .md and .json beside it; return the comparison."""
    output = Path(output)
    check_output_path(output, (".html", ".htm"))
    if len(runs) < 2:
        raise GenlabError("compare needs at least two runs")

    # checked before any evaluation, which can take minutes per run
    datasets = {RunDirectory.open(run).read_config().get("data", {}).get("name") for run in runs}
    if len(datasets) > 1:
        raise GenlabError(f"runs are on different data ({', '.join(sorted(map(str, datasets)))}); compare runs of one dataset")
    entries = [_describe(Path(run), samples, seed, progress) for run in runs]
    comparison = {"data": entries[0]["data"], "samples": samples, "seed": seed,
                  "feature_space": entries[0]["feature_space"], "recipes": _recipes(entries)}
    write_text_atomic(output.with_suffix(".json"), json.dumps(comparison, indent=2) + "\n")
    write_text_atomic(output.with_suffix(".md"), to_markdown(comparison))
    write_text_atomic(output, to_html(comparison))
    return comparison


# ---- gathering ----------------------------------------------------------------------------


def _describe(run: Path, samples: int, seed: int, progress: bool) -> dict:
    """One run's numbers, computing (and storing) the evaluation groups it lacks."""
    directory = RunDirectory.open(run)
    summary = run_summary(run)
    model = load(run)
    available = applicable_metrics(model)
    if "quality" not in available:
        raise GenlabError(f"{run}: a {model.model_name} does not generate samples; compare generators (ae, vae, gan, ...)")
    stored = read_eval(run) or {"metrics": {}, "protocol": {}}
    same_protocol = stored["protocol"].get("generation", {}).get("samples") == samples and stored["protocol"].get("seed") == seed
    wanted = ["quality", "diversity"] + (["reconstruction"] if "reconstruction" in available else [])
    missing = [g for g in wanted if g not in stored["metrics"] or (g in ("quality", "diversity") and not same_protocol)]
    if missing:
        try:
            fresh = evaluate(run, missing, samples=samples, seed=seed, bootstrap=0, progress=progress)
        except GenlabError as error:
            if "diversity" not in missing or "reference classifier" not in str(error):
                raise
            missing.remove("diversity")  # no classifier for this data: no class histogram, the rest still counts
            fresh = evaluate(run, missing, samples=samples, seed=seed, bootstrap=0, progress=progress)
        stored = {"metrics": {**stored["metrics"], **fresh["metrics"]}, "protocol": {**stored["protocol"], **fresh["protocol"]}}
        store_eval(directory.root, stored)
    metrics, protocol = stored["metrics"], stored["protocol"]
    diversity = metrics.get("diversity", {})
    classes = len(diversity.get("class_histogram", [])) or None
    collapsed = bool(diversity) and (diversity.get("largest_class", 0) > 0.5
                                     or diversity.get("entropy", 0) < 0.5 * math.log(classes or 1))
    config = directory.read_config()
    return {
        "run": str(run), "model": summary["model"], "data": summary.get("data"), "seed": config.get("seed"),
        "recipe": recipe_key(config),
        "model_settings": config.get("model", {}), "parameters": summary["parameters"],
        "finished": summary.get("finished"), "train_seconds": summary.get("train_seconds"),
        "train_images_per_s": summary.get("images_per_s"),
        "samples_per_s": protocol.get("generation", {}).get("samples_per_second"),
        "feature_space": protocol.get("feature_space", {}).get("name"),
        **{name: metrics.get("quality", {}).get(name) for name in QUALITY},
        "entropy": diversity.get("entropy"), "largest_class": diversity.get("largest_class"),
        "psnr": metrics.get("reconstruction", {}).get("psnr"), "ssim": metrics.get("reconstruction", {}).get("ssim"),
        "collapsed": collapsed,
    }


def recipe_key(config: dict) -> str:
    """The settings that define what a run learns: its config less the seed and the bookkeeping."""
    kept = {section: ({k: v for k, v in values.items() if f"{section}.{k}" not in NOT_RECIPE}
                      if isinstance(values, dict) else values)
            for section, values in config.items() if section != "seed"}
    return json.dumps(kept, sort_keys=True, default=str)


def _recipes(entries: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        groups.setdefault(entry["recipe"], []).append(entry)
    labels = _labels([group[0] for group in groups.values()])
    recipes = []
    for group, label in zip(groups.values(), labels):
        recipe = {"recipe": label, "model": group[0]["model"], "runs": [e["run"] for e in group],
                  "seeds": [e["seed"] for e in group], "parameters": group[0]["parameters"],
                  "has_encoder": group[0]["psnr"] is not None,
                  "unfinished_runs": sum(1 for e in group if not e["finished"]),
                  "collapse_events": sum(1 for e in group if e["collapsed"])}
        for name in (*QUALITY, "entropy", "largest_class", "psnr", "ssim", "train_images_per_s", "samples_per_s"):
            values = [e[name] for e in group if isinstance(e[name], (int, float))]
            recipe[name] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
                            "min": min(values), "max": max(values), "n": len(values)} if values else None
        recipes.append(recipe)
    return recipes


def _labels(firsts: list[dict]) -> list[str]:
    """Model name plus the settings that tell the recipes apart (e.g. 'gan loss=hinge')."""
    labels = []
    for entry in firsts:
        same_model = [e for e in firsts if e["model"] == entry["model"]]
        differing = sorted({k for e in same_model for k in set(e["model_settings"]) | set(entry["model_settings"])
                            if e["model_settings"].get(k) != entry["model_settings"].get(k)})
        extra = " ".join(f"{k}={entry['model_settings'].get(k)}" for k in differing)
        labels.append(f"{entry['model']} {extra}".strip())
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # recipes that differ outside the model section keep distinct names
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels


# ---- rendering ----------------------------------------------------------------------------


def _cell(stat: dict | None, digits: int = 3, scale: float = 1.0) -> str:
    if stat is None:
        return "—"
    text = f"{scale * stat['mean']:.{digits}f}"
    return text + (f" ± {scale * stat['std']:.{digits}f}" if stat["std"] is not None else "")


def table_rows(comparison: dict) -> tuple[list[str], list[list[str]]]:
    header = ["recipe", "seeds", "FID", "KID x1000", "precision", "recall", "density", "coverage", "class entropy",
              "reconstruction PSNR", "train img/s", "samples/s", "parameters", "FID spread (max-min)",
              "unfinished runs", "collapse events"]
    rows = []
    for r in comparison["recipes"]:
        spread = f"{r['fid']['max'] - r['fid']['min']:.3f}" if r["fid"] and r["fid"]["n"] > 1 else "—"
        rows.append([r["recipe"], str(len(r["seeds"])), _cell(r["fid"]), _cell(r["kid"], 3, 1000), _cell(r["precision"]),
                     _cell(r["recall"]), _cell(r["density"]), _cell(r["coverage"]), _cell(r["entropy"]),
                     _cell(r["psnr"], 2) if r["has_encoder"] else "none (no encoder)",
                     _cell(r["train_images_per_s"], 0), _cell(r["samples_per_s"], 0), f"{r['parameters']:,}", spread,
                     str(r["unfinished_runs"]), str(r["collapse_events"])])
    return header, rows


def to_markdown(comparison: dict) -> str:
    header, rows = table_rows(comparison)
    lines = [f"# Comparison on {comparison['data']}", "",
             f"{comparison['samples']:,} samples per run, seed {comparison['seed']}; feature space: "
             f"{comparison['feature_space']}. Mean ± standard deviation over seeds.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "A GAN has no encoder, so it cannot reconstruct data: its reconstruction cell says so rather than "
                  "showing a number. Lower FID and KID are better; higher precision, recall, density, coverage and "
                  "entropy are better.", ""]
    return "\n".join(lines)


def to_html(comparison: dict) -> str:
    header, rows = table_rows(comparison)
    table = ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>")

    plots = "".join(f"<figure><img src='data:image/png;base64,{png}' alt='{html.escape(alt)}'>"
                    f"<figcaption>{html.escape(alt)}</figcaption></figure>" for png, alt in _plots(comparison))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>genlab comparison: "
            f"{html.escape(str(comparison['data']))}</title><style>{STYLE} td {{ white-space: nowrap; }}</style></head><body>"
            f"<h1>Comparison on {html.escape(str(comparison['data']))}</h1>"
            f"<p class='note'>{comparison['samples']:,} samples per run; feature space: "
            f"{html.escape(str(comparison['feature_space']))}; mean ± standard deviation over seeds.</p>"
            f"<div style='overflow-x:auto'>{table}</div>{plots}"
            "<p class='note'>A GAN has no encoder, so it cannot reconstruct data. Lower FID and KID are better; higher "
            "precision, recall, density, coverage and entropy are better.</p></body></html>")


def _plots(comparison: dict) -> list[tuple[str, str]]:
    # matplotlib takes about half a second to import: only when a plot is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recipes = [r for r in comparison["recipes"] if r["fid"]]
    if not recipes:
        return []
    figures = []
    figure = Figure(figsize=(6.4, 0.5 + 0.45 * len(recipes)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = [r["recipe"] for r in recipes]
    axes.barh(names, [r["fid"]["mean"] for r in recipes], xerr=[r["fid"]["std"] or 0 for r in recipes], color="tab:blue")
    axes.invert_yaxis()
    axes.set_xlabel("FID (lower is better); bars: spread over seeds")
    figure.tight_layout()
    figures.append((_png(figure), "FID by recipe"))
    if all(r["precision"] and r["recall"] for r in recipes):
        figure = Figure(figsize=(5.0, 4.2), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for r in recipes:
            axes.scatter(r["recall"]["mean"], r["precision"]["mean"], s=40)
            axes.annotate(r["recipe"], (r["recall"]["mean"], r["precision"]["mean"]), fontsize=8, xytext=(4, 4),
                          textcoords="offset points")
        axes.set_xlabel("recall (diversity)")
        axes.set_ylabel("precision (fidelity)")
        axes.set_xlim(0, 1.05)
        axes.set_ylim(0, 1.05)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figures.append((_png(figure), "precision against recall"))
    return figures


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
