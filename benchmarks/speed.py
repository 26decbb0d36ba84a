"""Training speed of each model family: genlab's Trainer against a bare PyTorch loop of the same networks.

Protocol
- Data: MNIST training images (28x28), batch 128, the same BatchLoader and the same
  initial weights for both loops.
- Bare loop: for each parameter group the model updates (D then G for GANs, with
  D's steps per G step as the model schedules them): zero_grad, forward, backward,
  fused Adam step with the model's own learning rates and betas, then the model's
  after-update hook (the GAN's EMA); nothing else. It runs at the precision genlab
  picks for the model on this machine (bf16 autocast for the classifier and GANs on
  CPUs with native bf16, else fp32), so both sides do the same arithmetic.
- genlab: the Trainer as users get it, with a run directory (scheduler, NaN checks,
  metrics, per-epoch sample grid, model and checkpoint), no validation split.
- `--steps` steps per measurement after one warm-up; `--repeats` alternating repeats;
  images/s from the median. ratio = genlab images/s / bare images/s (1.0 = no overhead).

Run:  python benchmarks/speed.py        (about 10 minutes on 2 cores)
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
from genlab.models import create_model, get_model_class
from genlab.runs import RunDirectory
from genlab.training import Trainer
from genlab.training.config import TrainConfig
from genlab.training.distributed import resolve_precision

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none: fixed settings timed both ways"
)

# family -> (model name, settings); the defaults a user gets, except where named
FAMILIES = {
    "ae (mlp)": ("ae", {}),
    "dae (mlp)": ("dae", {}),
    "sparse-ae (mlp)": ("sparse-ae", {}),
    "vae (mlp)": ("vae", {}),
    "vae (conv)": ("vae", {"arch": "conv"}),
    "supervised-ae (mlp)": ("supervised-ae", {}),
    "cvae (mlp)": ("cvae", {}),
    "gan (dcgan)": ("gan", {"monitor_samples": 0}),
    "classifier (small cnn)": ("classifier", {}),
}


def build(name: str, settings: dict, data) -> torch.nn.Module:
    return create_model(name, data_shape=data.shape, num_classes=data.num_classes,
                        value_range=data.preprocessing.value_range, preprocessing=data.preprocessing.to_dict(),
                        dataset="mnist", **settings)


def bare_loop(model, loader: BatchLoader, steps: int, precision: str, lr: float) -> float:
    groups = model.parameter_groups()
    optimizers = {}
    for group, params in groups.items():
        settings = model.optimizer_settings(group)
        optimizers[group] = torch.optim.Adam(params, lr=settings.get("lr", lr),
                                             betas=tuple(settings.get("betas", (0.9, 0.999))), fused=True)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    model.train()
    step = 0
    started = time.perf_counter()
    while step < steps:
        for batch in loader.epoch(step // len(loader)):
            for group in model.groups_to_update(step):
                optimizers[group].zero_grad(set_to_none=True)
                with autocast():
                    loss = model(batch.x, batch.y, group=group, step=step)["loss"]
                loss.backward()
                optimizers[group].step()
                model.after_update(group)
            step += 1
            if step == steps:
                break
    return time.perf_counter() - started


def genlab_trainer(model, loader: BatchLoader, steps: int, workdir: Path, lr: float) -> float:
    epochs = max(1, round(steps / len(loader)))
    config = TrainConfig(epochs=epochs, batch_size=loader.batch_size, lr=lr, tensorboard=False, progress=False)
    run = RunDirectory.create(tempfile.mkdtemp(dir=workdir), {"benchmark": "speed"})
    trainer = Trainer(model, config, seed=0, run=run)
    started = time.perf_counter()
    trainer.fit(loader)
    return (time.perf_counter() - started) * steps / (epochs * len(loader))  # per `steps` steps


def main() -> None:
    # Both loops run with denormals flushed to zero: the Trainer flushes while it trains, and
    # the bare loop must not be slowed by what the Trainer is spared.
    torch.set_flush_denormal(True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES), metavar="FAMILY")
    args = parser.parse_args()

    ensure_named_dataset(get_named_dataset("mnist"), mirror=mirror_for("mnist"))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for family in args.families:
            name, settings = FAMILIES[family]
            data = load_dataset("mnist", image_range=get_model_class(name).image_range)
            loader = BatchLoader(data.train.x, data.train.y, data.preprocessing, batch_size=128, shuffle=True,
                                 drop_last=True, seed=0)
            torch.manual_seed(0)
            initial = build(name, settings, data)
            precision = resolve_precision("auto", torch.device("cpu"), initial.prefers_bf16)
            steps = len(loader)  # one epoch: the Trainer's per-epoch work (grid, checkpoint) is counted once
            bare_loop(copy.deepcopy(initial), loader, 20, precision, 1e-3)  # warm-up: allocator, oneDNN kernels
            times = {"bare": [], "genlab": []}
            for _ in range(args.repeats):
                times["bare"].append(bare_loop(copy.deepcopy(initial), loader, steps, precision, 1e-3))
                times["genlab"].append(genlab_trainer(copy.deepcopy(initial), loader, steps, Path(scratch), 1e-3))
            bare, ours = statistics.median(times["bare"]), statistics.median(times["genlab"])
            row = {"family": family, "model": name, "settings": settings, "precision": precision,
                   "parameters": initial.num_parameters(), "steps": steps,
                   "images_per_s_bare": round(steps * 128 / bare, 1), "images_per_s_genlab": round(steps * 128 / ours, 1),
                   "ratio": round(bare / ours, 3), "seconds_bare": [round(t, 2) for t in times["bare"]],
                   "seconds_genlab": [round(t, 2) for t in times["genlab"]]}
            rows.append(row)
            print(f"{family:<24} {precision:<5} bare {row['images_per_s_bare']:>9,.0f} img/s   genlab "
                  f"{row['images_per_s_genlab']:>9,.0f} img/s   ratio {row['ratio']:.3f}", flush=True)

    write_result("speed", {
        "benchmark": "speed",
        "protocol": {
            "selection_protocol": SELECTION,
            "data": "MNIST training split (54,000 images), batch 128, one epoch (421 steps) per measurement",
            "bare_loop": "zero_grad / forward / backward / fused Adam step / after-update hook per scheduled group",
            "genlab": "Trainer with a run directory (scheduler, NaN checks, metrics, sample grid, model, checkpoint)",
            "precision": "genlab's auto choice for each model on this machine, used by both loops",
            "repeats": args.repeats, "statistic": "median", "ratio": "genlab images/s / bare images/s",
        },
        "machine": machine(),
        "rows": rows,
    })


if __name__ == "__main__":
    main()
