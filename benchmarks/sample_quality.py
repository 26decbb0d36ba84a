"""Sample quality of every generator genlab has, on MNIST and Fashion-MNIST, over seeds.

Protocol
- Generators: AE + GMM (a 10-component mixture fitted to the training codes), VAE
  sampling its prior, VAE + GMM, cVAE (uniform labels), and GANs with the
  non-saturating, least-squares, hinge (spectral norm) and WGAN-GP losses. The AE,
  VAE and cVAE are convolutional, latent 16, `--epochs` epochs (10); each GAN trains
  `--gan-epochs` epochs (4, about 2 minutes on 2 cores) with genlab's defaults
  otherwise. Budgets are in epochs, not wall time, so that a loaded machine gives the
  same numbers; each row records its training seconds.
- Seeds 0, 1, 2 (`--seeds`): training seed; samples drawn with the same seed.
- Metrics (genlab.evaluate, metrics quality and diversity): 10,000 samples against
  the 10,000 official test images, in the penultimate-layer space of genlab's
  reference classifier for the dataset (its weights' SHA-256 is recorded): FID, KID,
  classifier score, precision/recall (k=3), density/coverage (k=5), class entropy.
- Table: mean and standard deviation over seeds.
- Each finished (dataset, generator, seed) is saved to results/sample_quality.json at
  once, and a rerun skips those already there: the table can be filled over several
  sittings, seed by seed. A rerun under other settings, or with another reference
  classifier, is refused rather than mixed in; `--fresh` starts over.

Run:  python benchmarks/sample_quality.py      (about 15 minutes per dataset and seed on 2 cores,
      1.5 hours in all, plus 13 minutes for the two reference classifiers when not cached)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import RESULTS, machine, mirror_for, write_result

import genlab
from genlab.data import ensure_named_dataset, get_named_dataset
from genlab.eval.features import (
    load_reference_classifier,
    reference_classifier_dir,
    train_reference_classifier,
)
from genlab.models.base import weights_sha256

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: genlab's defaults and fixed epoch budgets; every generator trained is reported"
)

LATENT = {"arch": "conv", "latent_dim": 16}
# generator -> (model, model settings, sampler); GANs get their own epoch budget
GENERATORS = {
    "ae + gmm": ("ae", LATENT, "gmm"),
    "vae": ("vae", LATENT, "prior"),
    "vae + gmm": ("vae", LATENT, "gmm"),
    "cvae": ("cvae", LATENT, "prior"),
    "gan non-saturating": ("gan", {"loss": "non-saturating"}, "prior"),
    "gan least-squares": ("gan", {"loss": "least-squares"}, "prior"),
    "gan hinge": ("gan", {"loss": "hinge"}, "prior"),
    "gan wasserstein-gp": ("gan", {"loss": "wasserstein-gp"}, "prior"),
}
REPORTED = ("fid", "kid", "classifier_score", "precision", "recall", "density", "coverage")


def train_once(cache: dict, scratch: Path, dataset: str, model: str, settings: dict, seed: int, args) -> tuple[Path, float]:
    """Train (or reuse, when AE/VAE serve two generators) the run for one model and seed; (run, train seconds)."""
    key = (dataset, model, json.dumps(settings, sort_keys=True), seed)
    if key not in cache:
        run = scratch / f"{dataset}-{model}-{len(cache)}"
        overrides = {f"model.{k}": v for k, v in settings.items()}
        overrides.update({"train.tensorboard": False, "train.preview_samples": 0})
        if model == "gan":
            overrides.update({"train.epochs": args.gan_epochs})
        else:
            overrides.update({"train.epochs": args.epochs})
        started = time.perf_counter()
        genlab.train(model, dataset, run_dir=run, config={"seed": seed}, overrides=overrides, progress=False)
        cache[key] = (run, round(time.perf_counter() - started, 1))
    return cache[key]


def summarise(rows: list[dict]) -> dict:
    summary = {}
    for name in (*REPORTED, "entropy", "largest_class"):
        values = [r[name] for r in rows if name in r]
        if values:
            summary[name] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS), metavar="NAME")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--gan-epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--fresh", action="store_true", help="discard the runs already recorded")
    args = parser.parse_args()

    path = RESULTS / "sample_quality.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    runs = state.setdefault("runs", [])
    done = {(r["dataset"], r["generator"], r["seed"]) for r in runs}
    protocol = {
        "selection_protocol": SELECTION,
        "generators": {k: {"model": m, "settings": s, "sampler": p} for k, (m, s, p) in GENERATORS.items()},
        "epochs": args.epochs, "gan_epochs": args.gan_epochs, "samples": args.samples,
        "reference": "official test split (10,000 images)", "feature_space": "genlab reference classifier, penultimate layer",
        "metrics": "genlab.evaluate quality + diversity; precision/recall k=3, density/coverage k=5",
        "spread": "standard deviation over seeds",
    }
    if runs and state.get("protocol") != protocol:
        raise SystemExit("results/sample_quality.json was measured under another protocol (epochs or samples "
                         "differ); rerun with the recorded settings, or --fresh to start the table over")
    state["protocol"] = protocol
    for dataset in args.datasets:
        ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
        if load_reference_classifier(dataset) is None:
            train_reference_classifier(dataset, progress=False)
        sha = weights_sha256(reference_classifier_dir(dataset))
        recorded = state.setdefault("classifier_sha256", {}).setdefault(dataset, sha)
        if recorded != sha and any(r["dataset"] == dataset for r in runs):
            raise SystemExit(f"the {dataset} reference classifier differs from the one the recorded rows were "
                             f"measured with ({recorded[:12]}...); use that one, or --fresh")
        state["classifier_sha256"][dataset] = sha
    with tempfile.TemporaryDirectory() as scratch:
        trained: dict = {}
        # seed by seed, so that a sitting cut short leaves every dataset with the same seeds done
        for seed in args.seeds:
            for dataset in args.datasets:
                for generator in args.generators:
                    if (dataset, generator, seed) in done:
                        continue
                    model, settings, sampler = GENERATORS[generator]
                    run, train_seconds = train_once(trained, Path(scratch), dataset, model, settings, seed, args)
                    result = genlab.evaluate(run, ["quality", "diversity"], samples=args.samples, seed=seed,
                                             sampler=sampler, bootstrap=0, progress=False)
                    metrics = result["metrics"]
                    row = {"dataset": dataset, "generator": generator, "seed": seed,
                           **{k: metrics["quality"][k] for k in REPORTED if k in metrics["quality"]},
                           "entropy": metrics["diversity"]["entropy"], "largest_class": metrics["diversity"]["largest_class"],
                           "samples_per_second": result["protocol"]["generation"]["samples_per_second"],
                           "train_seconds": train_seconds}
                    runs.append(row)
                    print(json.dumps(row), flush=True)
                    state["machine"] = machine()
                    state["summary"] = {d: {g: summarise([r for r in runs if r["dataset"] == d and r["generator"] == g])
                                            for g in GENERATORS if any(r["dataset"] == d and r["generator"] == g for r in runs)}
                                        for d in sorted({r["dataset"] for r in runs})}
                    write_result("sample_quality", {"benchmark": "sample_quality", **state})


if __name__ == "__main__":
    main()
