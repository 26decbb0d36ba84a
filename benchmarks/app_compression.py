"""Compression: genlab's autoencoder codec against WebP, JPEG, AVIF and JPEG XL, three ways of counting.

Protocol
- Data: MNIST and Fashion-MNIST, 8-bit grey 28x28. Training: genlab's 54,000-image training
  split; selection: the first SELECTION_IMAGES images of its 6,000-image validation split;
  scoring: the 10,000 official test images, which chose nothing.
- Selection: each codec in CANDIDATES is trained (seed 0, `--epochs`, cosine schedule) and
  scored on the validation images by its mean PSNR over SELECTION_RANGE bytes per image (log-
  spaced, shared view); the best is then trained with every seed in SEEDS and scored on test.
- Three views of the same decoded images:
  1. per file: each image in its own file. Pillow's WebP (method 6), JPEG (optimize=True),
     AVIF and JPEG XL files; genlab's own container (`genlab.apps.codec`, 66 bytes of header
     and checksum) written for one image at a time.
  2. shared container: the headers that are the same for every image stored once
     (`containers.py` splits each file and proves it rebuilds byte for byte; JPEG here uses
     the standard Huffman tables, which can be shared, so its pixels match view 1) and each
     image's own bytes behind a LEB128 length; genlab's one container for all 10,000 images.
  3. decoder counted: genlab's decoder (its float32 weights and code statistics, as saved)
     added to the shared view, amortised over N images; break-even N is where genlab's
     decoder plus its smaller files equal a rival's files at the same PSNR. The rivals'
     decoders ship with every system and are not counted.
- Distortion on the decoded 8-bit images: PSNR (mean over images of each image's PSNR, peak
  255) and SSIM (genlab.eval's: scikit-image, Gaussian-weighted 7x7 window; mean).
- Margins: BD-PSNR (mean PSNR difference over the rates both curves reach, linear in log bytes)
  and the PSNR difference at the rival's smallest file, per training seed, then mean and sd.

Run:  python benchmarks/app_compression.py [--runs DIR to keep and reuse the trained codecs]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from _common import machine, mean_sd, mirror_for, trained_run, write_result
from containers import shared_view

import genlab
from genlab.apps import decompress
from genlab.apps.codec import compress, model_sha256, pack, quantise
from genlab.apps.inputs import to_model_space
from genlab.apps.outputs import to_pixels
from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset
from genlab.eval.reconstruction import ssim

CANDIDATES = {
    "ae-linear-300": {"arch": "linear", "latent_dim": 300, "reconstruction_loss": "mse"},
    "ae-conv-128": {"arch": "conv", "latent_dim": 128, "reconstruction_loss": "mse"},
}
SEEDS = [0, 1, 2]
STEPS = [8.0, 4.0, 2.0, 1.0, 0.6, 0.4, 0.25, 0.15, 0.1, 0.06, 0.03, 0.015]
QUALITIES = {"webp": [1, 5, 10, 20, 30, 50, 70, 90], "jpeg": [1, 5, 10, 20, 30, 50, 70, 90],
             "avif": [1, 10, 25, 40, 55, 70, 85], "jxl": [1, 10, 25, 40, 55, 70, 85]}
PILLOW = {"webp": ("WEBP", {"method": 6}), "jpeg": ("JPEG", {}), "avif": ("AVIF", {}), "jxl": ("JXL", {})}
SELECTION_IMAGES = 2000
SELECTION_RANGE = (24.0, 160.0)
AMORTISE_OVER = [1_000, 10_000, 100_000, 1_000_000]


def distortion(reference: np.ndarray, decoded: np.ndarray) -> dict:
    """Mean per-image PSNR (dB, peak 255) and mean SSIM of uint8 images (N, 1, H, W)."""
    ref, dec = torch.from_numpy(reference).float() / 255, torch.from_numpy(decoded).float() / 255
    mse = (ref - dec).square().flatten(1).mean(1).clamp_min(1e-10)
    return {"psnr": round(float((10 * torch.log10(1 / mse)).mean()), 3), "ssim": round(float(ssim(ref, dec).mean()), 4)}


def available_codecs() -> list[str]:
    """The Pillow codecs this installation can write (AVIF needs Pillow 11.2+, JPEG XL the pillow-jxl-plugin)."""
    from PIL import features

    codecs = ["webp", "jpeg"] + (["avif"] if features.check("avif") else [])
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)

        codecs.append("jxl")
    except ImportError:
        print("JPEG XL left out: pip install pillow-jxl-plugin", flush=True)
    return codecs


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("pillow", "pillow-jxl-plugin"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    from PIL import features

    found.update({f"lib{name}": features.version(name) for name in ("webp", "jpg", "avif") if features.check(name)})
    return found


def pillow_point(images: np.ndarray, codec: str, quality: int) -> dict:
    """One quality of one codec over all images: per-file and shared-container sizes, decoded pixels."""
    from PIL import Image

    if codec == "jxl":
        import pillow_jxl  # noqa: F401
    name, options = PILLOW[codec]
    per_file, shareable, decoded = [], [], []
    for image in images[:, 0]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=name, quality=quality, **options,
                                    **({"optimize": True} if codec == "jpeg" else {}))
        per_file.append(buffer.tell())
        decoded.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L")))
        if codec == "jpeg":  # the shared view uses the standard tables: same pixels, shareable headers
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format=name, quality=quality)
        shareable.append(buffer.getvalue())
    shared = shared_view(shareable, codec)
    if codec == "jpeg":
        standard = np.stack([np.asarray(Image.open(io.BytesIO(data)).convert("L")) for data in shareable])
        if not np.array_equal(standard, np.stack(decoded)):
            raise RuntimeError("JPEG with standard tables decodes differently from optimize=True")
    return {"quality": quality, "per_file": round(float(np.mean(per_file)), 2), "shared": shared["bytes_per_image"],
            "shared_header_bytes": shared["shared_bytes"], "decoded": np.stack(decoded)[:, None]}


def genlab_per_file(quantised: np.ndarray, step: float, shape: tuple, sha256: str) -> float:
    """Mean size of genlab's container holding one image."""
    return float(np.mean([len(pack(row[None], step, shape, sha256)) for row in quantised]))


def train_codec(name: str, dataset: str, folder: Path, epochs: int, seed: int):
    overrides = {**{f"model.{k}": v for k, v in CANDIDATES[name].items()}, "train.epochs": epochs, "train.scheduler": "cosine"}
    return genlab.load(trained_run(folder / f"{dataset}-{name}-{epochs}ep-seed{seed}", "ae", dataset, overrides, seed=seed))


def decoder_bytes(model) -> int:
    """Bytes the receiver needs besides the files: the decoder's float32 weights and buffers and the code statistics."""
    tensors = list(model.decoder.state_dict().values()) + [model.code_mean, model.code_var]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def genlab_curve(model, images: np.ndarray, pool: ProcessPoolExecutor | None) -> list[dict]:
    """Shared view (one container for all images) at every step, and with `pool` the per-file view."""
    x = to_model_space(model, images)
    shape, sha = tuple(model.config.data_shape), model_sha256(model)
    points, jobs = [], {}
    for step in STEPS:
        started = time.perf_counter()
        blob = compress(model, x, step)
        decoded = to_pixels(model, decompress(model, blob))
        points.append({"step": step, "shared": round(len(blob) / len(images), 2),
                       "seconds": round(time.perf_counter() - started, 2), **distortion(images, decoded)})
        if pool is not None:
            jobs[step] = pool.submit(genlab_per_file, quantise(model, x, step).astype(np.int16), step, shape, sha)
    for point in points:
        if point["step"] in jobs:
            point["per_file"] = round(jobs[point["step"]].result(), 2)
    return points


def psnr_at(points: list[dict], view: str, size: float) -> float | None:
    """PSNR read off a curve at `size` bytes per image, linear in log bytes; None outside the curve."""
    ordered = sorted(points, key=lambda p: p[view])
    sizes = np.log([p[view] for p in ordered])
    if not sizes[0] <= np.log(size) <= sizes[-1]:
        return None
    return float(np.interp(np.log(size), sizes, [p["psnr"] for p in ordered]))


def bytes_at(points: list[dict], view: str, psnr: float) -> float | None:
    """Bytes per image at which a curve reaches `psnr` (PSNR rises with bytes); None outside the curve."""
    ordered = sorted(points, key=lambda p: p["psnr"])
    values = [p["psnr"] for p in ordered]
    if not values[0] <= psnr <= values[-1]:
        return None
    return float(np.exp(np.interp(psnr, values, np.log([p[view] for p in ordered]))))


def bd_psnr(ours: list[dict], ours_view: str, rival: list[dict], rival_view: str) -> float | None:
    """Mean PSNR difference (ours - rival) over the log-byte range both curves cover."""
    low = max(min(p[ours_view] for p in ours), min(p[rival_view] for p in rival))
    high = min(max(p[ours_view] for p in ours), max(p[rival_view] for p in rival))
    if low >= high:
        return None
    grid = np.exp(np.linspace(np.log(low), np.log(high), 64))
    return float(np.mean([psnr_at(ours, ours_view, s) - psnr_at(rival, rival_view, s) for s in grid]))


def amortised(points: list[dict], decoder: int, count: int) -> list[dict]:
    return [{**p, "amortised": p["shared"] + decoder / count} for p in points]


def break_even(ours: list[dict], rival: list[dict], decoder: int) -> list[dict]:
    """For each rival point: genlab's bytes at the same PSNR and the number of images from which
    genlab's decoder plus its files take less room than the rival's files (None: never)."""
    rows = []
    for point in rival:
        size = bytes_at(ours, "shared", point["psnr"])
        saving = point["shared"] - size if size is not None else None
        rows.append({"quality": point["quality"], "psnr": point["psnr"], "rival_bytes": point["shared"],
                     "genlab_bytes": round(size, 2) if size is not None else None,
                     "break_even_images": int(np.ceil(decoder / saving)) if saving and saving > 0 else None})
    return rows




def seed_summary(curves: list[list[dict]]) -> list[dict]:
    """Per step: the mean over training seeds of each field, and the spread of PSNR and bytes."""
    rows = []
    for index, step in enumerate(STEPS):
        points = [curve[index] for curve in curves]
        row = {"step": step}
        for field in ("shared", "per_file", "psnr", "ssim"):
            if all(field in p for p in points):
                row[field] = round(float(np.mean([p[field] for p in points])), 3)
        row["psnr_sd"] = round(float(np.std([p["psnr"] for p in points], ddof=1)), 3) if len(points) > 1 else 0.0
        row["shared_sd"] = round(float(np.std([p["shared"] for p in points], ddof=1)), 3) if len(points) > 1 else 0.0
        rows.append(row)
    return rows


def select(dataset: str, candidates: list[str], folder: Path, epochs: int) -> dict:
    """Each candidate trained with seed 0 and scored on validation images; the best by mean PSNR over SELECTION_RANGE."""
    images = load_dataset(dataset).val.x.numpy()[:SELECTION_IMAGES]
    grid = np.exp(np.linspace(*np.log(SELECTION_RANGE), 16))
    scores = {}
    for name in candidates:
        curve = genlab_curve(train_codec(name, dataset, folder, epochs, SEEDS[0]), images, None)
        low, high = min(p["shared"] for p in curve), max(p["shared"] for p in curve)
        # a curve that does not reach the whole range is scored at its nearest end (it cannot do better there)
        scores[name] = round(float(np.mean([psnr_at(curve, "shared", float(np.clip(s, low, high))) for s in grid])), 3)
        print(dataset, "selection", name, scores[name], flush=True)
    return {"images": f"validation split, first {len(images)}", "criterion": f"mean PSNR over {SELECTION_RANGE} bytes/image "
            "(16 log-spaced rates, shared view)", "scores": scores, "chosen": max(scores, key=scores.get)}


def plot(dataset: str, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"webp": "tab:blue", "jpeg": "tab:orange", "avif": "tab:green", "jxl": "tab:purple", "genlab": "tab:red"}
    decoder = result["decoder_bytes"][result["selection"]["chosen"]]
    for axis, metric in zip(axes, ("psnr", "ssim")):
        for codec, points in result["rivals"].items():
            axis.plot([p["shared"] for p in points], [p[metric] for p in points], "-o", ms=3, color=colours[codec], label=f"{codec} shared")
            axis.plot([p["per_file"] for p in points], [p[metric] for p in points], "--", color=colours[codec], alpha=0.6,
                      label=f"{codec} per file")
        ours = result["genlab"]["curve"]
        axis.plot([p["shared"] for p in ours], [p[metric] for p in ours], "-o", ms=3, color=colours["genlab"], label="genlab shared")
        axis.plot([p["per_file"] for p in ours if "per_file" in p], [p[metric] for p in ours if "per_file" in p], "--",
                  color=colours["genlab"], alpha=0.6, label="genlab per file")
        axis.plot([p["shared"] + decoder / 10_000 for p in ours], [p[metric] for p in ours], ":", color=colours["genlab"],
                  label="genlab + decoder / 10,000")
        axis.set_xscale("log")
        axis.set_xlim(8, 1000)
        axis.set_xlabel("bytes per image")
        axis.set_ylabel("PSNR (dB)" if metric == "psnr" else "SSIM")
        axis.grid(alpha=0.3)
    axes[0].set_ylim(10, 50)
    axes[1].legend(fontsize=7, loc="lower right")
    figure.suptitle(f"{dataset}: rate and distortion on the 10,000 test images ({result['selection']['chosen']}, "
                    f"mean of {len(SEEDS)} seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--runs", type=Path, help="keep the trained codecs here and reuse them")
    parser.add_argument("--limit", type=int, help="only the first N test images (quick checks; recorded)")
    parser.add_argument("--workers", type=int, default=2, help="processes encoding the per-file views")
    args = parser.parse_args()

    codecs, results = available_codecs(), {}
    with tempfile.TemporaryDirectory() as scratch, \
            ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        folder = args.runs or Path(scratch)
        for dataset in args.datasets:
            ensure_named_dataset(get_named_dataset(dataset), mirror=mirror_for(dataset))
            images = load_dataset(dataset).test.x.numpy()[: args.limit]  # (10000, 1, 28, 28) uint8
            started = time.perf_counter()
            jobs = {(c, q): pool.submit(pillow_point, images, c, q) for c in codecs for q in QUALITIES[c]}
            rivals = {c: [] for c in codecs}
            for (codec, _), job in jobs.items():
                point = job.result()
                rivals[codec].append({**{k: v for k, v in point.items() if k != "decoded"}, **distortion(images, point["decoded"])})
            print(dataset, f"rivals in {time.perf_counter() - started:.0f} s", json.dumps(rivals), flush=True)

            selection = select(dataset, list(CANDIDATES), folder, args.epochs)
            chosen, per_seed, decoders = selection["chosen"], [], {}
            for name in CANDIDATES:
                decoders[name] = decoder_bytes(train_codec(name, dataset, folder, args.epochs, SEEDS[0]))
            for seed in SEEDS:
                per_seed.append(genlab_curve(train_codec(chosen, dataset, folder, args.epochs, seed), images, pool))
                print(dataset, chosen, "seed", seed, json.dumps(per_seed[-1]), flush=True)

            margins = {}
            for codec, points in rivals.items():
                smallest = min(points, key=lambda p: p["per_file"])
                smallest_shared = min(points, key=lambda p: p["shared"])
                margins[codec] = {
                    "per_file_bd_psnr": mean_sd([bd_psnr(c, "per_file", points, "per_file") for c in per_seed]),
                    "shared_bd_psnr": mean_sd([bd_psnr(c, "shared", points, "shared") for c in per_seed]),
                    "amortised_10000_bd_psnr": mean_sd([bd_psnr(amortised(c, decoders[chosen], 10_000), "amortised", points, "shared")
                                                        for c in per_seed]),
                    "per_file_at_smallest": mean_sd([None if (v := psnr_at(c, "per_file", smallest["per_file"])) is None
                                                     else v - smallest["psnr"] for c in per_seed]),
                    "shared_at_smallest": mean_sd([None if (v := psnr_at(c, "shared", smallest_shared["shared"])) is None
                                                   else v - smallest_shared["psnr"] for c in per_seed]),
                }
            curve = seed_summary(per_seed)
            results[dataset] = {
                "selection": selection, "rivals": rivals, "decoder_bytes": decoders,
                "genlab": {"codec": chosen, "seeds": SEEDS, "curve": curve, "per_seed": per_seed},
                "margins": margins,
                "break_even": {codec: break_even(curve, points, decoders[chosen]) for codec, points in rivals.items()},
                "amortised": {str(n): [{"step": p["step"], "bytes_per_image": round(p["shared"] + decoders[chosen] / n, 2),
                                        "psnr": p["psnr"]} for p in curve] for n in AMORTISE_OVER},
            }
            plot(dataset, results[dataset], RESULTS_DIR / f"compression_{dataset}.png")
            print(dataset, json.dumps(margins), flush=True)

    write_result("app_compression", {
        "benchmark": "app_compression",
        "protocol": {
            "data": "MNIST / Fashion-MNIST, 8-bit grey 28x28", "limit": args.limit,
            "selection": {"candidates": CANDIDATES, "chosen_on": f"validation split (first {SELECTION_IMAGES} images)",
                          "scored_on": "official test split (10,000 images), never used to choose", "criterion":
                          f"mean PSNR over {SELECTION_RANGE} bytes/image, 16 log-spaced rates, shared view, seed 0"},
            "genlab": {"epochs": args.epochs, "steps": STEPS, "seeds": SEEDS, "training":
                       "genlab's 54,000-image training split, cosine schedule",
                       "per_file": "genlab.apps.codec container for one image (66 bytes of header, shape, length and CRC; "
                                   "`genlab compress` adds the run's path, not counted here)",
                       "shared": "one genlab.apps.codec container for all test images"},
            "rivals": {"codecs": codecs, "qualities": {c: QUALITIES[c] for c in codecs}, "versions": versions(),
                       "settings": "WebP method 6; JPEG optimize=True per file, standard tables shared; AVIF and JPEG XL "
                                   "at Pillow's / pillow-jxl-plugin's default speed and effort",
                       "shared": "headers identical across images stored once, each image's own bytes behind a LEB128 "
                                 "length (benchmarks/containers.py; every file rebuilt byte for byte)"},
            "decoder": "float32 decoder weights and buffers plus the code mean and variance, as saved; rivals' decoders "
                       "not counted",
            "distortion": "mean per-image PSNR (peak 255); mean SSIM (genlab.eval: scikit-image, Gaussian 7x7)",
            "margins": "BD-PSNR: mean PSNR difference over the log-byte range both curves reach; at_smallest: at the "
                       "rival's smallest file; per training seed, then mean and sd over seeds",
        },
        "machine": machine(),
        **results,
    })


RESULTS_DIR = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    main()
