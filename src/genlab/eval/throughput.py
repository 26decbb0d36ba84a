"""Training and sampling speed of several runs, measured side by side in one process.

Speeds read from each run's metrics.jsonl repeat whatever load the machine had while that
run trained; these are measured now, for every run on the same batches (the first
`steps * batch_size` training images, preprocessed as each model saw them), with each
run's own precision, in alternating repeats, so that they can be compared.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

import torch

from genlab.api import load, run_data_config
from genlab.data.batches import BatchLoader
from genlab.data.dataset import Dataset, load_dataset
from genlab.run_config import resolve_run_config
from genlab.runs import RunDirectory
from genlab.samplers import draw_samples
from genlab.training.distributed import resolve_device
from genlab.training.trainer import Trainer

STEPS, BATCH_SIZE, SAMPLES, REPEATS = 20, 64, 1000, 3
PROTOCOL = (f"measured side by side in one process: each run's model trained {STEPS} steps of {BATCH_SIZE} images "
            f"(the same images, its own precision) and drew {SAMPLES:,} samples, {REPEATS} alternating repeats after "
            "a warm-up; the median")


def measure_throughput(runs: list[str | Path], *, steps: int = STEPS, batch_size: int = BATCH_SIZE,
                       samples: int = SAMPLES, repeats: int = REPEATS, device: str = "cpu",
                       seed: int = 0) -> dict[str, dict]:
    """For each run: training images/s and sampling samples/s (medians over `repeats`) and their repeats."""
    device = str(resolve_device(device))
    measured: dict[str, dict] = {str(run): {"train_images_per_s": [], "samples_per_s": []} for run in runs}
    datasets: dict[tuple[str, str], Dataset] = {}  # runs of one dataset read it once
    batches = {str(run): _batches(Path(run), steps, batch_size, device, datasets) for run in runs}
    for run in runs:  # untimed: the first steps pay for allocation and kernel selection
        _training_speed(Path(run), batches[str(run)], device, seed)
    for _ in range(repeats):
        for run in runs:  # alternating, so that a change in load touches every run alike
            key = str(run)
            measured[key]["train_images_per_s"].append(_training_speed(Path(run), batches[key], device, seed))
            measured[key]["samples_per_s"].append(_sampling_speed(Path(run), samples, device, seed))
    return {key: {"train_images_per_s": statistics.median(values["train_images_per_s"]),
                  "samples_per_s": statistics.median(values["samples_per_s"]), "repeats": values}
            for key, values in measured.items()}


def _batches(run: Path, steps: int, batch_size: int, device: str, datasets: dict) -> BatchLoader:
    model = load(run)
    data, image_range = run_data_config(run, model), type(model).image_range
    key = (repr(data), image_range)
    if key not in datasets:
        datasets[key] = load_dataset(data, image_range=image_range)
    dataset = datasets[key]
    count = min(len(dataset.train), steps * batch_size)
    return BatchLoader(dataset.train.x[:count], dataset.train.y[:count] if dataset.train.y is not None else None,
                       dataset.preprocessing, batch_size=min(batch_size, count), shuffle=False, drop_last=True,
                       device=torch.device(device))


def _training_speed(run: Path, batches: BatchLoader, device: str, seed: int) -> float:
    """Images per second of the run's model trained with its own settings (precision, optimizer) on `batches`."""
    run_config = resolve_run_config(config=RunDirectory.open(run).read_config())
    settings = dataclasses.replace(run_config.train, epochs=1, log_every=10**9, checkpoint_every=0, preview_samples=0,
                                   tensorboard=False, progress=False, device=device, max_minutes=None)
    model = load(run, device=device).train()
    trainer = Trainer(model, settings, seed=seed, monitors=[])
    started = time.perf_counter()
    trainer.fit(batches)
    seconds = time.perf_counter() - started
    return len(batches) * batches.batch_size / max(seconds, 1e-9)


def _sampling_speed(run: Path, count: int, device: str, seed: int) -> float:
    model = load(run, device=device)
    started = time.perf_counter()
    draw_samples(model, run, count, generator=torch.Generator(device).manual_seed(seed))
    return count / max(time.perf_counter() - started, 1e-9)
