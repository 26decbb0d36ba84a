"""Write benchmarks/RESULTS.md from the JSON files in benchmarks/results/.

Each benchmark has a renderer below; RESULTS.md is never edited by hand.

Run:  python benchmarks/make_results.py
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine_line(result: dict) -> str:
    m = result["machine"]
    return (f"Measured on {m['cpu']} ({m['cores']} cores, {m['torch_threads']} torch thread{'s' if m['torch_threads'] != 1 else ''}), "
            f"torch {m['torch']}, genlab commit {m['genlab_commit'] or '?'}, {m['date']}"
            + (f"; CPU features {', '.join(m['cpu_features'])}." if m.get("cpu_features") else "."))


def vs_pythae(result: dict) -> list[str]:
    p = result["protocol"]
    bf16 = result["bf16"]
    return [
        "## genlab vs pythae: VAE on MNIST",
        "",
        f"Script: `benchmarks/vs_pythae.py`. {p['data']}: {p['train_samples']:,} training, {p['val_samples']:,} "
        f"validation, {p['test_samples']:,} test images. {p['networks']}; {p['epochs']} epochs, batch "
        f"{p['batch_size']}, {p['optimizer']}; seeds {', '.join(map(str, p['seeds']))}; {p['isolation']}. "
        f"Initialisation: {p.get('initialisation', 'each tool its default')}.",
        f"Test ELBO: {p['test_elbo']}. Throughput: {p['throughput']}.",
        "",
        "| tool | precision | training images/s | test negative ELBO (nats, mean ± sd over seeds) |",
        "|---|---|---:|---:|",
        f"| genlab | {p['genlab_precision']} | {result['images_per_s_genlab']:,.0f} | "
        f"{result['test_elbo_genlab']:.2f} ± {result['test_elbo_genlab_std']:.2f} |",
        f"| pythae {p['pythae_version']} | fp32 | {result['images_per_s_pythae']:,.0f} | "
        f"{result['test_elbo_pythae']:.2f} ± {result['test_elbo_pythae_std']:.2f} |",
        f"| genlab, `train.precision=bf16` | bf16 | {bf16['images_per_s']:,.0f} | "
        f"{bf16['test_elbo']:.2f} ± {bf16['test_elbo_std']:.2f} |",
        "",
        f"Throughput ratio genlab / pythae: **{result['throughput_ratio']:.2f}x** with genlab's defaults, "
        f"{bf16['throughput_ratio']:.2f}x with bf16.",
        "",
        machine_line(result),
    ]


def trainer_overhead(result: dict) -> list[str]:
    p = result["protocol"]
    return [
        "## Trainer overhead",
        "",
        f"Script: `benchmarks/trainer_overhead.py`. {p['model']} on {p['data']}, batch {p['batch_size']}, "
        f"{p['steps']} steps, {p['optimizer']}, {p['precision']}; {p['repeats']} alternating repeats, {p['statistic']}. "
        f"The Trainer adds: {p['trainer_extras']}.",
        "",
        "| loop | seconds per repeat | images/s (median) |",
        "|---|---|---:|",
        f"| bare PyTorch | {', '.join(f'{t:.2f}' for t in result['seconds_bare'])} | {result['images_per_s_bare']:,.0f} |",
        f"| genlab Trainer | {', '.join(f'{t:.2f}' for t in result['seconds_genlab'])} | {result['images_per_s_genlab']:,.0f} |",
        "",
        f"Slowdown (genlab time / bare time): **{result['slowdown']:.3f}**.",
        "",
        machine_line(result),
    ]


def classifier(result: dict) -> list[str]:
    lines = ["## Classifier", "",
             "Script: `benchmarks/classifier.py`. genlab's reference recipes (`genlab.eval.features.REFERENCE_RECIPES`), "
             "trained on the 54,000-image training split, scored on the official 10,000 test images.", "",
             "| dataset | test accuracy | training time (s) | epochs | precision | weights SHA-256 |",
             "|---|---:|---:|---:|---|---|"]
    for name in ("mnist", "fashion-mnist"):
        if name in result:
            r = result[name]
            lines.append(f"| {name} | {100 * r['test_accuracy']:.2f}% | {r['train_seconds']:.0f} | "
                         f"{r['recipe']['train']['epochs']} | {r['precision']} | `{r['weights_sha256'][:16]}` |")
    return lines + ["", machine_line(result)]


def gan_modes(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## GAN mode coverage", "",
             f"Script: `benchmarks/gan_modes.py`. {p['model']}, {p['budget_minutes']} minutes of training; "
             f"{p['samples']:,} samples classified by {p['judge']}; goal: {p['goal']}.", "",
             "| dataset | largest class | smallest class | entropy (max 2.303) | classes present | steps | samples |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in ("mnist", "fashion-mnist"):
        if name in result:
            r = result[name]
            lines.append(f"| {name} | {100 * r['largest_class']:.1f}% | {100 * r['smallest_class']:.1f}% | {r['entropy']:.3f} | "
                         f"{r['classes_present']} | {r['steps']:,} | ![]({'results/' + r['grid']}) |")
    return lines + ["", machine_line(result)]


def gan_vs_reference(result: dict) -> list[str]:
    if "summary" not in result:
        return _gan_vs_reference_equal_time(result)
    p = result["protocol"]
    seeds = sorted({c["seed"] for c in result["cells"]})
    lines = ["## genlab GAN vs the PyTorch examples' DCGAN: equal steps and equal time", "",
             f"Script: `benchmarks/gan_vs_reference.py`. genlab: {p['genlab']}. reference-32: {p['reference-32']}. "
             f"reference-64: {p['reference-64']}. Equal time: {p['equal_time']}. Fréchet distance between "
             f"{p['samples']:,} samples and the {p['reference_images']} in the {p['feature_space']}; "
             + (f"seeds {', '.join(map(str, seeds))}, mean ± sd." if len(seeds) > 1 else
                f"seed {seeds[0]} only so far (the other seeds are still to run)."), "",
             "| dataset | model | budget | steps | seconds | FID (lower is better) | largest class | batch | precision | parameters (G) |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for name in ("mnist", "fashion-mnist"):
        rows = result["summary"].get(name, {})
        order = sorted(rows.values(), key=lambda r: (r["budget"] == "genlab's time", r["steps"], r["model"]))
        for r in order:
            spread = f" ± {r['fid_sd']:.2f}" if r["seeds"] > 1 else ""
            lines.append(f"| {name} | {r['model']} | {r['budget']} | {r['steps']:,.0f} | {r['seconds']:,.0f} | "
                         f"{r['fid']:.2f}{spread} | {100 * r['largest_class']:.1f}% | {r['batch_size']} | "
                         f"{r['precision']} | {r['parameters']:,} |")
    grids = [f"![{k} {d}](results/gan_{k}_{d}.png)" for d in ("mnist", "fashion-mnist") if d in result["summary"]
             for k in ("genlab", "reference-32", "reference-64") if (RESULTS / f"gan_{k}_{d}.png").is_file()]
    return lines + ["", "Samples at the last budget (genlab) and at genlab's time (references), first seed:", "",
                    " ".join(grids), "", machine_line(result)]


def _gan_vs_reference_equal_time(result: dict) -> list[str]:
    """The earlier protocol's JSON: one seed, equal wall clock only, the reference at its published 64x64."""
    p = result["protocol"]
    lines = ["## genlab GAN vs the PyTorch examples' DCGAN, same time budget", "",
             f"Script: `benchmarks/gan_vs_reference.py` (earlier protocol: one seed, equal time only). "
             f"{p['budget_minutes']} minutes of training each; genlab: "
             f"{p['genlab']}; reference: {p['reference']}. Fréchet distance between {p['samples']:,} samples and the "
             f"{p['reference_images']} in the {p['feature_space']}.", "",
             "| dataset | model | FID (lower is better) | largest class | steps | batch | parameters | samples |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name in ("mnist", "fashion-mnist"):
        if name in result:
            for label, key in (("genlab", "genlab"), ("reference DCGAN", "reference")):
                r = result[name][key]
                lines.append(f"| {name} | {label} | {r['fid']:.2f} | {100 * r['largest_class']:.1f}% | {r['steps']:,} | "
                             f"{r['batch_size']} | {r['parameters']:,} | ![](results/gan_{key}_{name}.png) |")
    return lines + ["", "This compares throughput more than the models: the reference completes fewer steps at four "
                        "times the pixels in float32.", "", machine_line(result)]


def conv_cost(rows: dict) -> str:
    """What the convolutional decoder's k=5000 estimate costs next to the MLP's, per 1,000 test images."""
    if "vae-conv" not in rows or "vae-mlp" not in rows:
        return ""
    per_1000 = {name: rows[name]["nll_seconds"] / rows[name]["test_images"] * 1000 for name in ("vae-conv", "vae-mlp")}
    return (f"; the convolutional decoder's k=5000 estimate took {per_1000['vae-conv']:.0f} s per 1,000 test images against "
            f"the MLP's {per_1000['vae-mlp']:.0f} s (measured under other loads, so the ratio is rough)"
            + (f", which is why its row scores the first {rows['vae-conv']['test_images']:,} test images"
               if rows["vae-conv"]["test_images"] < 10_000 else ""))


def nll_mnist(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Table 1: negative log-likelihood on binarised MNIST", "",
             f"Script: `benchmarks/nll_mnist.py`. {p['data']}; {p['train_split']}; "
             f"{p['estimator']}; {p['optimizer']}; " + (f"seed {p['seed']}." if "seed" in p else f"{p['spread']}."), "",
             "| model | epochs | training (s) | test NLL, k=5000 (nats) | -ELBO (nats) | bits/dim | test images | NLL time (s) | parameters |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in result["rows"].items():
        spread = (f"{r['nll']:.2f} ± {r['nll_sd_seeds']:.2f} over {r['seeds']} seeds (± {r['nll_std_error']:.2f} over test images)"
                  if "nll_sd_seeds" in r else f"{r['nll']:.2f} ± {r['nll_std_error']:.2f} over test images, one seed")
        lines.append(f"| genlab {name} | {r['epochs']} | {r['train_seconds']:.0f} | {spread} | "
                     f"{r['neg_elbo']:.2f} | {r['bits_per_dim']:.4f} | {r['test_images']:,} | {r['nll_seconds']:.0f} | "
                     f"{r['parameters']:,} |")
    for name, value in result["published"].items():
        lines.append(f"| published: {name} | 3,280 | | {value:.2f} | | | 10,000 | | |")
    best = result["best"]
    published = result["published"]
    gaps = ", ".join(f"{best['nll'] - value:+.2f} nats from {name} ({value:.2f})" for name, value in published.items())
    lines += ["", f"Best genlab model: {best['model']} at {best['nll']:.2f} nats "
                  f"({'at or below' if best['at_or_below_vae_86_76'] else 'above'} the published VAE's 86.76); {gaps}. "
                  "± is the standard error over test images.", "",
              "What would go further: the published models trained for 3,280 epochs against genlab's "
              f"{max(r['epochs'] for r in result['rows'].values())}; the importance-weighted bound with more samples "
              "(k=50, as published) tightens the model's fit at a training cost growing with k; a second stochastic "
              "layer is worth about 2 nats in the paper" + conv_cost(result["rows"]) + "."]
    return lines + ["", machine_line(result)]


def sample_quality(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Table 2: sample quality", "",
             f"Script: `benchmarks/sample_quality.py`. {p['samples']:,} samples against the {p['reference']}, in the "
             f"{p['feature_space']} (SHA-256 {', '.join(f'{d} `{h[:12]}`' for d, h in result['classifier_sha256'].items())}). "
             f"AE/VAE/cVAE: conv, {p['epochs']} epochs; GANs: {p['gan_epochs']} epochs each. Mean ± {p['spread']}; "
             "n = seeds measured. FID and KID: lower is better; the rest: higher is better. Train s: training seconds on this "
             "machine (mean; AE and VAE rows serve two generators each).", ""]
    for dataset, generators in sorted(result["summary"].items(), key=lambda item: item[0] != "mnist"):  # MNIST first
        lines += [f"**{dataset}**", "",
                  "| generator | n | FID | KID | classifier score | precision | recall | density | coverage | class entropy | train s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in generators.items():
            rows = [r for r in result["runs"] if r["dataset"] == dataset and r["generator"] == name]
            n = len(rows)
            timed = [r["train_seconds"] for r in rows if "train_seconds" in r]
            seconds = f"{sum(timed) / len(timed):.0f}" if timed else ""

            lines.append(f"| {name} | {n} | {_cell(s, 'fid')} | {_cell(s, 'kid', digits=3)} | {_cell(s, 'classifier_score')} | "
                         f"{_cell(s, 'precision', digits=3)} | {_cell(s, 'recall', digits=3)} | "
                         f"{_cell(s, 'density', digits=3)} | {_cell(s, 'coverage', digits=3)} | {_cell(s, 'entropy', digits=3)} | {seconds} |")
        lines.append("")
    return lines + [machine_line(result)]


def _cell(summary: dict, key: str, scale: float = 1.0, digits: int = 2) -> str:
    if key not in summary:
        return ""
    return f"{scale * summary[key]['mean']:.{digits}f} ± {scale * summary[key]['std']:.{digits}f}"


def representation(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Table 3: representation probes", "",
             f"Script: `benchmarks/representation.py`. {p['models']}; code size {p['latent_dim']}, {p['epochs']} epochs. "
             f"Probes: {p['probes']}, fitted on the {p['probe_train']}, scored on the {p['probe_test']}. "
             f"Baselines: {p['baselines']}.", "",
             "| dataset | features | logistic probe | 5-NN | uses labels |", "|---|---|---:|---:|---|"]
    for dataset in ("mnist", "fashion-mnist"):
        if dataset in result:
            for name, r in result[dataset]["rows"].items():
                logistic, knn = (f"{100 * r[probe]:.2f}%" + (f" ± {100 * r[probe + '_sd']:.2f}" if probe + "_sd" in r else "")
                                 for probe in ("logistic", "knn"))
                lines.append(f"| {dataset} | {name} | {logistic} | {knn} | "
                             f"{'yes' if r['uses_labels'] else 'no'} |")
    return lines + ["", machine_line(result)]


def speed(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Table 4: training speed", "",
             f"Script: `benchmarks/speed.py`. {p['data']}. Bare loop: {p['bare_loop']}. genlab: {p['genlab']}. "
             f"Precision: {p['precision']}. {p['repeats']} alternating repeats, {p['statistic']}; "
             f"ratio = {p['ratio']}.", "",
             "| model family | precision | parameters | bare loop (images/s) | genlab (images/s) | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['family']} | {r['precision']} | {r['parameters']:,} | {r['images_per_s_bare']:,.0f} | "
                     f"{r['images_per_s_genlab']:,.0f} | {r['ratio']:.3f} |")
    return lines + ["", machine_line(result)]


def _interval(cell: dict | None, unit: str = " dB") -> str:
    return "n/a" if cell is None else f"{cell['mean']:+.2f} ± {cell['sd']:.2f}{unit}"


def app_compression(result: dict) -> list[str]:
    p = result["protocol"]
    rivals, genlab = p["rivals"], p["genlab"]
    lines = ["## Application: compression", "",
             f"Script: `benchmarks/app_compression.py`. {p['data']}. Rivals: {', '.join(rivals['codecs'])} "
             f"({rivals['settings']}; {', '.join(f'{k} {v}' for k, v in rivals['versions'].items())}). "
             f"Views: **per file** (every image its own file; genlab: {genlab['per_file']}); **shared** ({rivals['shared']}; "
             f"genlab: {genlab['shared']}); **decoder counted** ({p['decoder']}). {p['distortion']}. {p['margins']}.", "",
             f"Selection protocol: the codec was chosen among {', '.join(p['selection']['candidates'])} on the "
             f"{p['selection']['chosen_on']} by {p['selection']['criterion']}; scored on the {p['selection']['scored_on']}; "
             f"genlab rows are the mean of training seeds {', '.join(map(str, genlab['seeds']))} ({genlab['epochs']} epochs).", ""]
    for dataset in ("mnist", "fashion-mnist"):
        if dataset not in result:
            continue
        r = result[dataset]
        chosen, decoder = r["genlab"]["codec"], r["decoder_bytes"][r["genlab"]["codec"]]
        lines += [f"**{dataset}**: validation scores " + ", ".join(f"{k} {v:.2f} dB" for k, v in r["selection"]["scores"].items())
                  + f"; chosen **{chosen}**, decoder {decoder:,} bytes.", "",
                  f"![rate and distortion, {dataset}](results/compression_{dataset}.png)", "",
                  "| codec | setting | bytes/image, per file | bytes/image, shared | PSNR (dB) | SSIM |",
                  "|---|---|---:|---:|---:|---:|"]
        for codec, points in r["rivals"].items():
            for q in points:
                lines.append(f"| {codec} | quality {q['quality']} | {q['per_file']:.1f} | {q['shared']:.1f} | {q['psnr']:.2f} | {q['ssim']:.3f} |")
        for q in r["genlab"]["curve"]:
            per_file = f"{q['per_file']:.1f}" if "per_file" in q else "n/a"
            lines.append(f"| genlab {chosen} | step {q['step']} | {per_file} | {q['shared']:.1f} ± {q['shared_sd']:.1f} | "
                         f"{q['psnr']:.2f} ± {q['psnr_sd']:.2f} | {q['ssim']:.3f} |")
        lines += ["", "| genlab against | BD-PSNR, per file | BD-PSNR, shared | BD-PSNR, shared + decoder / 10,000 | "
                      "at the rival's smallest file, per file | same, shared | break-even images (rival's qualities) |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for codec, m in r["margins"].items():
            even = ", ".join(f"q{row['quality']}: " + (f"{row['break_even_images']:,}" if row["break_even_images"] else "never")
                             for row in r["break_even"][codec] if row["genlab_bytes"] is not None)
            lines.append(f"| {codec} | {_interval(m['per_file_bd_psnr'])} | {_interval(m['shared_bd_psnr'])} | "
                         f"{_interval(m['amortised_10000_bd_psnr'])} | {_interval(m['per_file_at_smallest'])} | "
                         f"{_interval(m['shared_at_smallest'])} | {even or 'outside genlab’s curve'} |")
        lines += ["", "Margins are genlab minus the rival in dB, mean ± sd over training seeds; n/a: the curves do not "
                      "overlap. Break-even: the number of images from which genlab's decoder plus its files take less "
                      "room than the rival's shared files at the same PSNR.", ""]
    return lines + [machine_line(result)]


def app_denoising(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Application: denoising", "",
             f"Script: `benchmarks/app_denoising.py`. {p['data']}; genlab: a `dae` per noise setting "
             f"({p['genlab']['epochs']} epochs); classical parameters tuned by {p['classical']['tuning']}. "
             f"{p['metrics']}.", "",
             "| dataset | noise | noisy input | median | total variation | non-local means | genlab dae | margin over best classical |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for dataset in ("mnist", "fashion-mnist"):
        for noise, r in result.get(dataset, {}).items():
            cells = [f"{r['rows'][m]['psnr']:.2f} / {r['rows'][m]['ssim']:.3f}"
                     for m in ("noisy input", "median filter", "total variation", "non-local means", "genlab dae")]
            margin = f"{r['margin_db']:+.2f}" + (f" ± {r['margin_sd']:.2f}" if "margin_sd" in r else "")
            lines.append(f"| {dataset} | {noise} | {' | '.join(cells)} | {margin} dB |")
    return lines + ["", "Cells: PSNR (dB) / SSIM.", "", machine_line(result)]


def app_inpainting(result: dict) -> list[str]:
    if "seeds" not in result["protocol"]:
        return _app_inpainting_one_seed(result)
    p = result["protocol"]
    models = list(p["genlab"]["models"])
    images = f"the first {p['limit']:,} images of the " if p.get("limit") else "all images of the "
    lines = ["## Application: inpainting", "",
             f"Script: `benchmarks/app_inpainting.py`. {images}{p['data']}; genlab: {p['genlab']['method']} "
             f"({p['genlab']['steps']} steps, models trained {p['genlab']['epochs']} epochs, seeds "
             f"{', '.join(map(str, p['seeds']))}); baseline: {p['baseline']}. {p['metric']}. genlab's choice: "
             f"{p['genlab']['choice']}.", "",
             "| dataset | hole | biharmonic (dB) | " + " | ".join(f"genlab {m}: margin (dB)" for m in models) + " |",
             "|---|---|---:|" + "---:|" * len(models)]
    for dataset in ("mnist", "fashion-mnist"):
        entry = result.get(dataset)
        if not entry or "summary" not in entry:
            continue
        chosen = entry["choice"]["chosen"]
        for hole, base in entry["biharmonic"].items():
            cells = []
            for m in models:
                s = entry["summary"].get(m, {}).get(hole)
                text = f"{s['mean']:+.2f} ± {s['sd']:.2f}" + (f" ({s['n']} seeds)" if s and s["n"] < len(p["seeds"]) else "") if s else ""
                cells.append(f"**{text}**" if m == chosen and text else text)
            lines.append(f"| {dataset} | {hole} | {base['psnr_in_hole']:.2f} | {' | '.join(cells)} |")
    return lines + ["", "Bold: the model chosen on validation images. Margin: PSNR in the hole minus biharmonic's, "
                    "mean ± sd over training seeds.", "", machine_line(result)]


def _app_inpainting_one_seed(result: dict) -> list[str]:
    """The earlier protocol's JSON: seed 0, the margin of the best model."""
    p = result["protocol"]
    models = [f"genlab {name}" for name in p["genlab"]["models"]]
    images = f"the first {p['limit']:,} images of the " if p.get("limit") else "all images of the "
    lines = ["## Application: inpainting", "",
             f"Script: `benchmarks/app_inpainting.py`. {images}{p['data']}; genlab: {p['genlab']['method']} "
             f"({p['genlab']['steps']} steps, models trained {p['genlab']['epochs']} epochs); baseline: {p['baseline']}. "
             f"{p['metric']}. Margin: best genlab model minus biharmonic.", "",
             f"| dataset | hole | biharmonic | {' | '.join(models)} | margin |",
             "|---|---|---:|" + "---:|" * len(models) + "---:|"]
    for dataset in ("mnist", "fashion-mnist"):
        for hole, r in result.get(dataset, {}).items():
            cells = " | ".join(f"{r['rows'][m]['psnr_in_hole']:.2f} dB" if m in r["rows"] else "" for m in models)
            lines.append(f"| {dataset} | {hole} | {r['rows']['biharmonic']['psnr_in_hole']:.2f} dB | {cells} | "
                         f"{r['margin_db']:+.2f} dB |")
    return lines + ["", machine_line(result)]


def app_anomaly(result: dict, title: str = "Application: anomaly detection") -> list[str]:
    if "seeds" not in result["protocol"]:
        return _app_anomaly_one_seed(result)
    p = result["protocol"]
    summaries = {d: result.get(d, {}).get("summary", {}) for d in ("mnist", "fashion-mnist")}
    tabular = result.get("breast-cancer", {}).get("rows", {})
    methods = list(dict.fromkeys([*(m for s in summaries.values() for m in s), *tabular]))

    def cell(dataset: str, method: str) -> str:
        row = summaries[dataset].get(method)
        if row is None:
            return ""
        gap = row.get("minus_best_pyod")
        return (f"{row['mean']:.4f} ± {row['sd']:.4f}" + (f" ({gap['mean']:+.4f} ± {gap['sd']:.4f})" if gap else "")
                + (f" [{len(row['per_seed'])} seeds]" if len(row["per_seed"]) < len(p["seeds"]) else ""))

    settings = "; ".join(f"{name}: {values or 'AnomalyDetector()'}" for name, values in p["genlab"].items())
    code = result["code"]
    lines = [f"## {title}", "",
             f"Script: `benchmarks/app_anomaly.py`. Images: {p['images']}. Tabular: {p['tabular']}. "
             f"PyOD {p['pyod']['version']}: AutoEncoder {p['pyod']['AutoEncoder']}; VAE {p['pyod']['VAE']}; "
             f"(raw): {p['pyod']['raw']}. genlab: {settings}. "
             f"Seeds {', '.join(map(str, p['seeds']))}; code {code['genlab_sha256'][:12]} (package), "
             f"{code['script_sha256'][:12]} (script).", "",
             "| method | MNIST mean AUROC (genlab minus best PyOD) | Fashion-MNIST mean AUROC (same) | breast cancer AUROC | breast cancer AP |",
             "|---|---:|---:|---:|---:|"]
    for method in methods:
        t = tabular.get(method)
        tab = [f"{t['auroc']:.4f} ± {t['auroc_sd']:.4f}", f"{t['average_precision']:.4f} ± {t['average_precision_sd']:.4f}"] if t else ["", ""]
        lines.append(f"| {method} | {cell('mnist', method)} | {cell('fashion-mnist', method)} | {tab[0]} | {tab[1]} |")
    return lines + ["", "± is the standard deviation over training seeds; the gap to PyOD's best is taken seed by seed. "
                    "Published one-class mean AUROC, for scale (other protocols and networks): MNIST OCGAN 0.975, "
                    "Deep SVDD 0.948; Fashion-MNIST GEOM 0.935.", "", machine_line(result)]


def _app_anomaly_one_seed(result: dict) -> list[str]:
    """The earlier protocol's JSON: one seed, per-class cells."""
    p = result["protocol"]
    methods = list(dict.fromkeys(m for d in ("mnist", "fashion-mnist") for m in result.get(d, {})))
    tabular = result.get("breast-cancer", {}).get("rows", {})

    def mean(dataset: str, method: str) -> str:
        row = result.get(dataset, {}).get(method)
        if row is None:
            return ""
        if row.get("mean_auroc") is None:  # a sitting cut short: say how far it got
            return f"({len(row['auroc_per_class'])} classes so far)"
        return f"{row['mean_auroc']:.4f}"

    lines = ["## Application: anomaly detection", "",
             f"Script: `benchmarks/app_anomaly.py`. Images: {p['images']}. Tabular: {p['tabular']}. "
             f"PyOD {p['pyod']['version']}: AutoEncoder {p['pyod']['AutoEncoder']}; VAE {p['pyod']['VAE']}"
             f"{'; (raw): ' + p['pyod']['raw'] if 'raw' in p['pyod'] else ''}.", "",
             "| method | MNIST mean AUROC | Fashion-MNIST mean AUROC | breast cancer AUROC | breast cancer AP |",
             "|---|---:|---:|---:|---:|"]
    for method in methods:
        tab = [f"{tabular[method]['auroc']:.4f}", f"{tabular[method]['average_precision']:.4f}"] if method in tabular else ["", ""]
        lines.append(f"| {method} | {mean('mnist', method)} | {mean('fashion-mnist', method)} | {tab[0]} | {tab[1]} |")
    return lines + ["", "Published one-class mean AUROC, for scale (other protocols and networks): MNIST OCGAN 0.975, "
                    "Deep SVDD 0.948; Fashion-MNIST GEOM 0.935.", "", machine_line(result)]


def app_traffic(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Application: intrusion detection on raw KDD-style records", "",
             f"Script: `benchmarks/app_traffic.py`. Data: {p['data']}. Train: {p['train']}; test: {p['test']}; "
             f"{p['seeds']} seeds (mean ± sd). genlab: {p['genlab']}. Baselines: {p['baselines']}.", ""]
    for protocol, entry in result["protocols"].items():
        lines += [f"**{protocol}** (best baseline: {entry['best_baseline']}; genlab default minus it: "
                  f"{entry['genlab_default_minus_best_baseline_auroc']:+.4f} AUROC)", "",
                  "| detector | AUROC | average precision | fit seconds |", "|---|---:|---:|---:|"]
        for name, row in entry["summary"].items():
            lines.append(f"| {name} | {row['auroc']['mean']:.4f} ± {row['auroc']['std']:.4f} | "
                         f"{row['average_precision']['mean']:.4f} ± {row['average_precision']['std']:.4f} | "
                         f"{row['fit_seconds']['mean']:.1f} |")
        lines.append("")
    return lines + [machine_line(result)]


def anomaly_speed(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Anomaly detector speed on 100,000 records", "",
             f"Script: `benchmarks/anomaly_speed.py`. {p['rows']:,} records of {p['features']} features on a "
             f"{p['subspace']}-dimensional subspace plus noise, {p['outlier_share']:.0%} off it; both detectors at "
             f"their defaults on the same array; {p['repeats']} repeats, {p['order']}; medians, with the range of "
             "the fit times.", "",
             "| detector | fit seconds (median) | fit range | scoring seconds | AUROC |", "|---|---:|---|---:|---:|"]
    for name, row in result["medians"].items():
        low, high = result["fit_spread_seconds"][name]
        lines.append(f"| {name} | {row['fit_seconds']:.1f} | {low:.1f} to {high:.1f} | {row['score_seconds']:.1f} | "
                     f"{row['auroc']:.4f} |")
    return lines + ["", f"genlab's fit takes {result['fit_ratio_genlab_over_forest']:.0f}x IsolationForest's time "
                        "(median over median).", "", machine_line(result)]


def anomaly_tables(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Anomaly detection on the 36 ADBench tables", "",
             f"Script: `benchmarks/anomaly_tables.py`. ADBench's unsupervised protocol: each method fitted on all rows "
             f"(anomalies among them, unlabelled) and scoring all rows; {p['inputs']}; sets of more than "
             f"{p['max_rows']:,} rows cut to a random {p['max_rows']:,} (seeded); seeds {', '.join(map(str, p['seeds']))} "
             f"(row cut and each method's random_state), mean over seeds per set. Baselines at their libraries' "
             f"defaults (PyOD {p['baselines']['pyod']}). Wins/ties/losses: genlab's default against each method, "
             f"a tie within {p['tie_band']} AUROC; p: Wilcoxon signed-rank test over sets.", ""]
    for part, title in (("all", "all sets"), ("held_out_half", "the held-out half (sets that chose nothing)")):
        entry = result.get("summary", {}).get(part)
        if not entry:
            continue
        lines += [f"**{title}** ({entry['sets']} sets; critical difference of average ranks at 0.05: "
                  f"{entry.get('critical_difference', 'n/a')})", "",
                  "| method | mean AUROC | median AUROC | mean AP | average rank | genlab W/T/L | p | mean seconds |",
                  "|---|---:|---:|---:|---:|---|---:|---:|"]
        for method, row in sorted(entry["methods"].items(), key=lambda item: item[1]["average_rank"]):
            versus = row.get("against_reference")
            record = f"{versus['wins']}/{versus['ties']}/{versus['losses']}" if versus else ""
            p_value = "" if not versus or versus["wilcoxon_p"] is None else f"{versus['wilcoxon_p']:.3f}"
            lines.append(f"| {method} | {row['mean_auroc']:.4f} | {row['median_auroc']:.4f} | {row['mean_ap']:.4f} | "
                         f"{row['average_rank']:.2f} | {record} | {p_value} | {row['mean_seconds']:.1f} |")
        lines.append("")
    per_set = result.get("per_set", {})
    if per_set:
        methods = list(next(iter(per_set.values())))
        lines += ["Per set, mean AUROC over seeds (development sets marked *):", "",
                  "| set | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
        for name, row in per_set.items():
            best = max(row[m]["auroc"] for m in methods)
            cells = [f"**{row[m]['auroc']:.3f}**" if row[m]["auroc"] == best else f"{row[m]['auroc']:.3f}" for m in methods]
            mark = "*" if name in p["development_sets"] else ""
            lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
        lines += ["", "![average ranks](results/anomaly_ranks.png)", ""]
    selection = result.get("selection", {}).get("summary")
    if selection:
        lines += [f"Candidates for genlab's default on the {selection['sets']} development sets (seeds "
                  f"{', '.join(map(str, p['seeds']))}):", "", "| candidate | mean AUROC | average rank | mean seconds |",
                  "|---|---:|---:|---:|"]
        for method, row in sorted(selection["methods"].items(), key=lambda item: item[1]["average_rank"]):
            lines.append(f"| {method} | {row['mean_auroc']:.4f} | {row['average_rank']:.2f} | {row['mean_seconds']:.1f} |")
        lines.append("")
    return lines + [machine_line(result)]


def robustness(result: dict) -> list[str]:
    summary, kills = result["summary"], result["kills"]["summary"]
    outcomes = list(summary["by_outcome"])
    lines = ["## Robustness: hostile input and SIGKILL", "",
             "Script: `benchmarks/robustness.py`. Each case is a bad input a user could give (a file, a flag, a setting, "
             "an HTTP request) run in its own folder and child process; " + result["protocol"]["clean"] + " counts as "
             f"clean. {summary['cases']} cases: {summary['as_expected']} as expected (refused cleanly, or accepted "
             f"where acceptable), {summary['not_as_expected']} not.", "",
             "| class | " + " | ".join(outcomes) + " |", "|---|" + "---:|" * len(outcomes)]
    for name, counts in summary["by_class"].items():
        lines.append(f"| {name} | " + " | ".join(str(counts.get(o, "")) for o in outcomes) + " |")
    lines.append("| all | " + " | ".join(str(summary["by_outcome"][o]) for o in outcomes) + " |")
    missed = [case for case in result["cases"] if case["outcome"] not in ("clean", "accepted")]
    if missed:
        lines += ["", "Not as expected: " + "; ".join(f"`{c['id']}` ({c['outcome']})" for c in missed) + "."]
    lines += ["", f"SIGKILL campaign: {kills['kills']} kills ({', '.join(f'{n} {aim}' for aim, n in kills['by_aim'].items())}"
              f"); {kills['identical_resumes']} resumed to byte-identical weights, {kills['duplicate_val_lines']} "
              f"duplicated validation lines, {kills['scratch_left']} left scratch files.", ""]
    return lines + [machine_line(result)]


def mutation(result: dict) -> list[str]:
    p = result["protocol"]
    lines = ["## Mutation testing", "",
             f"Script: `benchmarks/mutation.py`. {p['tool']}; mutated: {', '.join(f'`{f}`' for f in p['files'])}; tests: the "
             f"in-process tests of {len([t for t in p['tests'] if t.startswith('tests/')])} modules that reach the mutated "
             f"function, each test at most {p['test_timeout_s']} s"
             + (f", each mutant at most {p['mutant_limit_s']} s" if "mutant_limit_s" in p else "")
             + f". Sample: {p['sample']}. Score: {p['score']}.", "",
             "| module | killed | timeout | survived | equivalent | no tests | other |", "|---|---:|---:|---:|---:|---:|---:|"]
    equivalent = result["equivalent"]
    for module, counts in result["by_module"].items():
        same = sum(1 for name in equivalent if name.startswith(module + "."))
        other = sum(v for k, v in counts.items() if k not in ("killed", "timeout", "survived", "no tests"))
        lines.append(f"| {module} | {counts.get('killed', 0)} | {counts.get('timeout', 0)} | "
                     f"{counts.get('survived', 0) - same} | {same} | {counts.get('no tests', 0)} | {other} |")
    low, high = result["score_interval"]
    lines += ["", f"Mutation score: **{100 * result['score']:.1f}%** (95% interval {100 * low:.1f}% to {100 * high:.1f}%), "
                  f"{result['killed']} killed of {result['killed'] + len(result['survivors'])} scored; "
                  f"{len(equivalent)} equivalent (listed with the reason in the script and the JSON), {result['not_covered']} "
                  f"not reached by the selected tests; {result['mutants_in_core']:,} mutants in all; "
                  f"{result['wall_seconds'] / 3600:.1f} hours in its last sitting.", ""]
    if result.get("survivors"):
        lines += ["Surviving mutants:", ""] + [f"- `{s['name']}`: `{(s['diff'].splitlines() or [''])[-1].lstrip('+').strip()}`"
                                              for s in result["survivors"]] + [""]
    return lines + [machine_line(result)]


IMAGE_WEIGHT_ROWS = 8  # rows per candidate in the image weight table


def anomaly_image_weight(result: dict) -> list[str]:
    p = result["protocol"]
    table, chosen = result["summary"]["table"], result["summary"]["chosen"]
    lines = ["## Anomaly detection on images: choosing the default's convolutional members (development split)", "",
             f"Script: `benchmarks/anomaly_image_weight.py`. Fit: {p['fit']}; scored: {p['scored']}; AUROC with the "
             f"fitted class normal, mean over the 10 classes; one fit per class (seed {p['seed']}), every scoring "
             f"choice scored on the same fit. Candidates: "
             + "; ".join(f"{name} ({settings})" for name, settings in p["candidates"].items())
             + ". Score: each member's w x its reconstruction z-score + (1 - w) x its code distance's (the mean "
               "distance to the nearest training codes among at most `references` of them), averaged over the "
               "members; members that learnt to restore turned images weigh theirs by w_r. "
             f"The {IMAGE_WEIGHT_ROWS} best choices of each candidate are shown (all in the JSON).", "",
             "| candidate | references | neighbours | w | w_r | MNIST | Fashion-MNIST | mean |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    shown = {}
    for key, row in sorted(table.items(), key=lambda item: -item[1]["both"]):
        candidate, choice = key.split(" | references/neighbours/w = ")
        if len(shown.setdefault(candidate, [])) < IMAGE_WEIGHT_ROWS:
            shown[candidate].append((key, choice.split("/"), row))
    for rows in shown.values():
        for key, (references, neighbours, w, *w_r), row in rows:
            mark = "**" if key == chosen else ""
            lines.append(f"| {key.split(' | ')[0]} | {references} | {neighbours} | {w} | {w_r[0] if w_r else '-'} "
                         f"| {row['mnist']:.4f} | {row['fashion-mnist']:.4f} | {mark}{row['both']:.4f}{mark} |")
    made = {name: record["code"]["genlab_sha256"][:12] for name, record in result.get("made_by", {}).items()}
    if len(set(made.values())) > 1:  # candidates kept from a run of other genlab code (the next run remakes them)
        lines += ["", "Genlab code (SHA-256 of its modules) that made each candidate's cells: "
                  + "; ".join(f"{name}: {sha}" for name, sha in made.items()) + "."]
    return lines + ["", f"Chosen (bold): {chosen}; it is scored on the official test images in the next table.", "",
                    machine_line(result)]


def _spread(cell: dict, digits: int = 2) -> str:
    return f"{cell['mean']:.{digits}f}" + (f" ± {cell['sd']:.{digits}f}" if cell.get("n", 1) > 1 else "")


def speech_generation(result: dict) -> list[str]:
    p = result["protocol"]
    judge = p["judge"]
    lines = ["## Speech: generating spoken digits", "",
             f"Script: `benchmarks/speech_generation.py`. {p['data']}; {p['train_clips']:,} training and "
             f"{p['test_clips']} test clips. Judge: genlab's classifier, {judge['test_accuracy']:.1%} on the test clips "
             f"({judge['epochs']} epochs, {judge['train_minutes']:.1f} min). Each model draws {p['per_class']} clips "
             f"per digit (seeds {', '.join(map(str, p['seeds']))}); every clip is made audible by Griffin-Lim "
             f"({p['griffin_lim_iterations']} iterations) and analysed again before it is judged. Fréchet distance "
             "in the judge's features, 270 clips (27 per digit) against the 300 test clips.", "",
             "| clips | recognised | entropy per clip (nats) | class entropy (nats) | Fréchet distance | training minutes |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in result["ceilings"].items():
        fd = f"{row['frechet_distance']:.2f}" if "frechet_distance" in row else "-"
        lines.append(f"| {name} | {row['recognised']:.1%} | {row['entropy_per_clip_nats']:.3f} | "
                     f"{row['class_entropy_nats']:.3f} | {fd} | - |")
    for name, row in result["models"].items():
        minutes = ", ".join(f"{m:.1f}" for m in row["train_minutes"].values())
        recognised = {key: 100 * value if key in ("mean", "sd") else value for key, value in row["recognised"].items()}
        lines.append(f"| genlab {name} ({row['epochs']} epochs) | {_spread(recognised, 1)}% | "
                     f"{_spread(row['entropy_per_clip_nats'], 3)} | {_spread(row['class_entropy_nats'], 3)} | "
                     f"{_spread(row['frechet_distance'])} | {minutes} |")
    files = ", ".join(f"`results/speech_generation/{f}`" for f in p["sound"]["files"])
    return lines + ["", f"A uniform class histogram has entropy {p['uniform_class_entropy_nats']:.3f} nats. "
                        f"To listen: {files} (digits {', '.join(map(str, p['sound']['digits']))}, one after another). "
                        f"Goal ({result['goal']}): {'met' if result['goal_met'] else 'not met'}.", "", machine_line(result)]


def speech_denoising(result: dict) -> list[str]:
    p = result["protocol"]
    methods = ["noisy input", "spectral subtraction", "Wiener filter", "noisereduce"]
    lines = ["## Speech: denoising", "",
             f"Script: `benchmarks/speech_denoising.py`. {p['data']}; noise: {p['noise']}. genlab: a `dae` "
             f"({p['epochs']} epochs, seeds {', '.join(map(str, p['seeds']))}); the classical methods tuned per level on "
             f"{p['tuning_clips']} validation clips and given {p['classical_noise_knowledge']}. SI-SDR mean over clips, "
             "PESQ (narrow-band) over the clips every method could be scored on, STOI per speaker.", "",
             "| SNR | " + " | ".join(methods) + " | genlab dae | SI-SDR margin over the best classical | PESQ margin |",
             "|---|" + "---:|" * (len(methods) + 3)]
    for level, row in result["results"]["levels"].items():
        cells = [f"{row[m]['si_sdr']:.2f} / {row[m]['pesq_nb']:.2f} / {row[m]['stoi']:.3f}" for m in methods]
        genlab_cell = (f"{_spread(row['genlab dae']['si_sdr'])} / {_spread(row['genlab dae']['pesq_nb'])} / "
                       f"{_spread(row['genlab dae']['stoi'], 3)}")
        lines.append(f"| {float(level):g} dB | {' | '.join(cells)} | {genlab_cell} | "
                     f"{_spread(row['margin_si_sdr_db'])} dB ({row['best classical (SI-SDR)']}) | {_spread(row['margin_pesq'])} |")
    name = p.get("ceiling_row")
    ceiling = "; ".join(f"{float(level):g} dB: {row[name]['si_sdr']:.2f} / {row[name]['pesq_nb']:.2f} / "
                        f"{row[name]['stoi']:.3f}" for level, row in result["results"]["levels"].items() if name in row)
    return lines + ["", f"Cells: SI-SDR (dB) / PESQ / STOI. Goal ({result['goal']}): "
                        f"{'met' if result['goal_met'] else 'not met'}."
                    + (f" The {name} (the clean clip's own spectrogram in the model's place): {ceiling}." if ceiling
                       else ""), "", machine_line(result)]


RENDERERS = {"vs_pythae": vs_pythae, "trainer_overhead": trainer_overhead, "classifier": classifier,
             "gan_modes": gan_modes, "gan_vs_reference": gan_vs_reference, "nll_mnist": nll_mnist,
             "sample_quality": sample_quality, "representation": representation, "speed": speed,
             "app_compression": app_compression, "app_denoising": app_denoising, "app_inpainting": app_inpainting,
             "app_anomaly": app_anomaly, "anomaly_image_weight": anomaly_image_weight,
             "app_anomaly_default": lambda result: app_anomaly(result, "Application: anomaly detection, genlab's default "
                                                                       "detector alone (3 seeds; the full table above)"),
             "anomaly_tables": anomaly_tables, "anomaly_speed": anomaly_speed,
             "app_traffic": app_traffic,
             "robustness": robustness,
             "mutation": mutation,
             "speech_generation": speech_generation, "speech_denoising": speech_denoising}


# What chose the settings of results measured before the JSON recorded it, where the script has
# changed its protocol since (elsewhere the script's SELECTION still describes them).
EARLIER_SELECTION = {
    "app_denoising": "classical filters' parameters tuned on validation images; the classical method to beat "
                     "was the best of them on the test images (a choice that favours the baseline); one training seed",
    "app_inpainting": "models fixed in advance; the margin is that of the better genlab model on the test images, "
                      "of the one model this JSON holds; one training seed",
    "app_anomaly": "every detector setting is reported, none picked on the test set; but the weighted-reconstruction "
                   "score and its floor were devised after seeing per-class test results of earlier runs, so its rows "
                   "are not a clean held-out result",
}


def selection_line(name: str, result: dict) -> str | None:
    """What chose the benchmark's settings: from its JSON, else as its script states it (older JSON)."""
    protocol = result.get("protocol", {})
    recorded = protocol.get("selection_protocol") or result.get("selection_protocol")
    if recorded:
        return f"Selection protocol: {recorded}."
    if isinstance(protocol.get("selection"), dict) and name != "robustness":
        return None  # rendered with the benchmark's own tables
    if name == "app_traffic" and isinstance(protocol.get("selection"), str):  # recorded under its first name
        return f"Selection protocol: {protocol['selection']}."
    if name in EARLIER_SELECTION:
        return f"Selection protocol (this JSON predates the field): {EARLIER_SELECTION[name]}."
    for node in ast.parse((HERE / f"{name}.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SELECTION" for t in node.targets):
            return (f"Selection protocol (as `{name}.py` states it; this JSON predates the field): "
                    f"{ast.literal_eval(node.value)}.")
    return "Selection protocol: not recorded."


def render_all() -> str:
    """RESULTS.md's text from the JSON files in results/."""
    lines = ["# Benchmark results", "",
             "Generated by `benchmarks/make_results.py` from `benchmarks/results/*.json`; do not edit by hand.",
             "Every number below comes from the script named with it; rerun that script to reproduce it.", ""]
    for name, render in RENDERERS.items():
        path = RESULTS / f"{name}.json"
        if path.is_file():
            result = json.loads(path.read_text())
            rendered, selection = render(result), selection_line(name, result)
            # every renderer ends with the machine line: the selection protocol goes just above it
            lines += rendered[:-1] + ([selection, ""] if selection else []) + rendered[-1:] + [""]
    return "\n".join(lines)


def main() -> None:
    (HERE / "RESULTS.md").write_text(render_all())
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
