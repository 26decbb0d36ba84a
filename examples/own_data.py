"""Your own data in five minutes: arrays, images in 8-bit, a DataFrame of network connections, your own encoder.

    python examples/own_data.py            # about a minute on 2 cores
    python examples/own_data.py --quick    # a few seconds (what the test suite runs)

Everything is made here; nothing is downloaded. Runs are written under runs/own-data/.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

import genlab
from genlab.apps import AnomalyDetector

ROOT = Path("runs/own-data")


class SmallEncoder(nn.Module):
    """A user's encoder: (B, features) -> (B, codes). get_config() lets genlab.load rebuild it."""

    def __init__(self, features: int = 10, codes: int = 4):
        super().__init__()
        self.features, self.codes = features, codes
        self.net = nn.Sequential(nn.Linear(features, 64), nn.SiLU(), nn.Linear(64, codes))

    def get_config(self) -> dict:
        return {"features": self.features, "codes": self.codes}

    def forward(self, x):
        return self.net(x)


def connections(count: int, rng: np.random.Generator) -> pd.DataFrame:
    """Network connections as a capture tool writes them: text, numbers, booleans, gaps."""
    protocol = rng.choice(["tcp", "udp", "icmp"], count, p=[0.75, 0.2, 0.05])
    service = np.where(protocol == "tcp", rng.choice(["http", "smtp", "ssh"], count, p=[0.7, 0.2, 0.1]),
                       np.where(protocol == "udp", "dns", "echo"))
    return pd.DataFrame({
        "protocol": protocol,
        "service": service,
        "bytes": np.where(service == "http", rng.lognormal(8, 1, count), rng.lognormal(5, 0.5, count)).round(),
        "duration": rng.exponential(1.5, count).round(2),
        "logged_in": np.isin(service, ["http", "ssh"]) & (rng.random(count) < 0.95),
        "errors": np.where(rng.random(count) < 0.03, np.nan, rng.poisson(0.2, count)),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and one or two epochs")
    args = parser.parse_args()
    epochs, rows = (2, 400) if args.quick else (20, 5000)
    shutil.rmtree(ROOT, ignore_errors=True)
    rng = np.random.default_rng(0)

    # 1. a plain array: train, encode, sample; the run records what it was trained on
    X = (rng.normal(size=(rows, 3)) @ rng.normal(size=(3, 10))).astype(np.float32)
    model = genlab.train("vae", data=X, epochs=epochs, run_dir=ROOT / "array", overrides={"model.latent_dim": 3},
                         progress=False)
    codes = genlab.apps.encode(model, X[:5])
    print(f"1. array {X.shape}: codes {codes.shape}, samples {genlab.apps.sample(model, 3).shape}, "
          f"fingerprint in {ROOT / 'array' / 'config.yaml'}")

    # 2. 8-bit images in, 8-bit images out
    images = (rng.random((rows, 12, 12)) ** 3 * 255).astype(np.uint8)
    model = genlab.train("ae", data=images, epochs=epochs, run_dir=ROOT / "images", progress=False)
    again = genlab.apps.reconstruct(model, images[:4])
    print(f"2. uint8 images {images.shape[1:]}: reconstructions come back as {again.dtype} {again.shape[1:]}")

    # 3. a DataFrame with text columns and gaps: records in, records out, and which field is unusual
    table = connections(rows, rng)
    model = genlab.train("vae", data=table, epochs=epochs, run_dir=ROOT / "table", progress=False)
    print("3. records drawn from the model:")
    print(genlab.apps.sample(model, 4, seed=1).to_string(index=False))
    detector = AnomalyDetector(model="ae", epochs=max(epochs, 10), latent_dim=3, contamination=0.02).fit(table)
    probe = table.head(3).copy()
    probe.loc[0, "protocol"] = "gre"          # a protocol never seen in training
    probe.loc[1, "bytes"] = 3e9               # an absurd transfer
    verdicts = detector.predict(probe)
    blame = detector.explain(probe).idxmax(axis=1)
    for i in range(len(probe)):
        print(f"   record {i}: {'anomaly' if verdicts[i] == -1 else 'normal '} (most unusual field: {blame[i]})")

    # 4. your own encoder, saved by import path and rebuilt by genlab.load
    model = genlab.train("ae", data=X, epochs=epochs, run_dir=ROOT / "custom", overrides={"model.latent_dim": 4},
                         networks={"encoder": SmallEncoder(10, 4)}, progress=False)
    print(f"4. custom encoder: {type(model.encoder).__name__}, saved in {ROOT / 'custom' / 'model' / 'config.json'}")


if __name__ == "__main__":
    main()
