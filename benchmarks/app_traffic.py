"""Network-intrusion detection on raw KDD-style records: genlab on the raw CSV against IsolationForest and PyOD
on the same records one-hot encoded.

Data: benchmarks/traffic.py draws connection records in the KDD Cup 99 schema (41
columns, three of them text: protocol_type, service, flag). Per seed, a training table
of 8,000 records and a test table of 4,000 records with 10% attacks from the four KDD
families, drawn with another seed. Two protocols: the training records are normal
traffic only (novelty detection, how `genlab detect fit` is documented to be used), or
include 2% unlabelled attacks (outlier detection on traffic as captured). No labels are
used for fitting or for any choice.

genlab reads the raw CSV files itself (`AnomalyDetector().fit("train.csv")`, text
columns and all) with its default settings, untouched for this benchmark: nothing
here chose them. The baselines get the same records one-hot encoded by this script
(pandas get_dummies fitted on the training table; categories met only in the test table
become all-zero) and standardised (StandardScaler fitted on the training table):
scikit-learn's IsolationForest and PyOD's IForest, ECOD, COPOD, KNN, PCA and AutoEncoder,
each with its library defaults (PCA unweighted: see `baselines`). Reported: AUROC and average precision on the test table,
mean and standard deviation over seeds, and fit time.

    python benchmarks/app_traffic.py            # 3 seeds, two protocols, about 10 minutes on 2 cores
    python benchmarks/app_traffic.py --seeds 1  # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402
from traffic import COLUMNS, TEXT_COLUMNS, make_records  # noqa: E402

from genlab.apps import AnomalyDetector  # noqa: E402
from genlab.apps.inputs import read_table  # noqa: E402

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = "none: AnomalyDetector defaults fixed before this benchmark existed; no setting was chosen on these data"

TRAIN_RECORDS, TEST_RECORDS, TEST_ATTACKS = 8000, 4000, 0.10
# attacks among the training records: none (fitted on normal traffic, as `genlab detect fit` is documented to be
# used), or 2% unlabelled (traffic as captured)
PROTOCOLS = {"normal-only training": 0.0, "2% contaminated training": 0.02}


def one_hot(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Text columns one-hot encoded from the training table's categories, then every column standardised."""
    encoded_train = pd.get_dummies(train, columns=TEXT_COLUMNS, dtype=float)
    encoded_test = pd.get_dummies(test, columns=TEXT_COLUMNS, dtype=float).reindex(columns=encoded_train.columns,
                                                                                   fill_value=0.0)
    varying = encoded_train.columns[encoded_train.std() > 0]  # constant columns carry nothing and break PCA
    scaler = StandardScaler().fit(encoded_train[varying].to_numpy())
    return scaler.transform(encoded_train[varying].to_numpy()), scaler.transform(encoded_test[varying].to_numpy())


def baselines(seed: int) -> dict:
    """name -> a fresh detector with fit(X) and decision_function(X) (higher = more anomalous)."""
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.pca import PCA

    class SklearnIsolationForest:
        def __init__(self):
            self.forest = IsolationForest(random_state=seed)

        def fit(self, x):
            self.forest.fit(x)
            return self

        def decision_function(self, x):
            return -self.forest.score_samples(x)

    return {"sklearn IsolationForest": SklearnIsolationForest(), "PyOD IForest": IForest(random_state=seed),
            "PyOD ECOD": ECOD(), "PyOD COPOD": COPOD(), "PyOD KNN": KNN(),
            # unweighted: the default divides by the variance of every component, and duplicated KDD columns
            # (serror_rate and srv_serror_rate, say) leave some exactly zero, so scores come out infinite
            "PyOD PCA": PCA(random_state=seed, weighted=False),
            "PyOD AutoEncoder": AutoEncoder(random_state=seed, verbose=0)}


def genlab_detectors(seed: int) -> dict:
    return {"genlab AnomalyDetector() (raw CSV)": AnomalyDetector(random_state=seed),
            "genlab AnomalyDetector(model='ae') (raw CSV)": AnomalyDetector(model="ae", random_state=seed)}


def score(labels: np.ndarray, scores: np.ndarray) -> dict:
    return {"auroc": float(roc_auc_score(labels, scores)), "average_precision": float(average_precision_score(labels, scores))}


def run_seed(seed: int, folder: Path, train_attacks: float) -> dict:
    train, _, _ = make_records(TRAIN_RECORDS, train_attacks, seed)
    test, labels, families = make_records(TEST_RECORDS, TEST_ATTACKS, seed + 1000)
    train_csv, test_csv = folder / f"train-{seed}.csv", folder / f"test-{seed}.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    results = {}
    for name, detector in genlab_detectors(seed).items():
        started = time.perf_counter()
        detector.fit(train_csv)  # the raw file: genlab reads and encodes it
        seconds = time.perf_counter() - started
        records, _ = read_table([test_csv])
        results[name] = {**score(labels, detector.anomaly_scores(records)), "fit_seconds": seconds}
        print(f"{train_attacks:.0%} seed {seed} {name}: {results[name]}", flush=True)
    x_train, x_test = one_hot(train, test)
    for name, detector in baselines(seed).items():
        started = time.perf_counter()
        detector.fit(x_train)
        seconds = time.perf_counter() - started
        results[name] = {**score(labels, detector.decision_function(x_test)), "fit_seconds": seconds}
        print(f"{train_attacks:.0%} seed {seed} {name}: {results[name]}", flush=True)
    return {"seed": seed, "families": {f: int((families == f).sum()) for f in sorted(set(families))},
            "encoded_features": int(x_train.shape[1]), "results": results}


def summarise(runs: list[dict]) -> dict:
    names = list(runs[0]["results"])
    summary = {}
    for name in names:
        entry = {}
        for metric in ("auroc", "average_precision", "fit_seconds"):
            values = [run["results"][name][metric] for run in runs]
            entry[metric] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                             "values": values}
        summary[name] = entry
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    protocols = {}
    default = "genlab AnomalyDetector() (raw CSV)"
    with tempfile.TemporaryDirectory(prefix="genlab-traffic-") as scratch:
        for protocol, train_attacks in PROTOCOLS.items():
            runs = [run_seed(seed, Path(scratch), train_attacks) for seed in range(args.seeds)]
            summary = summarise(runs)
            best = max((n for n in summary if not n.startswith("genlab")), key=lambda n: summary[n]["auroc"]["mean"])
            protocols[protocol] = {"train_attack_fraction": train_attacks, "summary": summary, "best_baseline": best,
                                   "genlab_default_minus_best_baseline_auroc":
                                       summary[default]["auroc"]["mean"] - summary[best]["auroc"]["mean"],
                                   "runs": runs}
    payload = {
        "benchmark": "app_traffic",
        "protocol": {
            "data": "benchmarks/traffic.py: KDD Cup 99 schema, 41 columns (3 text), normal traffic + neptune, smurf, "
                    "portsweep, guess_passwd, buffer_overflow",
            "train": f"{TRAIN_RECORDS} records, seed s; attacks among them as each protocol says (unlabelled)",
            "test": f"{TEST_RECORDS} records, {TEST_ATTACKS:.0%} attacks, seed s + 1000",
            "seeds": args.seeds,
            "genlab": "AnomalyDetector defaults (chosen before this benchmark existed; nothing here tuned them), fitted "
                      "on the raw training CSV path; test records read from the raw CSV",
            "baselines": "library defaults on one-hot (get_dummies fitted on train) + StandardScaler (fitted on train)",
            "selection": "none: no setting was chosen on these data",
            "selection_protocol": SELECTION,
        },
        "columns": COLUMNS,
        "machine": machine(),
        "protocols": protocols,
    }
    write_result("app_traffic", payload)
    for protocol, result in protocols.items():
        print(protocol)
        for name, entry in result["summary"].items():
            print(f"  {name:<48} AUROC {entry['auroc']['mean']:.4f} ± {entry['auroc']['std']:.4f}   "
                  f"AP {entry['average_precision']['mean']:.4f} ± {entry['average_precision']['std']:.4f}   "
                  f"fit {entry['fit_seconds']['mean']:.1f} s")


if __name__ == "__main__":
    main()
