"""genlab's Trainer against a bare PyTorch loop over the same model and the same batches.

Protocol
- Model: genlab's VAE, MLP 784-512-512-32, on MNIST (54,000 training images in [0, 1]).
- Both loops start from the same weights, draw the same batches from the same
  BatchLoader (batch 128, 2 epochs = 842 steps), use the same fused Adam (lr 1e-3) and
  the same precision the Trainer picks on this machine.
- The bare loop is zero_grad / forward / backward / step and nothing else. The Trainer
  runs as users get it, with a run directory: learning-rate scheduler, loss read-back and
  NaN check every 50 steps, metrics.jsonl, a sample grid, the model and a checkpoint
  written at each epoch end (the loss-curve plot that genlab.train draws after the
  Trainer returns is not included). No validation split, so both do the same arithmetic.
- Five alternating repeats of each; slowdown = median Trainer time / median bare time.

Run:  python benchmarks/trainer_overhead.py      (about 2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import machine, mirror_for, write_result

from genlab.data import BatchLoader, ensure_named_dataset, get_named_dataset, load_dataset
from genlab.models import create_model
from genlab.runs import RunDirectory
from genlab.training import Trainer
from genlab.training.config import TrainConfig
from genlab.training.distributed import resolve_precision

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: one fixed setting timed both ways"
)


def bare_loop(model, loader: BatchLoader, epochs: int, precision: str) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    model.train()
    started = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        for batch in loader.epoch(epoch):
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = model(batch.x, batch.y, step=step)["loss"]
            loss.backward()
            optimizer.step()
            step += 1
    return time.perf_counter() - started


def genlab_trainer(model, loader: BatchLoader, epochs: int, workdir: Path, index: int) -> float:
    config = TrainConfig(epochs=epochs, batch_size=loader.batch_size, lr=1e-3, tensorboard=False)
    run = RunDirectory.create(workdir / f"run-{index}", {"benchmark": "trainer_overhead"})
    trainer = Trainer(model, config, seed=0, run=run)
    started = time.perf_counter()
    trainer.fit(loader)
    return time.perf_counter() - started


def main() -> None:
    # Both loops run with denormals flushed to zero: the Trainer flushes while it trains, and
    # the bare loop must not be slowed by what the Trainer is spared.
    torch.set_flush_denormal(True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mirror", default=mirror_for("mnist"))
    args = parser.parse_args()

    ensure_named_dataset(get_named_dataset("mnist"), mirror=args.mirror)
    data = load_dataset("mnist")
    loader = BatchLoader(data.train.x, data.train.y, data.preprocessing, batch_size=128, shuffle=True, drop_last=True, seed=0)
    torch.manual_seed(0)
    initial = create_model("vae", data_shape=data.shape, hidden=[512, 512], latent_dim=32, value_range="unit",
                           preprocessing=data.preprocessing.to_dict())
    precision = resolve_precision("auto", torch.device("cpu"))

    bare_loop(copy.deepcopy(initial), loader, 1, precision)  # warm-up: allocator, oneDNN kernels
    times = {"bare": [], "genlab": []}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            times["bare"].append(bare_loop(copy.deepcopy(initial), loader, args.epochs, precision))
            times["genlab"].append(genlab_trainer(copy.deepcopy(initial), loader, args.epochs, Path(scratch), repeat))
            print(f"repeat {repeat}: bare {times['bare'][-1]:.2f} s, genlab Trainer {times['genlab'][-1]:.2f} s")

    bare, trainer = statistics.median(times["bare"]), statistics.median(times["genlab"])
    steps = args.epochs * len(loader)
    result = {
        "benchmark": "trainer_overhead",
        "protocol": {
            "selection_protocol": SELECTION,
            "data": "MNIST training split (54,000 images, [0, 1])", "model": "VAE MLP 784-512-512-32",
            "batch_size": 128, "epochs": args.epochs, "steps": steps, "optimizer": "fused Adam lr=1e-3",
            "precision": precision, "denormals": "flushed to zero in both loops", "repeats": args.repeats,
            "statistic": "median wall time",
            "trainer_extras": "scheduler, NaN check and metrics every 50 steps, per-epoch sample grid, model and checkpoint",
        },
        "machine": machine(),
        "seconds_bare": [round(t, 3) for t in times["bare"]],
        "seconds_genlab": [round(t, 3) for t in times["genlab"]],
        "images_per_s_bare": round(steps * 128 / bare, 1),
        "images_per_s_genlab": round(steps * 128 / trainer, 1),
        "slowdown": round(trainer / bare, 4),
    }
    write_result("trainer_overhead", result)
    print(f"slowdown (genlab Trainer / bare loop): {result['slowdown']}")


if __name__ == "__main__":
    main()
