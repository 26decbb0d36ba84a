"""Anomaly detection: genlab's AnomalyDetector against PyOD's AutoEncoder and VAE, same data, same script.

Protocol
- Images, one-class (as in Deep SVDD, OCGAN, GEOM): for each class c of MNIST and
  Fashion-MNIST, fit on the training images of class c alone (genlab's 54,000-image
  training split), score all 10,000 official test images, AUROC with class c as normal
  and the other nine as anomalies; the table gives the mean over the 10 classes.
  Pixels are scaled to [0, 1] and flattened for PyOD.
- Tabular: scikit-learn's breast-cancer records (30 features), the malignant minority
  (212 of 569) as anomalies. One-class as well: fit on 60% of the benign records
  (seeded split), score the other 40% of the benign and every malignant record;
  AUROC and average precision.
- PyOD 3.6.7: AutoEncoder(hidden_neuron_list=[256, 64], epoch_num=20) and
  VAE(epoch_num=20), their defaults otherwise (batch 32, Adam 1e-3, own standardisation),
  and each again with `preprocessing=False` ("raw": inputs as given).
- genlab: the detector settings in GENLAB below, each reported (no pick on the test set).
- Seed 0 for every method; training and scoring wall time recorded.
- Each finished (dataset, class, method) cell is saved to results/app_anomaly.json at
  once; a rerun under the same protocol skips the cells already there (`--fresh` starts over).

Run:  python benchmarks/app_anomaly.py            (pip install -e ".[bench]" for PyOD)
      python benchmarks/app_anomaly.py --fresh --classes 0 1 --datasets mnist   (a quick look; replaces the table)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from _common import RESULTS, machine, mirror_for, write_result
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import average_precision_score, roc_auc_score

from genlab.apps import AnomalyDetector
from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset

GENLAB = {
    "genlab vae (nll)": {"model": "vae", "score": "nll", "latent_dim": 16, "hidden": (512, 256), "epochs": 20},
    "genlab ae (reconstruction)": {"model": "ae", "score": "reconstruction", "latent_dim": 16, "hidden": (512, 256),
                                   "epochs": 20},
    "genlab ae (weighted reconstruction)": {"model": "ae", "score": "weighted-reconstruction", "latent_dim": 16,
                                            "hidden": (512, 256), "epochs": 20},
}
PYOD = ("pyod AutoEncoder", "pyod VAE", "pyod AutoEncoder (raw)", "pyod VAE (raw)")


def pyod_detector(name: str):
    # "(raw)": PyOD's own standardisation off, the inputs as given ([0, 1] pixels, raw tabular
    # features); on MNIST it scored far better that way (class 2: 0.940 against 0.886).
    standardise = not name.endswith("(raw)")
    if name.startswith("pyod AutoEncoder"):
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(hidden_neuron_list=[256, 64], epoch_num=20, random_state=0, verbose=0, preprocessing=standardise)
    from pyod.models.vae import VAE

    return VAE(epoch_num=20, random_state=0, verbose=0, preprocessing=standardise)


def fit_and_score(method: str, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, float]:
    """Anomaly scores of `test` (higher = more anomalous) and the seconds fitting and scoring took."""
    started = time.perf_counter()
    if method in GENLAB:
        scores = AnomalyDetector(**GENLAB[method]).fit(train).decision_function(test)
    else:
        detector = pyod_detector(method)
        detector.fit(train.reshape(len(train), -1))
        scores = detector.decision_function(test.reshape(len(test), -1))
    return np.asarray(scores, dtype=np.float64), time.perf_counter() - started


def one_class_images(dataset: str, methods: list[str], classes: list[int], rows: dict, save) -> None:
    """Fill `rows[method]` with per-class AUROCs, skipping the cells already there; `save()` after each."""
    ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
    data = load_dataset(dataset)
    train_x, train_y = data.train.x.numpy().astype(np.float32) / 255.0, data.train.y.numpy()
    test_x, test_y = data.test.x.numpy().astype(np.float32) / 255.0, data.test.y.numpy()
    for normal in classes:
        for method in methods:
            row = rows.setdefault(method, {"auroc_per_class": {}, "seconds": 0.0})
            if str(normal) in row["auroc_per_class"]:
                continue
            scores, seconds = fit_and_score(method, train_x[train_y == normal], test_x)
            auroc = roc_auc_score(test_y != normal, scores)
            row["auroc_per_class"][str(normal)] = round(float(auroc), 4)
            row["seconds"] = round(row["seconds"] + seconds, 1)
            per_class = row["auroc_per_class"].values()
            row["mean_auroc"] = round(statistics.fmean(per_class), 4) if len(per_class) == len(classes) else None
            print(f"{dataset} class {normal} {method:<28} AUROC {auroc:.4f} ({seconds:.0f} s)", flush=True)
            save()


def tabular(methods: list[str]) -> dict:
    records = load_breast_cancer()
    x, anomalous = records.data.astype(np.float32), records.target == 0
    benign = np.random.default_rng(0).permutation(np.flatnonzero(~anomalous))
    cut = int(0.6 * len(benign))
    test = np.r_[benign[cut:], np.flatnonzero(anomalous)]
    rows = {}
    for method in methods:
        scores, seconds = fit_and_score(method, x[benign[:cut]], x[test])
        rows[method] = {"auroc": round(float(roc_auc_score(anomalous[test], scores)), 4),
                        "average_precision": round(float(average_precision_score(anomalous[test], scores)), 4),
                        "seconds": round(seconds, 1)}
        print(f"breast-cancer {method:<28} {rows[method]}", flush=True)
    return {"rows": rows, "train_records": cut, "test_records": len(test), "test_anomalies": int(anomalous[test].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--methods", nargs="+", default=[*GENLAB, *PYOD], choices=[*GENLAB, *PYOD], metavar="METHOD")
    parser.add_argument("--fresh", action="store_true", help="discard the cells already recorded")
    args = parser.parse_args()
    import pyod

    protocol = {
        "images": "one-class: fit on one class of genlab's training split, score the official test split; "
                  "AUROC with that class normal, mean over classes",
        "classes": args.classes,
        "tabular": "breast cancer, malignant = anomaly; fit on 60% of benign records (seed 0), "
                   "score the other benign and all malignant records",
        "genlab": GENLAB, "pyod": {"version": pyod.__version__,
                                   "AutoEncoder": "hidden_neuron_list=[256, 64], epoch_num=20, defaults otherwise",
                                   "VAE": "epoch_num=20, defaults otherwise",
                                   "raw": "the same with preprocessing=False (no standardisation)"},
        "seed": 0,
    }
    path = RESULTS / "app_anomaly.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    if state and state.get("protocol") != json.loads(json.dumps(protocol)):
        raise SystemExit("results/app_anomaly.json was measured under other settings (classes, methods' settings or "
                         "PyOD version); rerun with those, or --fresh to start the table over")
    state.update({"benchmark": "app_anomaly", "protocol": protocol})

    def save() -> None:
        state["machine"] = machine()
        write_result("app_anomaly", state)

    for dataset in args.datasets:
        one_class_images(dataset, args.methods, args.classes, state.setdefault(dataset, {}), save)
    state["breast-cancer"] = tabular(args.methods)
    save()


if __name__ == "__main__":
    main()
