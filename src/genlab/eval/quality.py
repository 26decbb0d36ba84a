"""Sample quality in a feature space: the Fréchet distance (FID's formula).

FID (Heusel et al. 2017) compares the Gaussians fitted to two sets of features:
    d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
genlab computes it in the feature space of its reference classifier for the dataset
(genlab.eval.features), so the numbers need no download and name their extractor.
"""

from __future__ import annotations

import numpy as np
import torch


def feature_moments(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) of (N, F) features, in float64."""
    values = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
    return values.mean(axis=0), np.cov(values, rowvar=False)


def frechet_distance_from_moments(mu_a, cov_a, mu_b, cov_b) -> float:
    """The Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b).

    Tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix S_a^(1/2) S_b S_a^(1/2), which has the same spectrum and avoids the
    complex round-off of a general matrix square root.
    """
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(np.square(mu_a - mu_b).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between two feature sets (N, F) and (M, F)."""
    return frechet_distance_from_moments(*feature_moments(features_a), *feature_moments(features_b))


@torch.no_grad()
def classifier_features(classifier, inputs: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Penultimate-layer features of `inputs` (already in the classifier's input space)."""
    classifier.eval()
    return torch.cat([classifier.features(batch.to(classifier.device)).cpu() for batch in inputs.split(batch_size)])
