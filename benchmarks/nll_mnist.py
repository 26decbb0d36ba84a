"""Negative log-likelihood on dynamically binarised MNIST, next to the published numbers.

Protocol
- Data: MNIST, dynamically binarised while training (a fresh Bernoulli draw of every
  pixel per batch); genlab's 54,000-image training split. Test: all 10,000 official
  test images, binarised once with seed 0.
- NLL: the importance-weighted bound with k=5000 samples per image (`--k`), as in
  Burda et al. 2015, from genlab.evaluate (metrics likelihood), which also reports the
  ELBO and the time the estimate took.
- Models (`--models`), each Adam 1e-3 with a cosine decay over `--epochs`, batch 128,
  seed 0:
    vae-mlp    MLP 784-512-512 encoder, 50-d latent, mirrored decoder, ELBO;
    iwae-mlp   the same networks trained on the importance-weighted bound, k=5;
    vae-conv   genlab's convolutional VAE (channels 32-64-128-256), 50-d latent, ELBO.
- Published (Burda et al. 2015, Table 1, k=5000): VAE 86.76, IWAE k=50 84.78,
  two-stochastic-layer IWAE k=50 82.90 nats, after 3,280 passes over the data.
- Each finished model is saved to results/nll_mnist.json at once; a rerun skips the
  models already there (`--fresh` starts over).

Run:  python benchmarks/nll_mnist.py     (training time set by --epochs; the k=5000 estimate
      takes several minutes per model on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from _common import RESULTS, machine, mirror_for, write_result

import genlab
from genlab.data import ensure_named_dataset, get_named_dataset

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: architectures, bound and k follow Burda et al. 2015; epochs fixed in advance; every model "
    "trained is reported"
)

PUBLISHED = {"VAE (Burda et al. 2015)": 86.76, "IWAE k=50": 84.78, "IWAE k=50, two stochastic layers": 82.90}
MLP = {"arch": "mlp", "hidden": [512, 512], "latent_dim": 50}
MODELS = {
    "vae-mlp": MLP,
    "iwae-mlp": {**MLP, "iw_samples": 5},
    "vae-conv": {"arch": "conv", "latent_dim": 50},
}


def train_run(run: Path, name: str, epochs: int) -> dict:
    """Train `name` into `run`, or reuse a finished run there; its closing metrics record."""
    log = run / "metrics.jsonl"
    ends = [json.loads(line) for line in log.read_text().splitlines() if '"end"' in line] if log.is_file() else []
    if ends and "stopped" not in ends[-1] and (run / "model" / "model.safetensors").is_file():
        return ends[-1]
    if run.exists():
        shutil.rmtree(run)  # an unfinished run from an earlier sitting starts again
    overrides = {f"model.{key}": value for key, value in MODELS[name].items()}
    overrides.update({"data.binarize": "dynamic", "train.epochs": epochs, "train.lr": 1e-3,
                      "train.scheduler": "cosine", "train.batch_size": 128, "train.tensorboard": False})
    genlab.train("vae", "mnist", run_dir=run, overrides=overrides, progress=False)
    return [json.loads(line) for line in log.read_text().splitlines() if '"end"' in line][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=100, help="training epochs per model (default 100)")
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--limit", type=int, help="score only the first N test images (recorded with the row; "
                        "for decoders whose k=5000 estimate over all 10,000 would take hours)")
    parser.add_argument("--runs", type=Path, help="keep the trained runs in this folder (default: a temporary one); "
                        "a finished run found there is scored without training it again")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    ensure_named_dataset(get_named_dataset("mnist"), mirror=mirror_for("mnist"))
    path = RESULTS / "nll_mnist.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    rows = state.setdefault("rows", {})
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            recorded = rows.get(name, {})
            if (recorded.get("epochs"), recorded.get("k"), recorded.get("test_images")) == (args.epochs, args.k,
                                                                                          args.limit or 10_000):
                continue
            run = (args.runs or Path(scratch)) / f"{name}-{args.epochs}ep"
            end = train_run(run, name, args.epochs)
            result = genlab.evaluate(run, ["likelihood"], k=args.k, limit=args.limit, progress=False)
            likelihood = result["metrics"]["likelihood"]
            rows[name] = {"settings": MODELS[name], "epochs": args.epochs, "train_seconds": end["train_seconds"],
                          "nll": likelihood["nll"], "nll_std_error": likelihood["nll_std_error"],
                          "neg_elbo": -likelihood["elbo"], "bits_per_dim": likelihood["bits_per_dim"],
                          "k": args.k, "nll_seconds": likelihood["seconds"], "test_images": result["protocol"]["examples"],
                          "parameters": genlab.load(run).num_parameters()}
            print(name, json.dumps(rows[name]), flush=True)
            best = min(rows.values(), key=lambda r: r["nll"])
            write_result("nll_mnist", {
                "benchmark": "nll_mnist",
                "protocol": {"selection_protocol": SELECTION, "data": "MNIST, dynamic binarisation in training; test set binarised once (seed 0)",
                             "train_split": "genlab's 54,000 training images",
                             "test_images": "the first N official test images, N per row (10,000 = all)",
                             "estimator": "importance-weighted bound (Burda et al. 2015)",
                             "optimizer": "Adam 1e-3, cosine decay, batch 128", "seed": 0},
                "published": PUBLISHED, "machine": machine(), "rows": rows,
                "best": {"model": next(k for k, v in rows.items() if v is best), "nll": best["nll"],
                         "at_or_below_vae_86_76": best["nll"] <= 86.76},
            })


if __name__ == "__main__":
    main()
