"""Tabular anomaly detection on the 36 ADBench sets: genlab's default detector against IsolationForest,
PyOD's AutoEncoder and VAE, ECOD, LOF and KNN, in one script.

Protocol (ADBench's unsupervised setting; Han et al., NeurIPS 2022)
- Data: the 36 "classical" sets in ../shared/datasets/adbench (X, y with 1 = anomaly), each
  identified by its SHA-256. A set of more than MAX_ROWS rows is cut to a random MAX_ROWS rows
  (seeded per seed, labels unused), the same rows for every method.
- Every method is fitted on all rows (anomalies among them, unlabelled) and scores all rows;
  AUROC and average precision against y; seconds to fit and score.
- Inputs: every feature min-max scaled over the rows (ADBench's preprocessing), the same array
  for every method; methods that standardise (genlab, PyOD's AutoEncoder and VAE) do so on top.
- Methods: genlab `AnomalyDetector()` with its defaults (contamination and the threshold do not
  enter AUROC or AP); scikit-learn IsolationForest (defaults); PyOD AutoEncoder, VAE, ECOD, LOF
  and KNN (defaults). Seeds 0, 1, 2 set the row cut and each method's random_state.
- Summary: per set, the mean over seeds; over sets, the mean and median, the average rank (1 =
  best; ties share ranks), wins/ties/losses of genlab against each baseline (a tie: the means
  over seeds within TIE_BAND AUROC) with a Wilcoxon signed-rank p-value over sets, and an
  average-rank plot with the Nemenyi critical difference (Demsar 2006), results/anomaly_ranks.png.
- Selection: `--select` scores the CANDIDATES (genlab settings) on the development half of the
  suite (DEVELOPMENT below, a seeded random half of the 36 names) and records them; the default
  was chosen from those rows alone, and the tables report every set, the held-out half apart.
- Each finished (set, method, seed) cell is saved at once. A rerun keeps genlab's cells while the
  genlab modules they ran (SHA-256) and their settings are unchanged, and the baselines' cells while
  the code they ran (this script's data and baseline functions, library versions) is unchanged.

Run:  python benchmarks/anomaly_tables.py                  (pip install -e ".[bench]" for PyOD)
      python benchmarks/anomaly_tables.py --sets 4_breastw 14_glass --seeds 0    (a quick look)
      python benchmarks/anomaly_tables.py --select         (the candidates on the development half)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import time
from pathlib import Path

import numpy as np
from _common import (
    RESULTS,
    SHARED_DATASETS,
    code_version,
    genlab_matches,
    machine,
    source_sha256,
    write_result,
)
from sklearn.metrics import average_precision_score, roc_auc_score

from genlab.apps import AnomalyDetector

ADBENCH = SHARED_DATASETS / "adbench"
MAX_ROWS = 10_000
TIE_BAND = 0.01
SEEDS = [0, 1, 2]
ALPHA_NEMENYI = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}  # q_0.05

# What chose genlab's default, and on which data (recorded in the JSON).
SELECTION = ("genlab's default was chosen among CANDIDATES by mean AUROC and average rank on the development "
             "half (DEVELOPMENT: a seeded random half of the 36 sets); the other half never chose anything")
BASELINES = ["sklearn IsolationForest", "PyOD AutoEncoder", "PyOD VAE", "PyOD ECOD", "PyOD LOF", "PyOD KNN"]
GENLAB_DEFAULT = "genlab AnomalyDetector()"
# genlab settings tried on the development half; their rows in the JSON say how each did. The ensemble's
# design (robust scaling, trimming, per-feature residuals, the code-distance part, about two passes of training)
# came from trials on the development half alone; these rows record the final choices against the alternatives.
CANDIDATES: dict[str, dict] = {
    "ae-ensemble (the default)": {"model": "ae-ensemble"},
    "ae-ensemble, reconstruction part only": {"model": "ae-ensemble", "score_by": "weighted-reconstruction"},
    "ae-ensemble, 30 epochs": {"model": "ae-ensemble", "epochs": 30},
    "vae nll (earlier default)": {"model": "vae", "score_by": "nll"},
    "ae reconstruction": {"model": "ae", "score_by": "reconstruction"},
    "ae weighted-reconstruction": {"model": "ae", "score_by": "weighted-reconstruction"},
}


def set_names() -> list[str]:
    return sorted((p.stem for p in ADBENCH.glob("*.npz")), key=lambda n: int(n.split("_")[0]))


def development_half(names: list[str]) -> list[str]:
    """A seeded random half of the suite: the sets that may choose genlab's default."""
    chosen = random.Random(2022).sample(names, len(names) // 2)
    return sorted(chosen, key=lambda n: int(n.split("_")[0]))


def load_set(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(ADBENCH / f"{name}.npz", allow_pickle=False) as stored:
        x, y = stored["X"].astype(np.float64), stored["y"].astype(int).ravel()
    if len(x) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), MAX_ROWS, replace=False))
        x, y = x[keep], y[keep]
    low, span = x.min(0), x.max(0) - x.min(0)
    return ((x - low) / np.where(span > 0, span, 1.0)).astype(np.float32), y


def baseline(name: str, seed: int):
    """A fresh baseline with fit(X) and decision_function(X), higher = more anomalous."""
    if name == "sklearn IsolationForest":
        from sklearn.ensemble import IsolationForest

        class Forest(IsolationForest):
            def decision_function(self, x):  # scikit-learn's is the other way round
                return -self.score_samples(x)
        return Forest(random_state=seed)
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.vae import VAE
    return {"PyOD AutoEncoder": lambda: AutoEncoder(random_state=seed, verbose=0),
            "PyOD VAE": lambda: VAE(random_state=seed, verbose=0),
            "PyOD ECOD": ECOD, "PyOD LOF": LOF, "PyOD KNN": KNN}[name]()


def fit_and_score(method: str, settings: dict | None, x: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    if settings is not None:
        scores = AnomalyDetector(**settings, random_state=seed).fit(x).anomaly_scores(x)
    else:
        detector = baseline(method, seed)
        detector.fit(x)
        scores = detector.decision_function(x)
    return np.asarray(scores, dtype=np.float64), time.perf_counter() - started


def run_cells(methods: dict[str, dict | None], names: list[str], seeds: list[int], cells: dict, save) -> None:
    for seed in seeds:
        for name in names:
            x, y = load_set(name, seed)
            for method, settings in methods.items():
                key = f"{name}/{method}/{seed}"
                if key in cells:
                    continue
                scores, seconds = fit_and_score(method, settings, x, seed)
                if not np.isfinite(scores).all():  # a method that fails on a set scores it as chance
                    scores = np.nan_to_num(scores, nan=0.0, posinf=np.finfo(np.float64).max, neginf=0.0)
                cells[key] = {"auroc": round(float(roc_auc_score(y, scores)), 4),
                              "average_precision": round(float(average_precision_score(y, scores)), 4),
                              "seconds": round(seconds, 2)}
                print(f"seed {seed} {name:<16} {method:<34} AUROC {cells[key]['auroc']:.4f} "
                      f"AP {cells[key]['average_precision']:.4f} ({seconds:.1f} s)", flush=True)
                save()


def per_set(cells: dict, methods: list[str], names: list[str], seeds: list[int]) -> dict:
    """{set: {method: mean AUROC, AP and seconds over the seeds present}} for the complete sets only."""
    table = {}
    for name in names:
        row = {}
        for method in methods:
            runs = [cells[f"{name}/{method}/{s}"] for s in seeds if f"{name}/{method}/{s}" in cells]
            if len(runs) != len(seeds):
                break
            row[method] = {field: round(statistics.fmean(r[field] for r in runs), 4)
                           for field in ("auroc", "average_precision", "seconds")}
            row[method]["auroc_sd"] = round(statistics.stdev(r["auroc"] for r in runs), 4) if len(runs) > 1 else 0.0
        else:
            table[name] = row
    return table


def ranks(values: list[float]) -> list[float]:
    """Rank 1 for the highest value; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def summary(table: dict, methods: list[str], reference: str) -> dict:
    """Mean, median and average rank per method over the sets of `table`; `reference` against each other method."""
    from scipy.stats import wilcoxon

    names = list(table)
    if not names:
        return {}
    rank_rows = [ranks([table[n][m]["auroc"] for m in methods]) for n in names]
    out = {"sets": len(names), "methods": {}}
    for i, method in enumerate(methods):
        auroc = [table[n][method]["auroc"] for n in names]
        ap = [table[n][method]["average_precision"] for n in names]
        out["methods"][method] = {
            "mean_auroc": round(statistics.fmean(auroc), 4), "median_auroc": round(statistics.median(auroc), 4),
            "mean_ap": round(statistics.fmean(ap), 4), "median_ap": round(statistics.median(ap), 4),
            "average_rank": round(statistics.fmean(r[i] for r in rank_rows), 3),
            "mean_seconds": round(statistics.fmean(table[n][method]["seconds"] for n in names), 2)}
        if method != reference and reference in methods:
            diffs = [table[n][reference]["auroc"] - table[n][method]["auroc"] for n in names]
            nonzero = [d for d in diffs if d != 0]
            out["methods"][method]["against_reference"] = {
                "wins": sum(d > TIE_BAND for d in diffs), "ties": sum(abs(d) <= TIE_BAND for d in diffs),
                "losses": sum(d < -TIE_BAND for d in diffs), "mean_difference": round(statistics.fmean(diffs), 4),
                "wilcoxon_p": round(float(wilcoxon(nonzero).pvalue), 4) if len(nonzero) >= 5 else None}
    k = len(methods)
    if k in ALPHA_NEMENYI:
        out["critical_difference"] = round(ALPHA_NEMENYI[k] * (k * (k + 1) / (6 * len(names))) ** 0.5, 3)
    return out


def rank_plot(result: dict, path: Path) -> None:
    """Average ranks on one axis with the critical difference drawn above them (lower is better)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted(result["methods"], key=lambda m: result["methods"][m]["average_rank"])
    values = [result["methods"][m]["average_rank"] for m in methods]
    k = len(methods)
    figure, axis = plt.subplots(figsize=(8, 0.45 * k + 1.4))
    axis.set_xlim(1, k)
    axis.set_ylim(0, k + 1)
    axis.invert_xaxis()
    axis.get_yaxis().set_visible(False)
    for side in ("left", "right", "bottom"):
        axis.spines[side].set_visible(False)
    axis.xaxis.set_ticks_position("top")
    for row, (method, value) in enumerate(zip(methods, values)):
        y = k - row
        axis.plot([value, value], [k + 0.6, y], color="0.4", lw=0.8)
        axis.plot(value, y, "o", color="C3" if method.startswith("genlab") else "C0")
        axis.annotate(f"{method} ({value:.2f})", (value, y), xytext=(6, -4), textcoords="offset points", fontsize=9)
    cd = result.get("critical_difference")
    if cd:
        axis.plot([1, 1 + cd], [k + 0.85, k + 0.85], color="k", lw=2)
        axis.annotate(f"CD = {cd:.2f}", (1 + cd / 2, k + 0.85), xytext=(0, -5), textcoords="offset points",
                      ha="center", va="top", fontsize=9)  # under the bar: above it, the axis' ticks
    axis.set_title(f"average AUROC rank over {result['sets']} ADBench sets (1 = best)", fontsize=10, pad=22)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def baseline_version() -> dict:
    """What the baselines' cells depend on: the code that loads the data and runs them, and the libraries."""
    import pyod
    import sklearn
    import torch

    return {"source_sha256": source_sha256(load_set, baseline, fit_and_score, run_cells),
            "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "pyod": pyod.__version__,
                         "torch": torch.__version__}}


def keep_valid_cells(state: dict, protocol: dict) -> dict:
    """The recorded cells still valid: genlab's while the genlab code and its settings are the same, the
    baselines' while their code and libraries are; everything goes when the data or protocol changed."""
    same_data = {k: v for k, v in state.get("protocol", {}).items() if k != "candidates"} == \
        json.loads(json.dumps({k: v for k, v in protocol.items() if k != "candidates"}))
    genlab_ok = same_data and genlab_matches(state.get("code"))
    baselines_ok = same_data and state.get("baseline_code") == json.loads(json.dumps(baseline_version()))
    recorded = state.get("protocol", {}).get("candidates", {})

    def valid(key: str) -> bool:
        method = key.split("/")[1]
        if not method.startswith("genlab"):
            return baselines_ok
        name = method.removeprefix("genlab ")
        return genlab_ok and (method == GENLAB_DEFAULT or recorded.get(name) == protocol["candidates"].get(name))

    kept = {part: {k: v for k, v in state.get(part, {}).items() if valid(k)} for part in ("cells", "selection_cells")}
    dropped = sum(len(state.get(part, {})) - len(kept[part]) for part in kept)
    if dropped:
        print(f"{dropped} recorded cells were made by other code, data or settings: they are recomputed", flush=True)
    return kept


def dataset_hashes(names: list[str]) -> dict:
    return {n: hashlib.sha256((ADBENCH / f"{n}.npz").read_bytes()).hexdigest()[:16] for n in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", help="ADBench set names (default: all 36)")
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--select", action="store_true", help="score the CANDIDATES on the development half")
    parser.add_argument("--fresh", action="store_true", help="discard the cells already recorded")
    args = parser.parse_args()
    if not ADBENCH.is_dir():
        parser.error(f"no ADBench sets in {ADBENCH} (set GENLAB_SHARED_DATASETS to the folder holding adbench/)")
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    every = set_names()
    development = development_half(every)
    names = args.sets or (development if args.select else every)
    unknown = sorted(set(names) - set(every))
    if unknown:
        parser.error(f"unknown sets: {', '.join(unknown)}")
    methods: dict[str, dict | None] = {f"genlab {c}": s for c, s in CANDIDATES.items()} if args.select else \
        {GENLAB_DEFAULT: {}, **{b: None for b in BASELINES}}

    import pyod
    protocol = {
        "selection_protocol": SELECTION, "development_sets": development, "max_rows": MAX_ROWS,
        "seeds": args.seeds, "tie_band": TIE_BAND, "candidates": CANDIDATES,
        "inputs": "every feature min-max scaled over the rows; all rows fitted and scored (unsupervised)",
        "baselines": {"sklearn IsolationForest": "defaults", "pyod": pyod.__version__,
                      "PyOD AutoEncoder, VAE, ECOD, LOF, KNN": "defaults"},
        "dataset_sha256": dataset_hashes(every),
    }
    path = RESULTS / "anomaly_tables.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    kept = keep_valid_cells(state, protocol)
    state = {**state, "benchmark": "anomaly_tables", "protocol": protocol, **kept}
    cells = state["selection_cells" if args.select else "cells"]

    def save() -> None:
        state["machine"], state["code"] = machine(), code_version(__file__)
        state["baseline_code"] = baseline_version()
        if args.select:
            listed = [f"genlab {c}" for c in CANDIDATES]
            table = per_set(cells, listed, development, args.seeds)
            state["selection"] = {"per_set": table, "summary": summary(table, listed, listed[0])}
        else:
            listed = [GENLAB_DEFAULT, *BASELINES]
            table = per_set(cells, listed, every, args.seeds)
            held_out = {n: r for n, r in table.items() if n not in development}
            state["per_set"] = table
            state["summary"] = {"all": summary(table, listed, GENLAB_DEFAULT),
                                "held_out_half": summary(held_out, listed, GENLAB_DEFAULT)}
        write_result("anomaly_tables", state)

    run_cells(methods, names, args.seeds, cells, save)
    save()
    if not args.select and state["summary"]["all"]:
        rank_plot(state["summary"]["all"], RESULTS / "anomaly_ranks.png")


if __name__ == "__main__":
    main()
