"""detector.json's fields, each checked before a detector is built from them: a damaged or hand-edited file
is refused with the first bad field named, never half-used."""

from __future__ import annotations

import math

import numpy as np
import torch

from genlab.apps.anomaly_thresholds import ScoreReference
from genlab.bounds import check_seed, check_whole
from genlab.models.mixture import GaussianMixtureSampler
from genlab.samplers import mixture_problem
from genlab.settings import shown


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
