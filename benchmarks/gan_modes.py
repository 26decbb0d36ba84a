"""Mode coverage of genlab's non-saturating DCGAN on MNIST and Fashion-MNIST.

Protocol: `genlab train gan --data DATASET --set model.loss=non-saturating` (genlab's
defaults otherwise), stopped after --minutes of training; 10,000 samples from the EMA
generator (fixed sampling seeds) are classified by genlab's reference classifier for the
dataset (identified by its weights' SHA-256). Reported: the class histogram, its entropy
(nats; log 10 = 2.303 is perfectly even) and the share of the largest class (goal: under
20%). A grid of 64 samples per dataset is saved beside the JSON.

Run:  python benchmarks/gan_modes.py      (about 12 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import torch
from _common import RESULTS, machine, mirror_for, write_result

import genlab
from genlab.data import ensure_named_dataset, get_named_dataset
from genlab.data.preprocessing import convert_preprocessing
from genlab.eval.features import (
    load_reference_classifier,
    reference_classifier_dir,
    train_reference_classifier,
)
from genlab.images import save_image_grid
from genlab.models.base import weights_sha256

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: genlab's defaults with the non-saturating loss; the test-free classifier histogram is the "
    "only output"
)

SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    args = parser.parse_args()
    results = {}
    for name in args.datasets:
        ensure_named_dataset(get_named_dataset(name), mirror=mirror_for(name))
        if load_reference_classifier(name) is None:
            train_reference_classifier(name, progress=False)
        classifier = load_reference_classifier(name)
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch) / "gan"
            model = genlab.train("gan", name, run_dir=run, progress=False, overrides={
                "model.loss": "non-saturating", "train.epochs": 10_000, "train.max_minutes": args.minutes,
                "train.tensorboard": False})
            end = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"end"' in line][-1]
        samples = torch.cat([model.sample(500, torch.Generator().manual_seed(i)) for i in range(SAMPLES // 500)])
        inputs = convert_preprocessing(samples, model.config.preprocessing, classifier.config.preprocessing)
        predictions = torch.cat([classifier.predict(batch) for batch in inputs.split(1000)])
        share = torch.bincount(predictions, minlength=10).float() / len(predictions)
        entropy = float(-(share[share > 0] * share[share > 0].log()).sum())
        save_image_grid(inputs[:64], RESULTS / f"gan_modes_{name}.png")
        results[name] = {
            "class_histogram": [round(v, 4) for v in share.tolist()],
            "classes_present": int((share > 0.01).sum()),
            "largest_class": round(float(share.max()), 4),
            "smallest_class": round(float(share.min()), 4),
            "entropy": round(entropy, 4), "entropy_max": round(math.log(10), 4),
            "train_seconds": end["train_seconds"], "steps": end["step"],
            "classifier_sha256": weights_sha256(reference_classifier_dir(name)),
            "grid": f"gan_modes_{name}.png",
        }
        print(name, json.dumps(results[name]), flush=True)
    write_result("gan_modes", {
        "benchmark": "gan_modes",
        "protocol": {"selection_protocol": SELECTION, "model": "genlab gan, loss non-saturating, defaults otherwise", "budget_minutes": args.minutes,
                     "samples": SAMPLES, "judge": "genlab's reference classifier for the dataset", "goal": "largest class < 0.20"},
        "machine": machine(), **results,
    })


if __name__ == "__main__":
    main()
