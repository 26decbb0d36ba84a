"""genlab's classifier on MNIST and Fashion-MNIST: test accuracy and training time.

Protocol: the reference recipes of genlab.eval.features (the `small` CNN, random shifts,
plus flips for Fashion-MNIST, Adam 2e-3 with a cosine schedule, batch 128, 12 and 20
epochs, seed 0), trained on genlab's 54,000-image training split, scored on the official
10,000 test images. train_seconds is the Trainer's wall time (including per-epoch
validation). The trained classifiers are cached as the datasets' reference feature
extractors ($GENLAB_DATA/classifiers/<dataset>/).

Run:  python benchmarks/classifier.py     (about 14 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json

import torch
from _common import machine, mirror_for, write_result

from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset
from genlab.eval.features import (
    REFERENCE_RECIPES,
    load_reference_classifier,
    train_reference_classifier,
)
from genlab.models.base import weights_sha256

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none in this script: the recipes in genlab.eval.features are fixed; the test images only score "
    "them"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(REFERENCE_RECIPES))
    args = parser.parse_args()
    results = {}
    for name in args.datasets:
        ensure_named_dataset(get_named_dataset(name), mirror=mirror_for(name))
        run = train_reference_classifier(name, progress=False)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        seconds = [r for r in records if r.get("event") == "end"][-1]["train_seconds"]
        model = load_reference_classifier(name)
        data = load_dataset(name)
        inputs = data.preprocessing(data.test.x)
        with torch.no_grad():
            predictions = torch.cat([model.predict(batch) for batch in inputs.split(1000)])
        accuracy = float((predictions == data.test.y).float().mean())
        results[name] = {"test_accuracy": round(accuracy, 4), "train_seconds": round(seconds, 1),
                         "precision": records[0]["precision"], "parameters": records[0]["parameters"],
                         "recipe": REFERENCE_RECIPES[name], "weights_sha256": weights_sha256(run)}
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "recipe"}), flush=True)
    write_result("classifier", {
        "benchmark": "classifier",
        "protocol": {"selection_protocol": SELECTION, "train_samples": 54000, "val_samples": 6000, "test_samples": 10000, "split": "official test split",
                     "train_seconds": "wall time of the Trainer, including per-epoch validation"},
        "machine": machine(), **results,
    })


if __name__ == "__main__":
    main()
