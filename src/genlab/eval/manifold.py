"""Fidelity and coverage from nearest-neighbour balls in a feature space.

Precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of
balls around its points, with the radius of the distance to the k-th nearest neighbour
in the same set. Precision is the share of generated samples inside the real manifold;
recall the share of real samples inside the generated one.

Density and coverage (Naeem et al. 2020) use only the real balls, which makes them
robust to outliers among the generated samples: density counts how many real balls
contain each generated sample (divided by k; 1 is "as dense as the real data"),
coverage is the share of real balls that contain at least one generated sample.
"""

from __future__ import annotations

import numpy as np
import torch

BLOCK = 2048  # rows of the distance matrix computed at a time: bounded memory for 10^4-10^5 points


def _as_tensor(features) -> torch.Tensor:
    if isinstance(features, torch.Tensor):
        return features.detach().cpu().to(torch.float32)
    return torch.as_tensor(np.asarray(features), dtype=torch.float32)


def knn_radii(features, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    points = _as_tensor(features)
    if len(points) <= k:
        raise ValueError(f"need more than k={k} points for the k-NN radii (got {len(points)})")
    radii = []
    for block in points.split(BLOCK):
        distances = torch.cdist(block, points)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # the 1st is the point itself, at 0
    return torch.cat(radii)


def _inside_counts(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each query, the number of balls (centres, radii) that contain it."""
    counts = []
    for block in queries.split(BLOCK):
        counts.append((torch.cdist(block, centres) <= radii.unsqueeze(0)).sum(1))
    return torch.cat(counts)


def _covered(centres: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """For each ball, whether at least one query lies inside it."""
    covered = []
    for block, block_radii in zip(centres.split(BLOCK), radii.split(BLOCK)):
        nearest = torch.cdist(block, queries).min(dim=1).values
        covered.append(nearest <= block_radii)
    return torch.cat(covered)


def manifold_indicators(real, fake, k_precision: int = 3, k_density: int = 5) -> dict[str, torch.Tensor]:
    """Per-sample indicators whose means are precision, recall, density and coverage.

    Kept per sample so that bootstrap intervals need no new distance computations.
    """
    real_t, fake_t = _as_tensor(real), _as_tensor(fake)
    real_radii, fake_radii = knn_radii(real_t, k_precision), knn_radii(fake_t, k_precision)
    density_radii = real_radii if k_density == k_precision else knn_radii(real_t, k_density)
    return {
        "precision": (_inside_counts(fake_t, real_t, real_radii) > 0).float(),  # per generated sample
        "recall": (_inside_counts(real_t, fake_t, fake_radii) > 0).float(),  # per real sample
        "density": _inside_counts(fake_t, real_t, density_radii).float() / k_density,  # per generated sample
        "coverage": _covered(real_t, density_radii, fake_t).float(),  # per real sample
    }


def precision_recall_density_coverage(real, fake, k_precision: int = 3, k_density: int = 5) -> dict[str, float]:
    """The four numbers (k=3 for precision/recall and k=5 for density/coverage, as in the papers)."""
    return {name: float(values.mean()) for name, values in manifold_indicators(real, fake, k_precision, k_density).items()}
