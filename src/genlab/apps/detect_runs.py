"""What `genlab detect` does with files: fit a detector into a run directory, score and explain records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genlab.api import run_data_config, train
from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.anomaly_defaults import training_overrides
from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import write_scores, write_table
from genlab.data.columns import Columns
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.files import atomic_path, check_output_path
from genlab.settings import parse_overrides, read_config_file

EXPLANATIONS = (".csv", ".npy")


def fit_detector_run(data: str, run_dir: str | Path, *, model: str = "ae-ensemble", score: str = "auto",
                     contamination: float | str = 0.1, epochs: int | None = None, latent_dim: int | None = None,
                     arch: str = "auto", seed: int = 0,
                     config: str | Path | None = None, overrides: Sequence[str] = (), device: str = "auto",
                     progress: bool = True) -> AnomalyDetector:
    """Train `model` on every record of `data` into `run_dir` and save a calibrated detector beside it.

    What `genlab detect fit` does; the detector's `path_` is its detector.json. No record is held out
    unless the overrides ask for validation or test splits (data.val_fraction, data.test_fraction);
    the threshold then comes from the training part only. A model.arch in `config` or `overrides` takes
    the place of `arch`, so that the training length is sized for the members that are trained.
    """
    arch = configured_arch(config, overrides, arch)
    detector = AnomalyDetector(model=model, contamination=contamination, score_by=score, latent_dim=latent_dim,
                               epochs=epochs, arch=arch, random_state=seed)
    detector._check_settings()
    if Path(run_dir).exists():
        raise GenlabError(f"run directory {run_dir} already exists; choose a new one")
    # sizes and length from the data; batch size, rate and widths are the run config's (or its overrides')
    kept = ("train.epochs", "train.checkpoint_epochs", "model.latent_dim", "model.trim_start_step", "model.arch")
    sized = {key: value for key, value in training_overrides(detector, data).items() if key in kept}
    settings = ["data.val_fraction=0", "data.test_fraction=0", f"seed={seed}",
                *(f"{key}={json.dumps(value)}" for key, value in sized.items())]
    trained = train(model, data, run_dir=run_dir, config=config, overrides=[*settings, *overrides], progress=progress,
                    device=device)
    inputs, _ = model_inputs(trained, run_data_config(run_dir, trained), "train")  # as the run read and encoded it
    detector.calibrate_on_inputs(trained, inputs)
    detector.path_ = detector.save(run_dir)
    return detector


def configured_arch(config: str | Path | None, overrides: Sequence[str], arch: str) -> str:
    """model.arch as the config file, then the overrides, set it (the last one given wins), else `arch`."""
    if config is not None:
        model_section = read_config_file(config).get("model")
        if isinstance(model_section, dict) and "arch" in model_section:
            arch = model_section["arch"]
    for key, value in parse_overrides(overrides):
        if key == "model.arch":
            arch = value
    return str(arch)


def score_files(run_dir: str | Path, inputs: Sequence[str | Path], output: str | Path,
                device: str = "cpu") -> tuple[np.ndarray, np.ndarray, float]:
    """Score image files, folders or array records with the detector of `run_dir`; write a CSV of them.

    Returns the scores, the 0/1 anomaly flags and the threshold.
    """
    check_output_path(output, (".csv",))
    detector = AnomalyDetector.load(run_dir, device=device)
    x, names = read_inputs(detector.model_, inputs)
    scores = detector.anomaly_scores_inputs(x)
    flags = (scores > detector.threshold_).astype(int)
    write_scores(output, names, scores, flags)
    return scores, flags, detector.threshold_


def explain_files(run_dir: str | Path, inputs: Sequence[str | Path], output: str | Path,
                  device: str = "cpu") -> tuple[np.ndarray, list[str]]:
    """Each record's score split into its parts (columns, features or pixels), written to `output`:
    a CSV (name, score, one column per part) or a .npy array of the parts, (N, parts) or images' maps.

    Returns the scores and the parts' names (empty for images)."""
    output = check_output_path(output, EXPLANATIONS)
    detector = AnomalyDetector.load(run_dir, device=device)
    x, names = read_inputs(detector.model_, inputs)
    values, part_names = explanation_array(detector.explain_inputs(x))
    scores = values.reshape(len(values), -1).sum(1)
    if output.suffix == ".npy":
        with atomic_path(output) as scratch, open(scratch, "wb") as handle:
            np.save(handle, values)
        return scores, part_names
    if values.ndim > 2:
        raise GenlabError("an image's explanation is a map; write it to a .npy file (-o maps.npy)")
    table = Columns(["name", "score", *part_names], [np.asarray(names, dtype=object), scores, *values.T])
    write_table(table, output)
    return scores, part_names


def explanation_array(parts) -> tuple[np.ndarray, list[str]]:
    """explain_inputs' parts as one array, (N, parts) or images' (N, C, H, W), and the parts' names
    (a table's column names, feature_0.. for vectors, none for images)."""
    if isinstance(parts, np.ndarray):
        return parts, ([] if parts.ndim > 2 else [f"feature_{i}" for i in range(parts.shape[1])])
    table = parts if isinstance(parts, Columns) else Columns.from_frame(parts)
    return np.stack([np.asarray(v, dtype=np.float64) for v in table.values], 1), list(table.names)
