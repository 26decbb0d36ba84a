"""genlab's default GAN against the reference DCGAN of the PyTorch examples: equal steps and equal time.

Protocol
- Data: MNIST and Fashion-MNIST training images (genlab's 54,000-image split); the
  Fréchet distance is measured against the 10,000 official test images.
- genlab: `genlab train gan --data DATASET` with its defaults (non-saturating DCGAN at the
  data's own 28x28, batch 128, EMA generator, bf16 autocast on CPUs that compute it
  natively); its EMA generator is kept at each step budget.
- Reference at 28x28 ("reference-32"): the DCGAN of github.com/pytorch/examples
  (dcgan/main.py) with one up- and one down-sampling block fewer, the DCGAN authors'
  design for 32x32 images; the 28x28 images are padded with their background to 32x32
  and the samples cropped back, so nothing is resized. nz=100, ngf=ndf=64, batch 64, Adam
  2e-4 with beta1 0.5, BCE, N(0, 0.02) initialisation, one D and one G update per batch;
  in the precision genlab uses on this machine (bf16 autocast where genlab takes it), but with
  the final Tanh and Sigmoid in float32 (in bfloat16 the tanh saturates and the generator stops
  learning after about 1,000 steps; see the note above PAD).
- Reference as published ("reference-64"): the same example at its own 64x64 (images
  resized up, samples resized down to 28x28), in float32 as that script runs on a CPU.
- Budgets: equal steps (BUDGETS: 1k, 5k, 10k generator updates; the published 64x64
  recipe only at 1k, since 10k of its steps take hours on a CPU) and equal wall clock
  (each reference stopped at the seconds genlab needed for 5k steps, checked every step;
  genlab's seconds include its start-up, validation, class-histogram monitor, previews and
  checkpoints).
- Score: Fréchet distance between 10,000 samples and the 10,000 test images in the
  feature space of genlab's reference classifier for the dataset (identified by the
  SHA-256 of its weights); class histogram of the samples by the same classifier.
- Seeds 0, 1, 2 (`--seeds`): training and sampling seeds; tables give mean and sd.
- Each finished (dataset, seed) is saved at once with the SHA-256 of this script and of the
  genlab modules it ran; a rerun keeps the cells only while that code is unchanged
  (`--fresh` starts over).

Run:  python benchmarks/gan_vs_reference.py               (about two hours per dataset and seed on 2 cores)
      python benchmarks/gan_vs_reference.py --budgets 100 200 --datasets mnist --seeds 0   (a quick check)
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import RESULTS, code_matches, code_version, machine, mirror_for, write_result
from torch import nn

import genlab
from genlab.api import default_monitors
from genlab.data import Preprocessing, ensure_named_dataset, get_named_dataset, load_dataset
from genlab.data.preprocessing import convert_preprocessing
from genlab.eval.features import (
    load_reference_classifier,
    reference_classifier_dir,
    train_reference_classifier,
)
from genlab.eval.quality import classifier_features, frechet_distance
from genlab.images import save_image_grid
from genlab.models.base import weights_sha256

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: genlab's defaults and the reference's published recipe, fixed in advance"
)

SAMPLES = 10_000
BUDGETS = [1_000, 5_000, 10_000]
PUBLISHED_BUDGETS = [1_000]  # 10k steps of the 64x64 recipe take over two hours on 2 cores
EQUAL_TIME_STEPS = 5_000  # the references get the seconds genlab took to this budget (its last, if not among them)
PAD = 2  # 28x28 -> 32x32
# Precision of the reference's output layers. Under bf16 autocast they would run in bfloat16, where tanh rounds to
# exactly +-1 (and passes no gradient) once |x| exceeds about 3.5: the 32x32 reference's generator then stopped
# learning after about 1,000 steps (its weights unchanged from step 1,300 to 2,000, FID frozen at 48.3 on MNIST). So
# both networks apply their final Tanh / Sigmoid in float32, as the example does on a CPU; everything before them
# runs in the precision asked.


# ---- the reference DCGAN, rebuilt from the PyTorch examples' published design -------------

class ReferenceGenerator(nn.Module):
    """64x64 as published; `size=32` drops one up-sampling block (ngf*8 -> the 4x4 start at ngf*4)."""

    def __init__(self, nz=100, ngf=64, nc=1, size=64):
        super().__init__()
        def up(n_in, n_out):
            return [nn.ConvTranspose2d(n_in, n_out, 4, 2, 1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(True)]
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf] if size == 64 else [ngf * 4, ngf * 2, ngf]
        blocks = [layer for a, b in zip(widths, widths[1:]) for layer in up(a, b)]
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True),  # 4x4
            *blocks,
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),  # size x size
        )

    def forward(self, z):
        return torch.tanh(self.main[:-1](z).float())  # see the precision note above


class ReferenceDiscriminator(nn.Module):
    """64x64 as published; `size=32` drops one down-sampling block."""

    def __init__(self, ndf=64, nc=1, size=64):
        super().__init__()
        def down(n_in, n_out):
            return [nn.Conv2d(n_in, n_out, 4, 2, 1, bias=False), nn.BatchNorm2d(n_out), nn.LeakyReLU(0.2, inplace=True)]
        widths = [ndf, ndf * 2, ndf * 4, ndf * 8] if size == 64 else [ndf, ndf * 2, ndf * 4]
        blocks = [layer for a, b in zip(widths, widths[1:]) for layer in down(a, b)]
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            *blocks,  # ... down to 4x4
            nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, x):
        return torch.sigmoid(self.main[:-1](x).float()).view(-1)  # see the precision note above


def reference_init(module):
    name = module.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def train_reference(images: torch.Tensor, size: int, budgets: list[int], seconds: float | None, precision: str,
                    seed: int) -> tuple[dict, dict]:
    """The example's loop on (N, 1, size, size) images in [-1, 1]. Returns {steps: generator state} at each
    budget and at `seconds` of training (key "time"), and {key: (steps, seconds)}."""
    torch.manual_seed(seed)
    generator, discriminator = ReferenceGenerator(size=size), ReferenceDiscriminator(size=size)
    generator.apply(reference_init)
    discriminator.apply(reference_init)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    batch_size, steps, kept, when = 64, 0, {}, {}
    started = time.perf_counter()
    while len(kept) < len(budgets) + (seconds is not None):
        order = torch.randperm(len(images))
        for start in range(0, len(images) - batch_size + 1, batch_size):
            real = images[order[start : start + batch_size]]
            with autocast:
                # D: maximise log D(x) + log(1 - D(G(z)))
                discriminator.zero_grad()
                loss_real = criterion(discriminator(real).float(), torch.ones(batch_size))
                fake = generator(torch.randn(batch_size, 100, 1, 1))
                loss_fake = criterion(discriminator(fake.detach()).float(), torch.zeros(batch_size))
            (loss_real + loss_fake).backward()
            opt_d.step()
            with autocast:
                # G: maximise log D(G(z))
                generator.zero_grad()
                loss_g = criterion(discriminator(fake).float(), torch.ones(batch_size))
            loss_g.backward()
            opt_g.step()
            steps += 1
            elapsed = time.perf_counter() - started
            if steps in budgets:
                kept[steps], when[steps] = copy.deepcopy(generator.state_dict()), (steps, elapsed)
            if seconds is not None and "time" not in kept and elapsed >= seconds:
                kept["time"], when["time"] = copy.deepcopy(generator.state_dict()), (steps, elapsed)
            if len(kept) == len(budgets) + (seconds is not None):
                break
    return kept, when


@torch.no_grad()
def reference_samples(state: dict, size: int, count: int, seed: int) -> torch.Tensor:
    """`count` samples at 28x28 in [0, 1] (the example samples with the generator in train mode)."""
    generator = ReferenceGenerator(size=size)
    generator.load_state_dict(state)
    torch.manual_seed(seed)
    images = torch.cat([generator(torch.randn(500, 100, 1, 1)) for _ in range(math.ceil(count / 500))])[:count]
    if size == 32:
        images = images[:, :, PAD:-PAD, PAD:-PAD]
    else:
        images = F.interpolate(images, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return ((images.float() + 1) / 2).clamp(0, 1)


# ---- genlab, with its EMA generator kept at each budget -----------------------------------

class KeepAtSteps:
    """A training monitor (called every log interval) that copies the EMA generator at the step budgets."""

    def __init__(self, budgets: list[int]):
        self.budgets, self.kept, self.when = set(budgets), {}, {}
        self.started, self.defaults = time.perf_counter(), None

    def __call__(self, model) -> dict:
        if self.defaults is None:  # the monitors a user's run has (the class histogram), so the timing is theirs
            self.defaults = default_monitors(model)
        steps = int(model.ema_updates)  # one generator update per step with genlab's default n_critic=1
        if steps in self.budgets and steps not in self.kept:
            self.kept[steps] = copy.deepcopy(model.generator_ema.state_dict())
            self.when[steps] = (steps, time.perf_counter() - self.started)
        record = {}
        for monitor in self.defaults:
            record.update(monitor(model))
        return record


# ---- scoring ---------------------------------------------------------------------------

def score(classifier, unit_images: torch.Tensor, real_features: torch.Tensor) -> dict:
    """FID and class histogram of images in [0, 1] (the classifier's input space for these datasets)."""
    features = classifier_features(classifier, unit_images)
    predictions = torch.cat([classifier.predict(batch) for batch in unit_images.split(1000)])
    share = torch.bincount(predictions, minlength=classifier.config.num_classes).float() / len(predictions)
    return {"fid": round(frechet_distance(real_features, features), 3),
            "class_histogram": [round(v, 4) for v in share.tolist()], "largest_class": round(float(share.max()), 4)}


def run_cell(name: str, seed: int, budgets: list[int], classifier, real_features, data, grids: bool) -> dict:
    """genlab, reference-32 and reference-64 for one dataset and seed, scored at every budget."""
    to_classifier = Preprocessing.from_dict(classifier.config.preprocessing)
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "genlab"
        keeper = KeepAtSteps(budgets)
        steps_per_epoch = len(data.train.x) // 128
        model = genlab.train("gan", name, run_dir=run, progress=False, config={"seed": seed}, monitors=[keeper],
                             overrides={"train.epochs": -(-max(budgets) // steps_per_epoch), "train.tensorboard": False})
        precision = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["precision"]
        load = round(os.getloadavg()[1], 2)  # other work on the machine during the timed training, if any
        for steps, state in keeper.kept.items():
            model.generator_ema.load_state_dict(state)
            samples = torch.cat([model.sample(500, torch.Generator().manual_seed(1000 * seed + i)) for i in range(SAMPLES // 500)])
            unit = convert_preprocessing(samples, model.config.preprocessing, classifier.config.preprocessing)
            rows[f"genlab@{steps}"] = {"model": "genlab", "budget": f"{steps:,} steps", "steps": steps,
                                       "seconds": round(keeper.when[steps][1], 1), "batch_size": 128, "precision": precision,
                                       "parameters": sum(p.numel() for p in model.generator.parameters()),
                                       "load_5min": load,
                                       **score(classifier, unit, real_features)}
            if grids and steps == max(budgets):
                save_image_grid(unit[:64], RESULTS / f"gan_genlab_{name}.png")
        genlab_seconds = keeper.when[EQUAL_TIME_STEPS if EQUAL_TIME_STEPS in budgets else max(budgets)][1]
    train01 = to_classifier(data.train.x)
    for label, size, wanted, kind in (("reference-32", 32, budgets, precision), ("reference-64", 64, PUBLISHED_BUDGETS, "fp32")):
        images = train01 * 2 - 1  # [-1, 1], as the example's Normalize((0.5,), (0.5,))
        images = F.pad(images, (PAD,) * 4, value=-1.0) if size == 32 else \
            F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
        kept, when = train_reference(images, size, [b for b in wanted if b <= max(budgets)], genlab_seconds, kind, seed)
        del images
        load = round(os.getloadavg()[1], 2)
        parameters = sum(p.numel() for p in ReferenceGenerator(size=size).parameters())
        for key, state in kept.items():
            unit = reference_samples(state, size, SAMPLES, 1000 * seed)
            steps, seconds = when[key]
            rows[f"{label}@{key}"] = {"model": label, "budget": f"{steps:,} steps" if key != "time" else "genlab's time",
                                      "steps": steps, "seconds": round(seconds, 1), "batch_size": 64, "precision": kind,
                                      "parameters": parameters, "load_5min": load, **score(classifier, unit, real_features)}
            if grids and key == "time":
                save_image_grid(unit[:64], RESULTS / f"gan_{label}_{name}.png")
        print(name, seed, label, json.dumps({k: {f: v[f] for f in ("fid", "steps", "seconds")} for k, v in rows.items()
                                            if k.startswith(label)}), flush=True)
    return rows


def summary(cells: list[dict]) -> dict:
    """Per row: mean and sd over seeds of FID, largest class share, steps and seconds."""
    rows = {}
    for cell in cells:
        for key, row in cell["rows"].items():
            rows.setdefault(key, []).append(row)
    out = {}
    for key, seeds in rows.items():
        entry = {k: seeds[0][k] for k in ("model", "budget", "batch_size", "precision", "parameters")}
        for field in ("fid", "largest_class", "steps", "seconds"):
            values = [r[field] for r in seeds]
            entry[field] = round(statistics.mean(values), 3)
            entry[f"{field}_sd"] = round(statistics.stdev(values), 3) if len(values) > 1 else 0.0
        entry["seeds"] = len(seeds)
        entry["load_5min_max"] = max(r["load_5min"] for r in seeds)
        entry["class_histogram"] = [round(statistics.mean(v), 4) for v in zip(*(r["class_histogram"] for r in seeds))]
        out[key] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budgets", nargs="+", type=int, default=BUDGETS, help="generator steps at which to score")
    parser.add_argument("--fresh", action="store_true", help="discard the cells already recorded")
    args = parser.parse_args()

    path = RESULTS / "gan_vs_reference.json"
    state = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    protocol = {
        "selection_protocol": SELECTION, "budgets": sorted(args.budgets), "published_budgets": PUBLISHED_BUDGETS,
        "samples": SAMPLES, "reference_images": "official test split (10,000)",
        "feature_space": "penultimate layer of genlab's reference classifier (genlab.eval.features)",
        "genlab": "genlab train gan --data DATASET (defaults: 28x28, batch 128, EMA generator), kept at each budget",
        "reference-32": "PyTorch examples DCGAN with the 32x32 design (one block fewer), 28x28 images padded to 32x32 "
                        "with their background, samples cropped back; batch 64, Adam 2e-4 beta1 0.5; genlab's precision (the final "
                        "Tanh and Sigmoid in float32: in bfloat16 the generator's tanh saturates and it stops learning)",
        "reference-64": "PyTorch examples DCGAN as published: 64x64 (resized), nz=100, ngf=ndf=64, batch 64, Adam 2e-4 "
                        "beta1 0.5, fp32",
        "equal_time": f"each reference stopped at the seconds genlab took to {EQUAL_TIME_STEPS:,} steps (its last budget "
                      "if that is not one of them; genlab's seconds include its start-up, validation, class-histogram "
                      "monitor, previews and checkpoints)",
        "spread": "standard deviation over training seeds",
        "load": "load_5min: the machine's 5-minute load average when each training ended (2 cores; about 2 = quiet)",
    }
    same = state.get("protocol") == json.loads(json.dumps(protocol)) and code_matches(state.get("code"), __file__)
    cells = state.get("cells", []) if same else []
    if state.get("cells") and not cells:
        print("the recorded cells were made by other code or settings: starting over", flush=True)
    done = {(c["dataset"], c["seed"]) for c in cells}
    prepared = {}
    for seed in args.seeds:  # seed by seed, so that a sitting cut short leaves every dataset with the same seeds
        for name in args.datasets:
            if (name, seed) in done:
                continue
            if name not in prepared:
                prepared[name] = prepare(name)
            classifier, data, real_features = prepared[name]
            rows = run_cell(name, seed, sorted(args.budgets), classifier, real_features, data, grids=seed == args.seeds[0])
            cells.append({"dataset": name, "seed": seed, "classifier_sha256": weights_sha256(reference_classifier_dir(name)),
                          "rows": rows})
            results = {d: summary([c for c in cells if c["dataset"] == d]) for d in sorted({c["dataset"] for c in cells})}
            write_result("gan_vs_reference", {"benchmark": "gan_vs_reference", "protocol": protocol, "machine": machine(),
                                              "code": code_version(__file__), "cells": cells, "summary": results})


def prepare(name: str) -> tuple:
    """The dataset, its reference classifier (trained when missing) and the test images' features."""
    ensure_named_dataset(get_named_dataset(name), mirror=mirror_for(name))
    if load_reference_classifier(name) is None:
        train_reference_classifier(name, progress=False)
    classifier = load_reference_classifier(name)
    assert classifier.config.preprocessing["value_range"] == "unit"
    data = load_dataset(name)
    real_features = classifier_features(classifier, Preprocessing.from_dict(classifier.config.preprocessing)(data.test.x))
    return classifier, data, real_features


if __name__ == "__main__":
    main()
