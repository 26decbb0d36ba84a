"""genlab's default GAN against the reference DCGAN of the PyTorch examples, same time budget.

Protocol
- Data: MNIST and Fashion-MNIST training images (genlab's 54,000-image split); the
  Fréchet distance is measured against the 10,000 official test images.
- genlab: `genlab train gan --data DATASET` with its defaults (non-saturating DCGAN at the
  data's own 28x28, EMA generator, bf16 autocast on CPUs that have it), stopped by
  train.max_minutes.
- Reference: the DCGAN of github.com/pytorch/examples (dcgan/main.py), rebuilt here from
  its published architecture and hyperparameters: images resized to 64x64 and scaled to
  [-1, 1], nz=100, ngf=ndf=64, batch 64, Adam lr 2e-4 with beta1 0.5, BCE, N(0, 0.02)
  initialisation, one D and one G update per batch; run in float32 as that script runs
  on a CPU. Its 64x64 samples are resized to 28x28 for scoring.
- Budget: the same wall-clock minutes of training for each model and dataset (10 by
  default), counting only the training loop (genlab's includes its own per-epoch
  validation, previews and checkpoints).
- Score: Fréchet distance between 10,000 samples and the 10,000 test images in the
  feature space of genlab's reference classifier for the dataset (identified by the
  SHA-256 of its weights); class histogram of the samples by the same classifier.

Run:  python benchmarks/gan_vs_reference.py          (about 45 minutes on 2 cores)
      python benchmarks/gan_vs_reference.py --minutes 1 --datasets mnist   (a quick check)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from _common import RESULTS, machine, mirror_for, write_result
from torch import nn

import genlab
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

SAMPLES = 10_000


# ---- the reference DCGAN, rebuilt from the PyTorch examples' published design -------------

class ReferenceGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=1):
        super().__init__()
        def up(n_in, n_out):
            return [nn.ConvTranspose2d(n_in, n_out, 4, 2, 1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(True)]
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
            *up(ngf * 8, ngf * 4), *up(ngf * 4, ngf * 2), *up(ngf * 2, ngf),  # 8, 16, 32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),  # 64x64
        )

    def forward(self, z):
        return self.main(z)


class ReferenceDiscriminator(nn.Module):
    def __init__(self, ndf=64, nc=1):
        super().__init__()
        def down(n_in, n_out):
            return [nn.Conv2d(n_in, n_out, 4, 2, 1, bias=False), nn.BatchNorm2d(n_out), nn.LeakyReLU(0.2, inplace=True)]
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # 32
            *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),  # 16, 8, 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1)


def reference_init(module):
    name = module.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def train_reference(images: torch.Tensor, minutes: float, seed: int = 0):
    """The example's training loop on (N, 1, 64, 64) images in [-1, 1], stopped after `minutes`."""
    torch.manual_seed(seed)
    generator, discriminator = ReferenceGenerator(), ReferenceDiscriminator()
    generator.apply(reference_init)
    discriminator.apply(reference_init)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch_size, steps = 64, 0
    started = time.perf_counter()
    deadline = started + 60 * minutes
    while time.perf_counter() < deadline:
        order = torch.randperm(len(images))
        for start in range(0, len(images) - batch_size + 1, batch_size):
            real = images[order[start : start + batch_size]]
            # D: maximise log D(x) + log(1 - D(G(z)))
            discriminator.zero_grad()
            loss_real = criterion(discriminator(real), torch.ones(batch_size))
            fake = generator(torch.randn(batch_size, 100, 1, 1))
            loss_fake = criterion(discriminator(fake.detach()), torch.zeros(batch_size))
            (loss_real + loss_fake).backward()
            opt_d.step()
            # G: maximise log D(G(z))
            generator.zero_grad()
            criterion(discriminator(fake), torch.ones(batch_size)).backward()
            opt_g.step()
            steps += 1
            if time.perf_counter() >= deadline:
                break
    return generator, steps, time.perf_counter() - started


@torch.no_grad()
def reference_samples(generator, count: int, seed: int = 0) -> torch.Tensor:
    """`count` samples at 28x28 in [0, 1] (the example samples with the generator in train mode)."""
    torch.manual_seed(seed)
    out = [generator(torch.randn(500, 100, 1, 1)) for _ in range(math.ceil(count / 500))]
    images = torch.cat(out)[:count]
    images = F.interpolate(images, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return ((images + 1) / 2).clamp(0, 1)


# ---- scoring ---------------------------------------------------------------------------

def score(classifier, unit_images: torch.Tensor, real_features: torch.Tensor) -> dict:
    """FID and class histogram of images in [0, 1] (the classifier's input space for these datasets)."""
    features = classifier_features(classifier, unit_images)
    predictions = torch.cat([classifier.predict(batch) for batch in unit_images.split(1000)])
    share = torch.bincount(predictions, minlength=classifier.config.num_classes).float() / len(predictions)
    return {"fid": round(frechet_distance(real_features, features), 3),
            "class_histogram": [round(v, 4) for v in share.tolist()], "largest_class": round(float(share.max()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    args = parser.parse_args()

    results = {}
    for name in args.datasets:
        ensure_named_dataset(get_named_dataset(name), mirror=mirror_for(name))
        if load_reference_classifier(name) is None:
            train_reference_classifier(name, progress=False)
        classifier = load_reference_classifier(name)
        to_classifier = Preprocessing.from_dict(classifier.config.preprocessing)
        data = load_dataset(name)
        real_features = classifier_features(classifier, to_classifier(data.test.x))
        assert classifier.config.preprocessing["value_range"] == "unit"

        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch) / "genlab"
            model = genlab.train("gan", name, run_dir=run, progress=False,
                                 overrides={"train.epochs": 10_000, "train.max_minutes": args.minutes, "train.tensorboard": False})
            records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            end = [r for r in records if r.get("event") == "end"][-1]
            samples = torch.cat([model.sample(500, torch.Generator().manual_seed(i)) for i in range(SAMPLES // 500)])
            unit = convert_preprocessing(samples, model.config.preprocessing, classifier.config.preprocessing)
            batch_size = yaml.safe_load((run / "config.yaml").read_text())["train"]["batch_size"]
            ours = {"train_seconds": end["train_seconds"], "steps": end["step"], "batch_size": batch_size,
                    "precision": records[0]["precision"], "parameters": model.num_parameters(), **score(classifier, unit, real_features)}
            save_image_grid(unit[:64], RESULTS / f"gan_genlab_{name}.png")

        print(name, "genlab", json.dumps({k: v for k, v in ours.items() if k != "class_histogram"}), flush=True)
        train_images = to_classifier(data.train.x) * 2 - 1  # [-1, 1], as the example's Normalize((0.5,), (0.5,))
        resized = F.interpolate(train_images, size=(64, 64), mode="bilinear", align_corners=False)
        generator, steps, seconds = train_reference(resized, args.minutes)
        unit = reference_samples(generator, SAMPLES)
        reference = {"train_seconds": round(seconds, 1), "steps": steps, "batch_size": 64, "precision": "fp32",
                     "parameters": sum(p.numel() for p in generator.parameters()), **score(classifier, unit, real_features)}
        save_image_grid(unit[:64], RESULTS / f"gan_reference_{name}.png")
        print(name, "reference", json.dumps({k: v for k, v in reference.items() if k != "class_histogram"}), flush=True)
        results[name] = {"genlab": ours, "reference": reference,
                         "classifier_sha256": weights_sha256(reference_classifier_dir(name)),
                         "genlab_lower_fid": ours["fid"] < reference["fid"]}

    write_result("gan_vs_reference", {
        "benchmark": "gan_vs_reference",
        "protocol": {
            "budget_minutes": args.minutes, "samples": SAMPLES, "reference_images": "official test split (10,000)",
            "feature_space": "penultimate layer of genlab's reference classifier (genlab.eval.features)",
            "genlab": "genlab train gan --data DATASET (defaults), train.max_minutes",
            "reference": "PyTorch examples DCGAN rebuilt: 64x64, nz=100, ngf=ndf=64, batch 64, Adam 2e-4 beta1 0.5, fp32",
            "seeds": "training seed 0; sampling seeds fixed",
        },
        "machine": machine(), **results,
    })


if __name__ == "__main__":
    main()
