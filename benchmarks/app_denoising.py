"""Denoising: genlab's denoising autoencoders against classical filters with tuned parameters.

Protocol
- Data: MNIST and Fashion-MNIST in [0, 1]. Noise (genlab.data.corruption, seeded):
  Gaussian with sigma 0.1, 0.3 and 0.5 (clipped to [0, 1]) and 10% salt-and-pepper.
- genlab: one `dae` per noise setting, trained for that noise on genlab's 54,000-image
  training split (DAE below: convolutional, `--epochs`, cosine schedule, seeds 0, 1, 2);
  the margin is taken seed by seed, then mean ± sd.
- Classical methods (scikit-image / SciPy), each with its parameter tuned for PSNR on
  `--tune` images of genlab's validation split with the same noise, then applied to the
  test images: median filter (size 2, 3 or 5), total-variation denoising (Chambolle,
  weight), non-local means (h, 5x5 patches, search distance 6). The noisy input is the
  floor. The method to beat is the best of them on those validation images.
- Scores on the official test images (`--limit`, all 10,000 by default): mean per-image
  PSNR (peak 1) and mean SSIM (genlab.eval).
- Bar: genlab at least 2 dB above the best classical method at sigma 0.3, on both datasets.

Run:  python benchmarks/app_denoising.py [--runs DIR to keep and reuse the trained models]
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
from _common import machine, mirror_for, trained_run, write_result
from scipy.ndimage import median_filter
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

import genlab
from genlab.apps import denoise
from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset
from genlab.data.corruption import corrupt
from genlab.eval.reconstruction import psnr, ssim

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "classical filters' parameters, and which classical method is the one to beat, chosen on validation "
    "images (recorded); genlab's denoising autoencoders at fixed settings; test images only score"
)

NOISES = {"gaussian 0.1": ("gaussian", 0.1), "gaussian 0.3": ("gaussian", 0.3), "gaussian 0.5": ("gaussian", 0.5),
          "salt-and-pepper 10%": ("salt_and_pepper", 0.1)}
DAE = {"arch": "conv", "latent_dim": 128}
GRIDS = {
    "median filter": [2, 3, 5],
    "total variation": [0.02, 0.05, 0.1, 0.2, 0.4, 0.8],
    "non-local means": [0.03, 0.06, 0.1, 0.15, 0.22, 0.3, 0.45, 0.6],
}


def classical(method: str, images: np.ndarray, parameter: float) -> np.ndarray:
    """Apply a classical denoiser to (N, 1, H, W) images in [0, 1]."""
    if method == "median filter":
        return median_filter(images, size=(1, 1, int(parameter), int(parameter)), mode="reflect")
    out = np.empty_like(images)
    for i, image in enumerate(images[:, 0]):  # scikit-image denoises one image at a time
        if method == "total variation":
            out[i, 0] = denoise_tv_chambolle(image, weight=parameter)
        else:
            out[i, 0] = denoise_nl_means(image, h=parameter, patch_size=5, patch_distance=6, fast_mode=True)
    return out.clip(0, 1)


def scores(clean: np.ndarray, estimate: np.ndarray) -> dict:
    a, b = torch.from_numpy(clean), torch.from_numpy(estimate.astype(np.float32))
    return {"psnr": round(float(psnr(a, b).mean()), 3), "ssim": round(float(ssim(a, b).mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--noises", nargs="+", default=list(NOISES), choices=list(NOISES), metavar="NOISE")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds of the autoencoders")
    parser.add_argument("--tune", type=int, default=300, help="validation images for tuning classical parameters")
    parser.add_argument("--limit", type=int, help="only the first N test images (default: all 10,000)")
    parser.add_argument("--runs", type=Path, help="keep the trained denoising autoencoders here and reuse them")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in args.datasets:
            ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
            data = load_dataset(dataset)
            test = data.preprocessing(data.test.x[: args.limit]).numpy()
            val = data.preprocessing(data.val.x[: args.tune]).numpy()
            results[dataset] = {}
            for label in args.noises:
                kind, level = NOISES[label]
                noisy_test = corrupt(torch.from_numpy(test), kind, level, "unit", torch.Generator().manual_seed(1)).numpy()
                noisy_val = corrupt(torch.from_numpy(val), kind, level, "unit", torch.Generator().manual_seed(2)).numpy()
                rows, on_validation = {"noisy input": scores(test, noisy_test)}, {}
                for method, grid in GRIDS.items():
                    tuned_psnr = {p: float(psnr(torch.from_numpy(val), torch.from_numpy(
                        classical(method, noisy_val, p).astype(np.float32))).mean()) for p in grid}
                    tuned = max(tuned_psnr, key=tuned_psnr.get)
                    on_validation[method] = tuned_psnr[tuned]
                    started = time.perf_counter()
                    rows[method] = {**scores(test, classical(method, noisy_test, tuned)), "parameter": tuned,
                                    "seconds": round(time.perf_counter() - started, 1)}
                # the classical method to beat is the best on the validation images, as its parameter was
                best_classical = max(on_validation, key=on_validation.get)
                per_seed = []
                for seed in args.seeds:
                    overrides = {**{f"model.{k}": v for k, v in DAE.items()}, "model.noise": kind, "model.noise_level": level,
                                 "train.epochs": args.epochs, "train.scheduler": "cosine"}
                    name = f"{dataset}-dae-{kind}-{level}-{args.epochs}ep" + (f"-seed{seed}" if seed else "")
                    run = trained_run((args.runs or Path(scratch)) / name, "dae", dataset, overrides, seed=seed)
                    started = time.perf_counter()
                    cleaned = denoise(genlab.load(run), torch.from_numpy(noisy_test)).numpy()
                    per_seed.append({**scores(test, cleaned), "seconds": round(time.perf_counter() - started, 1)})
                margins = [r["psnr"] - rows[best_classical]["psnr"] for r in per_seed]
                rows["genlab dae"] = {"psnr": round(statistics.fmean(r["psnr"] for r in per_seed), 3),
                                      "ssim": round(statistics.fmean(r["ssim"] for r in per_seed), 4),
                                      "psnr_sd": round(statistics.stdev(r["psnr"] for r in per_seed), 3) if len(per_seed) > 1 else 0.0,
                                      "per_seed": per_seed}
                results[dataset][label] = {"rows": rows, "best_classical": best_classical,
                                           "best_classical_chosen_on": "validation PSNR",
                                           "margin_db": round(statistics.fmean(margins), 3),
                                           "margin_sd": round(statistics.stdev(margins), 3) if len(margins) > 1 else 0.0}
                print(dataset, label, json.dumps(results[dataset][label]), flush=True)

    write_result("app_denoising", {
        "benchmark": "app_denoising",
        "protocol": {"selection_protocol": SELECTION, "data": "official test split in [0, 1]", "limit": args.limit, "noises": NOISES,
                     "genlab": {"model": "dae", "settings": DAE, "epochs": args.epochs, "seeds": args.seeds,
                                "training": "genlab's 54,000-image training split, one model per noise setting"},
                     "classical": {"grids": GRIDS, "tuning": f"PSNR on the first {args.tune} images of genlab's validation split",
                                   "non-local means": "5x5 patches, search distance 6, fast mode"},
                     "noise_seeds": {"test": 1, "validation": 2},
                     "metrics": "mean per-image PSNR (peak 1), mean SSIM (genlab.eval)"},
        "machine": machine(),
        **results,
    })


if __name__ == "__main__":
    main()
