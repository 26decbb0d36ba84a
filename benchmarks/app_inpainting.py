"""Inpainting: genlab's code-fitting inpainter against scikit-image's biharmonic inpainting.

Protocol
- Data: the official test images of MNIST and Fashion-MNIST in [0, 1] (`--limit`, all
  10,000 by default).
- Holes: a centre square (14x14 of 28x28), the lower half, and 50% of the pixels at
  random (a fresh draw per image, seed 0).
- genlab: `genlab.apps.inpainting` with the models in MODELS, trained on genlab's
  54,000-image training split (seeds 0, 1, 2 via `--seeds`, `--epochs`, cosine schedule);
  `--steps` optimisation steps on the codes. Every model is reported with its own margin;
  the one a user is pointed to is chosen by its mean PSNR in the holes on the first
  SELECTION_IMAGES images of the validation split (seed 0), never on test images.
- Baseline: `skimage.restoration.inpaint_biharmonic`, image by image.
- Score: PSNR inside the hole only (peak 1), mean over images; known pixels are checked
  to be unchanged for every method.
- Bar: genlab above biharmonic for the centre square and the lower half.
- Each finished (dataset, model, seed) is saved at once with the SHA-256 of this script and
  of the genlab modules it ran; a rerun keeps only what the same code and settings made.

Run:  python benchmarks/app_inpainting.py [--runs DIR to keep and reuse the trained models]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import (
    RESULTS,
    code_matches,
    code_version,
    machine,
    mean_sd,
    mirror_for,
    trained_run,
    write_result,
)
from skimage.restoration import inpaint_biharmonic

import genlab
from genlab.apps import inpaint
from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "models, epochs and optimisation steps fixed in advance, every model reported with its own margin; "
    "the model named as genlab's choice is picked by PSNR in the holes on validation images (seed 0)"
)
SELECTION_IMAGES = 500

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


def train_model(name: str, dataset: str, folder: Path, epochs: int, seed: int):
    model_name, settings = MODELS[name]
    overrides = {**{f"model.{k}": v for k, v in settings.items()}, "train.epochs": epochs, "train.scheduler": "cosine"}
    suffix = f"-seed{seed}" if seed else ""
    return genlab.load(trained_run(folder / f"{dataset}-{name}-{epochs}ep{suffix}", model_name, dataset, overrides, seed=seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--limit", type=int, help="only the first N test images (default: all 10,000)")
    parser.add_argument("--runs", type=Path, help="keep the trained models here and reuse them")
    parser.add_argument("--fresh", action="store_true", help="discard what is recorded")
    args = parser.parse_args()

    protocol = {"selection_protocol": SELECTION, "data": "official test split in [0, 1]", "limit": args.limit,
                "holes": list(HOLES), "seeds": args.seeds,
                "genlab": {"models": MODELS, "epochs": args.epochs, "steps": args.steps,
                           "method": "Adam on the code against the known pixels; holes from the decoding",
                           "choice": f"highest mean PSNR in the holes on the first {SELECTION_IMAGES} validation images, seed 0"},
                "baseline": "skimage.restoration.inpaint_biharmonic per image",
                "metric": "PSNR (peak 1) over the missing pixels of each image, mean over images; margins per seed, "
                          "then mean ± sd over seeds"}
    path = RESULTS / "app_inpainting.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    if state.get("protocol") != json.loads(json.dumps(protocol)) or not code_matches(state.get("code"), __file__):
        state = {}
    state.update({"benchmark": "app_inpainting", "protocol": protocol})
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.runs or Path(scratch)
        for dataset in args.datasets:
            ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
            data = load_dataset(dataset)
            clean = data.preprocessing(data.test.x[: args.limit])
            entry = state.setdefault(dataset, {"cells": {}})
            if "biharmonic" not in entry:
                entry["biharmonic"] = {}
                for hole in HOLES:
                    missing, started = hole_masks(hole, len(clean)), time.perf_counter()
                    filled = biharmonic(clean, missing)
                    entry["biharmonic"][hole] = {"psnr_in_hole": round(hole_psnr(clean, filled, missing), 3),
                                                 "seconds": round(time.perf_counter() - started, 1)}
            if "choice" not in entry:
                val = data.preprocessing(data.val.x[:SELECTION_IMAGES])
                scores = {}
                for name in args.models:
                    model = train_model(name, dataset, folder, args.epochs, args.seeds[0])
                    scores[name] = round(statistics.fmean(
                        hole_psnr(val, inpaint(model, val, hole_masks(hole, len(val)), steps=args.steps), hole_masks(hole, len(val)))
                        for hole in HOLES), 3)
                entry["choice"] = {"validation_psnr": scores, "chosen": max(scores, key=scores.get)}
                print(dataset, "choice", json.dumps(entry["choice"]), flush=True)
            for seed in args.seeds:
                for name in args.models:
                    key = f"{name}/{seed}"
                    if key in entry["cells"]:
                        continue
                    model, cell = train_model(name, dataset, folder, args.epochs, seed), {}
                    for hole in HOLES:
                        missing, started = hole_masks(hole, len(clean)), time.perf_counter()
                        filled = inpaint(model, clean, missing, steps=args.steps)
                        assert torch.equal(filled[~missing], clean[~missing]), "known pixels changed"
                        psnr = hole_psnr(clean, filled, missing)
                        cell[hole] = {"psnr_in_hole": round(psnr, 3), "seconds": round(time.perf_counter() - started, 1),
                                      "margin_db": round(psnr - entry["biharmonic"][hole]["psnr_in_hole"], 3)}
                    entry["cells"][key] = cell
                    print(dataset, key, json.dumps(cell), flush=True)
                    entry["summary"] = {
                        name: {hole: mean_sd([entry["cells"][f"{name}/{s}"][hole]["margin_db"] for s in args.seeds
                                             if f"{name}/{s}" in entry["cells"]]) for hole in HOLES}
                        for name in args.models if any(f"{name}/{s}" in entry["cells"] for s in args.seeds)}
                    state["machine"], state["code"] = machine(), code_version(__file__)
                    write_result("app_inpainting", state)


if __name__ == "__main__":
    main()
