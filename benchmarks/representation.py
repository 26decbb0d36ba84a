"""What the codes know: linear and kNN probes on the codes of each autoencoder, against PCA and raw pixels.

Protocol
- Data: MNIST and Fashion-MNIST; models trained on genlab's 54,000-image training split.
- Models: ae, sparse-ae, vae (code = posterior mean) and supervised-ae, all MLP with
  genlab's default widths and a `--latent`-dimensional code (16), `--epochs` epochs (20),
  seeds 0, 1, 2 (`--seeds`; mean and sd). The supervised AE sees the labels while
  training: it is the upper reference, not an unsupervised method.
- Probes (genlab.eval.probes): standardised logistic regression (lbfgs, 1000 iterations)
  and 5-nearest-neighbours, fitted on the codes of the first `--probe-train` (10,000)
  training images and scored on the 10,000 official test images.
- Baselines on the same images: PCA with as many components as the code has
  dimensions, and the raw pixels.

Run:  python benchmarks/representation.py      (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine, mirror_for, write_result
from sklearn.decomposition import PCA

import genlab
from genlab.data import ensure_named_dataset, get_named_dataset
from genlab.data.model_inputs import model_inputs
from genlab.eval.probes import probe_accuracy
from genlab.models.inference import encode_all

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: genlab's default widths, a fixed code size and fixed probe settings; every model trained "
    "is reported"
)

MODELS = ("ae", "sparse-ae", "vae", "supervised-ae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--probe-train", type=int, default=10_000)
    args = parser.parse_args()

    results = {}
    for dataset in args.datasets:
        ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
        rows = {}
        with tempfile.TemporaryDirectory() as scratch:
            for name in args.models:
                per_seed = []
                for seed in args.seeds:
                    started = time.perf_counter()
                    model = genlab.train(name, dataset, run_dir=Path(scratch) / f"{name}-{seed}", progress=False,
                                         config={"seed": seed}, overrides={"model.latent_dim": args.latent,
                                                                            "train.epochs": args.epochs, "train.tensorboard": False})
                    train_seconds = time.perf_counter() - started
                    train_x, train_y = model_inputs(model, dataset, "train", args.probe_train)
                    test_x, test_y = model_inputs(model, dataset, "test")
                    per_seed.append({**probe_accuracy(encode_all(model, train_x).numpy(), train_y.numpy(),
                                                      encode_all(model, test_x).numpy(), test_y.numpy()),
                                     "train_seconds": round(train_seconds, 1)})
                    print(dataset, name, seed, per_seed[-1], flush=True)
                rows[name] = {**{probe: round(statistics.fmean(r[probe] for r in per_seed), 4) for probe in ("logistic", "knn")},
                              **{f"{probe}_sd": round(statistics.stdev(r[probe] for r in per_seed), 4) if len(per_seed) > 1 else 0.0
                                 for probe in ("logistic", "knn")},
                              "train_seconds": round(statistics.fmean(r["train_seconds"] for r in per_seed), 1),
                              "per_seed": per_seed, "uses_labels": name == "supervised-ae"}
        # baselines on the images as the unsupervised models see them ([0, 1] pixels)
        flat_train, flat_test = train_x.flatten(1).numpy(), test_x.flatten(1).numpy()
        pca = PCA(n_components=args.latent, random_state=0).fit(flat_train)
        rows[f"pca-{args.latent}"] = {**probe_accuracy(pca.transform(flat_train), train_y.numpy(), pca.transform(flat_test),
                                                       test_y.numpy()), "uses_labels": False}
        rows["raw pixels"] = {**probe_accuracy(flat_train, train_y.numpy(), flat_test, test_y.numpy()), "uses_labels": False}
        print(dataset, "baselines", {k: v for k, v in rows.items() if k.startswith(("pca", "raw"))}, flush=True)
        unsupervised = [k for k in ("ae", "sparse-ae", "vae") if k in rows]
        results[dataset] = {"rows": rows, "best_unsupervised_code_beats_pca": bool(unsupervised) and bool(
            max(rows[k]["logistic"] for k in unsupervised) > rows[f"pca-{args.latent}"]["logistic"])}

    write_result("representation", {
        "benchmark": "representation",
        "protocol": {
            "selection_protocol": SELECTION,
            "models": "MLP ae, sparse-ae, vae (posterior mean), supervised-ae (uses labels); genlab defaults otherwise",
            "latent_dim": args.latent, "epochs": args.epochs, "seeds": args.seeds,
            "spread": "probe accuracy: mean and sd over training seeds (PCA and raw pixels are deterministic)",
            "probe_train": f"first {args.probe_train} images of genlab's training split",
            "probe_test": "official test split (10,000)",
            "probes": "standardised logistic regression (lbfgs, 1000 iterations); 5-NN",
            "baselines": f"PCA with {args.latent} components fitted on the probe's training images; raw pixels",
        },
        "machine": machine(),
        **results,
    })


if __name__ == "__main__":
    main()
