"""`genlab compare`: VAEs against GANs (or any generators) on the same data, measured.

Runs that differ only in their seed form one recipe; each recipe gets the mean and the
spread over its seeds of:
- sample quality: FID, KID, precision, recall, density, coverage (genlab eval's quality
  group, in the reference classifier's feature space when the dataset has one);
- diversity: class entropy and the largest class's share of the samples;
- reconstruction: PSNR and SSIM for models with an encoder (a GAN has none: it cannot
  map data back to its latent space, and the table says so);
- cost: training images/s and sampling samples/s, measured by this command side by side
  (genlab.eval.throughput), and the parameter count;
- stability: the spread of the final FID over seeds, runs that did not finish (a NaN
  stop leaves a run unfinished), and collapse events (a run whose samples put more than
  half their mass on one class, or whose class entropy is under half its maximum).
Results missing from a run's eval.json are computed once and stored there.
Outputs: HTML with sample grids side by side and plots (genlab.report.compare_page), and
the same tables as Markdown and JSON.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from pathlib import Path

import torch

from genlab.api import load
from genlab.apps.outputs import write_grid
from genlab.errors import GenlabError
from genlab.eval import throughput
from genlab.eval.registry import applicable_metrics
from genlab.eval.runner import evaluate
from genlab.eval.stored import read_eval, store_eval
from genlab.files import check_output_path, write_text_atomic
from genlab.report.compare_page import QUALITY, to_html, to_markdown
from genlab.report.summary import run_summary
from genlab.runs import RunDirectory
from genlab.samplers import draw_samples

# settings that change how a run is watched or where it runs, not what it learns
NOT_RECIPE = {"train.progress", "train.tensorboard", "train.device", "train.log_every", "train.checkpoint_every",
              "train.checkpoint_epochs", "train.preview_samples", "train.compile", "train.flush_denormals", "data.root"}


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
    entries = [_describe(Path(run), samples, seed, device, progress) for run in runs]
    speeds = throughput.measure_throughput([entry["run"] for entry in entries], device=device, seed=seed)
    for entry in entries:
        entry.update({key: speeds[entry["run"]][key] for key in ("train_images_per_s", "samples_per_s")})
    comparison = {"data": entries[0]["data"], "samples": samples, "seed": seed,
                  "feature_space": entries[0]["feature_space"], "recipes": _recipes(entries),
                  "speed_protocol": throughput.PROTOCOL}
    grids = {recipe["recipe"]: sample_grid_png(recipe["runs"][0], seed, device) for recipe in comparison["recipes"]}
    html_path, markdown_path, json_path = output_paths(output)
    write_text_atomic(json_path, json.dumps(comparison, indent=2) + "\n")
    write_text_atomic(markdown_path, to_markdown(comparison))
    write_text_atomic(html_path, to_html(comparison, grids))
    return comparison


# ---- gathering ----------------------------------------------------------------------------


def _describe(run: Path, samples: int, seed: int, device: str, progress: bool) -> dict:
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
            fresh = evaluate(run, missing, samples=samples, seed=seed, bootstrap=0, device=device, progress=progress)
        except GenlabError as error:
            if "diversity" not in missing or "reference classifier" not in str(error):
                raise
            missing.remove("diversity")  # no classifier for this data: no class histogram, the rest still counts
            fresh = evaluate(run, missing, samples=samples, seed=seed, bootstrap=0, device=device, progress=progress)
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


GRID_SAMPLES = 64


def sample_grid_png(run: str | Path, seed: int, device: str) -> bytes:
    """PNG bytes of a grid of GRID_SAMPLES samples of a run, drawn with `seed` (empty for vector data)."""
    model = load(run, device=device)
    if not model.capabilities.images:
        return b""
    samples = draw_samples(model, run, GRID_SAMPLES, generator=torch.Generator().manual_seed(seed))
    with tempfile.TemporaryDirectory() as scratch:
        return write_grid(model, samples, Path(scratch) / "grid.png", columns=8).read_bytes()
