"""How long the default anomaly detector takes to fit and score 100,000 records of 100 features, against
scikit-learn's IsolationForest on the same array in the same run.

Protocol
- Data: 100,000 records on a 10-dimensional subspace of 100 features plus noise, 1% of them off it
  (seeded; made here, nothing downloaded). Fitting uses every record; scoring scores them all.
- genlab: `AnomalyDetector()` with its defaults on the CPU with every core; IsolationForest: defaults
  with n_jobs=-1. Repeats alternate the two (genlab, forest, genlab, ...); the JSON keeps every time,
  the medians and the ratio of the medians, and each fit's AUROC on the planted records.
- Goal (the issue's): genlab's fit under 60 s on 2 cores.

Run:  python benchmarks/anomaly_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import code_version, machine, write_result
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from genlab.apps import AnomalyDetector

ROWS, FEATURES, SUBSPACE, OUTLIER_SHARE = 100_000, 100, 10, 0.01
SELECTION = "nothing is chosen here: both detectors run with their defaults"


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, SUBSPACE)) @ rng.normal(size=(SUBSPACE, FEATURES)) + 0.1 * rng.normal(size=(ROWS, FEATURES))
    outliers = rng.random(ROWS) < OUTLIER_SHARE
    x[outliers] = rng.normal(size=(int(outliers.sum()), FEATURES)) * x.std(0)
    return x.astype(np.float32), outliers.astype(int)


def timed(method: str, x: np.ndarray, y: np.ndarray) -> dict:
    started = time.perf_counter()
    if method == "genlab":
        detector = AnomalyDetector(random_state=0).fit(x)
        fitted = time.perf_counter()
        scores = detector.anomaly_scores(x)
    else:
        forest = IsolationForest(random_state=0, n_jobs=-1).fit(x)
        fitted = time.perf_counter()
        scores = -forest.score_samples(x)
    done = time.perf_counter()
    return {"fit_seconds": round(fitted - started, 2), "score_seconds": round(done - fitted, 2),
            "auroc": round(float(roc_auc_score(y, scores)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x, y = make_data()
    runs = {"genlab AnomalyDetector()": [], "sklearn IsolationForest": []}
    for repeat in range(args.repeats):
        for name, method in (("genlab AnomalyDetector()", "genlab"), ("sklearn IsolationForest", "forest")):
            runs[name].append(timed(method, x, y))
            print(repeat, name, runs[name][-1], flush=True)
    medians = {name: {field: statistics.median(r[field] for r in rows) for field in ("fit_seconds", "score_seconds",
                                                                                   "auroc")}
               for name, rows in runs.items()}
    genlab, forest = medians["genlab AnomalyDetector()"], medians["sklearn IsolationForest"]
    write_result("anomaly_speed", {
        "benchmark": "anomaly_speed",
        "protocol": {"rows": ROWS, "features": FEATURES, "subspace": SUBSPACE, "outlier_share": OUTLIER_SHARE,
                     "repeats": args.repeats, "order": "alternating, genlab first", "selection_protocol": SELECTION},
        "machine": machine(), "code": code_version(__file__), "runs": runs, "medians": medians,
        "fit_ratio_genlab_over_forest": round(genlab["fit_seconds"] / forest["fit_seconds"], 2),
        "fit_spread_seconds": {name: [min(r["fit_seconds"] for r in rows), max(r["fit_seconds"] for r in rows)]
                               for name, rows in runs.items()},
        "goal_fit_under_60s": genlab["fit_seconds"] < 60,
    })


if __name__ == "__main__":
    main()
