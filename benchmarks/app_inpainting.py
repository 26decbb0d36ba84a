"""Inpainting: genlab's code-fitting inpainter against scikit-image's biharmonic inpainting.

Protocol
- Data: the official test images of MNIST and Fashion-MNIST in [0, 1] (`--limit`, all
  10,000 by default).
- Holes: a centre square (14x14 of 28x28), the lower half, and 50% of the pixels at
  random (a fresh draw per image, seed 0).
- genlab: `genlab.apps.inpainting` with the models in MODELS, trained on genlab's
  54,000-image training split (seed 0, `--epochs`, cosine schedule); `--steps`
  optimisation steps on the codes.
- Baseline: `skimage.restoration.inpaint_biharmonic`, image by image.
- Score: PSNR inside the hole only (peak 1), mean over images; known pixels are checked
  to be unchanged for every method.
- Bar: genlab above biharmonic for the centre square and the lower half.

Run:  python benchmarks/app_inpainting.py [--runs DIR to keep and reuse the trained models]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine, mirror_for, trained_run, write_result
from skimage.restoration import inpaint_biharmonic

import genlab
from genlab.apps import inpaint
from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: models, epochs and optimisation steps fixed in advance; every model trained is reported"
)

MODELS = {
    "vae-conv": ("vae", {"arch": "conv", "latent_dim": 32}),
    "ae-conv": ("ae", {"arch": "conv", "latent_dim": 32}),
}
HOLES = ("centre square", "lower half", "50% random pixels")


def hole_masks(kind: str, count: int, size: int = 28) -> torch.Tensor:
    """(count, 1, size, size) True where a pixel is missing."""
    mask = torch.zeros(count, 1, size, size, dtype=torch.bool)
    if kind == "centre square":
        quarter = size // 4
        mask[..., quarter : size - quarter, quarter : size - quarter] = True
    elif kind == "lower half":
        mask[..., size // 2 :, :] = True
    else:
        mask = torch.rand(count, 1, size, size, generator=torch.Generator().manual_seed(0)) < 0.5
    return mask


def hole_psnr(clean: torch.Tensor, estimate: torch.Tensor, missing: torch.Tensor) -> float:
    error = ((clean - estimate).square() * missing).flatten(1).sum(1) / missing.flatten(1).sum(1)
    return float((10 * torch.log10(1 / error.clamp_min(1e-10))).mean())


def biharmonic(images: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    out = images.clone().numpy()
    for i, (image, hole) in enumerate(zip(images[:, 0].numpy(), missing[:, 0].numpy())):  # one image at a time
        out[i, 0] = inpaint_biharmonic(np.where(hole, 0, image), hole)
    return torch.from_numpy(out).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--limit", type=int, help="only the first N test images (default: all 10,000)")
    parser.add_argument("--runs", type=Path, help="keep the trained models here and reuse them")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in args.datasets:
            ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
            data = load_dataset(dataset)
            clean = data.preprocessing(data.test.x[: args.limit])
            models = {}
            for name in args.models:
                model_name, settings = MODELS[name]
                overrides = {**{f"model.{k}": v for k, v in settings.items()}, "train.epochs": args.epochs,
                             "train.scheduler": "cosine"}
                run = trained_run((args.runs or Path(scratch)) / f"{dataset}-{name}-{args.epochs}ep", model_name, dataset,
                                  overrides)
                models[name] = genlab.load(run)
            results[dataset] = {}
            for hole in HOLES:
                missing = hole_masks(hole, len(clean))
                rows = {}
                started = time.perf_counter()
                filled = biharmonic(clean, missing)
                rows["biharmonic"] = {"psnr_in_hole": round(hole_psnr(clean, filled, missing), 3),
                                      "seconds": round(time.perf_counter() - started, 1)}
                for name, model in models.items():
                    started = time.perf_counter()
                    filled = inpaint(model, clean, missing, steps=args.steps)
                    assert torch.equal(filled[~missing], clean[~missing]), "known pixels changed"
                    rows[f"genlab {name}"] = {"psnr_in_hole": round(hole_psnr(clean, filled, missing), 3),
                                              "seconds": round(time.perf_counter() - started, 1)}
                best = max((r for r in rows if r.startswith("genlab")), key=lambda r: rows[r]["psnr_in_hole"])
                results[dataset][hole] = {"rows": rows, "best_genlab": best,
                                          "margin_db": round(rows[best]["psnr_in_hole"] - rows["biharmonic"]["psnr_in_hole"], 3)}
                print(dataset, hole, json.dumps(results[dataset][hole]), flush=True)

    write_result("app_inpainting", {
        "benchmark": "app_inpainting",
        "protocol": {"selection_protocol": SELECTION, "data": "official test split in [0, 1]", "limit": args.limit, "holes": list(HOLES),
                     "genlab": {"models": MODELS, "epochs": args.epochs, "steps": args.steps, "seed": 0,
                                "method": "Adam on the code against the known pixels; holes from the decoding"},
                     "baseline": "skimage.restoration.inpaint_biharmonic per image",
                     "metric": "PSNR (peak 1) over the missing pixels of each image, mean over images"},
        "machine": machine(),
        **results,
    })


if __name__ == "__main__":
    main()
