"""A detector's saved state: detector.json written and read back, each field checked before a detector is built
from it (a damaged or hand-edited file is refused with the first bad field named, never half-used), and which
score a model can give."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import numpy as np
import torch

from genlab.api import load
from genlab.apps.anomaly_ensemble import EnsembleScore
from genlab.apps.anomaly_thresholds import ScoreReference
from genlab.bounds import check_seed, check_whole
from genlab.errors import GenlabError
from genlab.files import write_bytes_atomic, write_text_atomic
from genlab.models.base import read_weights, weights_bytes, weights_sha256
from genlab.models.mixture import GaussianMixtureSampler
from genlab.runs import RunDirectory, model_dir_of
from genlab.samplers import mixture_problem
from genlab.settings import shown


def save_detector(detector, run_dir: str | Path) -> Path:
    """Write a fitted detector's detector.json (score, threshold, settings, fitted parts) into `run_dir`; the
    ensemble score's tensors go to detector.safetensors, written first (the JSON marks a whole save)."""
    state = {"score": detector.score_, "threshold": detector.threshold_, "contamination": detector.contamination,
             "flagged_share": detector.contamination_, "k": detector.k, "draws": detector.draws,
             "random_state": detector.random_state, "training_scores": detector.reference_.to_dict()}
    if detector.score_ == "weighted-reconstruction":
        state["residual_variance"] = detector.residual_variance_.tolist()
    if detector.score_ == "latent":
        density = detector.density_
        state["mixture"] = {"weights": density.weights_.tolist(), "means": density.means_.tolist(),
                            "covariances": density.covariances_.tolist()}
    with contextlib.suppress(GenlabError, OSError):  # the weights the threshold was calibrated on
        state["model_sha256"] = weights_sha256(model_dir_of(run_dir))
    path = RunDirectory(run_dir).detector_path
    if detector.score_ == "ensemble":
        write_bytes_atomic(path.with_suffix(".safetensors"), weights_bytes(detector.ensemble_.tensors()))
    write_text_atomic(path, json.dumps(state, indent=2) + "\n")
    return path


def load_detector(cls, run_dir: str | Path, device: str, scores: tuple[str, ...], max_draws: int):
    """The `cls` detector save_detector wrote into a run directory (or the detector.json it returned)."""
    if Path(run_dir).is_file():
        run_dir = Path(run_dir).parent
    path = RunDirectory(run_dir).detector_path
    if not path.is_file():
        raise GenlabError(f"{run_dir} has no {path.name}; make it with `genlab detect fit --run-dir {run_dir}`")
    model = load(run_dir, device=device)
    try:
        state = json.loads(path.read_text())
        detector = _from_state(cls, checked_state(state, model, scores, max_draws), model)
        if detector.score_ == "ensemble":
            detector.ensemble_ = EnsembleScore.from_tensors(read_weights(path.with_suffix(".safetensors")), model)
    except (KeyError, TypeError, ValueError, IndexError, RecursionError) as error:  # GenlabError is a ValueError
        problem = f"no {error}" if isinstance(error, KeyError) else str(error) or type(error).__name__
        raise GenlabError(f"{path} is damaged ({problem[:200]}); rerun `genlab detect fit` to make it again") from None
    recorded = state.get("model_sha256")
    if recorded is not None and recorded != weights_sha256(model_dir_of(run_dir)):
        raise GenlabError(f"{path} was calibrated for earlier weights of this run (it was trained further since); "
                          "fit the detector again")
    return detector


def _from_state(cls, fields: dict, model):
    """A `cls` detector around `model` from detector.json's checked fields."""
    detector = cls(model=model.model_name, score_by=resolve_score(fields["score"], model),
                   contamination=fields["contamination"], k=fields["k"], draws=fields["draws"],
                   random_state=fields["random_state"])
    detector.model_, detector.score_, detector.threshold_ = model, detector.score_by, fields["threshold"]
    detector.offset_, detector.contamination_ = -detector.threshold_, fields["flagged_share"]
    detector.n_features_in_ = int(np.prod(model.config.data_shape))
    for name in ("reference", "residual_variance", "density"):
        if fields.get(name) is not None:
            setattr(detector, f"{name}_", fields[name])
    return detector


def resolve_score(score: str, model) -> str:
    """The score `auto` stands for, and a check that the model can give the one asked for."""
    likelihood, ensemble = model.capabilities.likelihood, hasattr(model, "members_forward")
    if score == "auto":
        return "ensemble" if ensemble else "nll" if likelihood and not model.config.table else "reconstruction"
    check_ensemble_score(score, ensemble, model.model_name)
    if score in ("elbo", "nll") and not likelihood:
        raise GenlabError(f"score {score} needs a VAE; a {model.model_name} offers reconstruction, "
                          "weighted-reconstruction or latent")
    return score


def check_ensemble_score(score: str, ensemble: bool, model_name: str) -> None:
    """The ensemble score only for the ae-ensemble, which has no codes to score by density and no likelihood."""
    if score == "ensemble" and not ensemble or ensemble and score in ("latent", "elbo", "nll"):
        raise GenlabError(f"score {score} does not go with a {model_name} model: the ae-ensemble scores by ensemble, "
                          "reconstruction or weighted-reconstruction, and only it by ensemble")


def checked_state(state, model, scores: tuple[str, ...], max_draws: int) -> dict:
    """The settings and fitted parts stored in detector.json for `model`; a ValueError names the first bad one.

    Returns score, contamination, k, draws, random_state, threshold, flagged_share, and reference (the
    training scores' summary), residual_variance and density where the file has them."""
    if not isinstance(state, dict):
        raise ValueError("it does not hold an object of settings")
    score = state["score"]
    if score not in scores or score == "auto":
        raise ValueError(f"unknown score {shown(score)!r}")
    contamination = state["contamination"]
    fields = {"score": score, "contamination": "auto" if contamination == "auto" else _share(state, "contamination"),
              "k": check_whole(state["k"], "k", 1, max_draws), "draws": check_whole(state["draws"], "draws", 1, max_draws),
              "random_state": check_seed(state["random_state"], "random_state"), "threshold": _real(state, "threshold")}
    fields["flagged_share"] = _real(state, "flagged_share", 0.0, 1.0) if "flagged_share" in state else \
        float(contamination if contamination != "auto" else 0.0)
    summary = state["training_scores"]
    if not isinstance(summary, dict):
        raise ValueError("training_scores is not an object")
    _real(summary, "mean"), _real(summary, "std", 0.0)
    if "quantiles" in summary:  # written since detectors give probabilities and confidences
        fields["reference"] = ScoreReference.from_dict(summary)
    if not isinstance(state.get("model_sha256", ""), str):
        raise ValueError("model_sha256 is not text")
    features = int(np.prod(model.config.data_shape))
    if score == "weighted-reconstruction":
        variance = np.asarray(state["residual_variance"], dtype=np.float64)
        if variance.shape != (features,) or not (np.isfinite(variance) & (variance > 0)).all():
            raise ValueError(f"residual_variance is not {features} positive numbers, one per feature")
        fields["residual_variance"] = torch.tensor(variance, dtype=torch.float32)
    if score == "latent":
        fields["density"] = _mixture(state["mixture"], model)
    return fields


def _real(state: dict, key: str, low: float = -math.inf, high: float = math.inf) -> float:
    """state[key] as a float: a finite number from `low` to `high`."""
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is {shown(value)!r}, not a finite number")
    if not low <= value <= high:
        raise ValueError(f"{key} {value} is out of range")
    return float(value)


def _share(state: dict, key: str) -> float:
    """state[key] as a share in (0, 0.5], as contamination takes it."""
    value = _real(state, key, 0.0, 0.5)
    if value == 0.0:
        raise ValueError(f"{key} 0 is out of range")
    return value


def _mixture(stored, model) -> GaussianMixtureSampler:
    """The latent score's mixture from its stored arrays, checked against the model's code size."""
    if not isinstance(stored, dict):
        raise ValueError("mixture is not an object")
    weights, means, covariances = (np.asarray(stored[key], dtype=np.float64) for key in ("weights", "means", "covariances"))
    density = GaussianMixtureSampler(max(1, len(weights)) if weights.ndim == 1 else 1)
    density.weights_, density.means_, density.covariances_ = weights, means, covariances
    problem = mixture_problem(density, model.config.latent_dim)
    if problem is not None:
        raise ValueError(f"mixture: {problem}")
    return density
