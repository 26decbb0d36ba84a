"""From stored values to model inputs, and back.

Samples stay in memory in their compact stored form (uint8 images, float32 vectors);
each batch is mapped to model inputs by one affine transform, `x * scale + shift`,
optionally followed by dynamic binarisation. The transform is fitted on the training
split and saved with the model, so that new data is preprocessed exactly like the
data the model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from genlab.errors import GenlabError

ValueRange = Literal["unit", "symmetric", "real"]


@dataclass
class Preprocessing:
    value_range: ValueRange  # range of model inputs: [0, 1], [-1, 1] or unbounded
    scale: list[float]  # one number, or one per feature
    shift: list[float]
    binarize: bool = False  # dynamic binarisation: a fresh Bernoulli draw per batch
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __call__(self, stored: torch.Tensor) -> torch.Tensor:
        """(B, ...) stored values -> float32 model inputs."""
        scale, shift = self._coefficients(stored)
        x = stored.to(torch.float32) * scale + shift
        if self.binarize:
            x = torch.bernoulli(x.clamp_(0.0, 1.0))
        return x

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        """Model-space values -> the units the data was stored in (as float32)."""
        scale, shift = self._coefficients(x)
        return (x.to(torch.float32) - shift) / scale

    def to_dict(self) -> dict:
        return {"value_range": self.value_range, "scale": self.scale, "shift": self.shift, "binarize": self.binarize}

    @classmethod
    def from_dict(cls, state: dict) -> Preprocessing:
        return cls(**state)

    def _coefficients(self, like: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if len(self.scale) == 1:
            return self.scale[0], self.shift[0]
        key = (like.device, like.shape[1:])
        if key not in self._cache:
            sample_shape = like.shape[1:]
            if int(np.prod(sample_shape)) != len(self.scale):
                raise GenlabError(
                    f"data with {int(np.prod(sample_shape))} features per sample does not match the "
                    f"{len(self.scale)} features the model was trained on"
                )
            as_tensor = lambda values: torch.tensor(values, dtype=torch.float32, device=like.device).reshape(sample_shape)  # noqa: E731
            self._cache[key] = (as_tensor(self.scale), as_tensor(self.shift))
        return self._cache[key]


def check_preprocessing(state, data_shape) -> None:
    """A stored preprocessing (a model's config.json) that maps inputs of `data_shape`: one number or one per
    feature, finite, with no zero scale; a one-line error otherwise."""
    if not isinstance(state, dict) or set(state) != {"value_range", "scale", "shift", "binarize"}:
        raise GenlabError("'preprocessing' must hold value_range, scale, shift and binarize")
    if state["value_range"] not in ("unit", "symmetric", "real") or not isinstance(state["binarize"], bool):
        raise GenlabError("'preprocessing' has an unknown value_range or a binarize that is not true/false")
    features = int(np.prod(data_shape)) if data_shape else 0
    for key in ("scale", "shift"):
        values = state[key]
        if not isinstance(values, list) or len(values) not in (1, features) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values):
            raise GenlabError(f"'preprocessing.{key}' must be one finite number or {features:,} of them")
    if any(v == 0 for v in state["scale"]):
        raise GenlabError("'preprocessing.scale' holds a zero, which no input can be mapped back through")


def convert_preprocessing(x: torch.Tensor, source: dict | None, target: dict | None) -> torch.Tensor:
    """Model inputs under one preprocessing -> model inputs under another (e.g. a classifier's)."""
    if source is None or target is None or source == target:
        return x
    destination = Preprocessing.from_dict({**target, "binarize": False})
    return destination(Preprocessing.from_dict(source).invert(x))


def fit_preprocessing(
    stored: np.ndarray, kind: str, normalize: str, binarize: str, image_range: str = "unit"
) -> Preprocessing:
    """Choose and fit the transform for the training split `stored` (N, ...).

    normalize: auto (`image_range` for images, standardisation for vectors), unit
    ([0, 1]), symmetric ([-1, 1]), standardize (zero mean, unit variance per
    feature) or none.
    """
    if normalize == "auto":
        if binarize != "none":
            normalize = "unit"
        else:
            normalize = image_range if kind == "image" else "standardize"
    if binarize != "none" and normalize != "unit":
        raise GenlabError(f"binarisation needs data scaled to [0, 1]; set data.normalize=unit (not {normalize})")

    if normalize == "standardize":
        flat = stored.reshape(len(stored), -1).astype(np.float64)
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        std[std < 1e-8] = 1.0  # constant features: centre them, do not blow them up
        return Preprocessing("real", (1.0 / std).tolist(), (-mean / std).tolist())
    if normalize == "none":
        low, high = float(stored.min()), float(stored.max())
        value_range = "unit" if low >= 0.0 and high <= 1.0 else "real"
        return Preprocessing(value_range, [1.0], [0.0])

    low, high = _storage_bounds(stored)
    span = max(high - low, 1e-12)
    if normalize == "unit":
        return Preprocessing("unit", [1.0 / span], [-low / span], binarize=binarize == "dynamic")
    return Preprocessing("symmetric", [2.0 / span], [-2.0 * low / span - 1.0])


def _storage_bounds(stored: np.ndarray) -> tuple[float, float]:
    """The range the stored values live in: 0..255 for bytes, [0, 1] for unit floats, else observed."""
    if stored.dtype == np.uint8:
        return 0.0, 255.0
    low, high = float(stored.min()), float(stored.max())
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high
