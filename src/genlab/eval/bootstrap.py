"""Percentile bootstrap intervals for metrics that are means of per-sample values."""

from __future__ import annotations

import numpy as np
import torch


def bootstrap_mean_interval(values, resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Interval for the mean of `values` (N,), resampling them with replacement."""
    data = values.detach().cpu().double().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, np.float64)
    if len(data) == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    # one (resamples, N) index matrix would need resamples * N ints: draw in slices instead
    means = np.concatenate([data[rng.integers(0, len(data), (min(100, resamples - start), len(data)))].mean(1)
                            for start in range(0, resamples, 100)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
