"""Sample quality in a feature space: the Fréchet distance (FID's formula).

FID (Heusel et al. 2017) compares the Gaussians fitted to two sets of features:
    d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
genlab computes it in the feature space of its reference classifier for the dataset
(genlab.eval.features), so the numbers need no download and name their extractor.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.models.inference import run_batched


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
def classifier_features(classifier, inputs: torch.Tensor) -> torch.Tensor:
    """Penultimate-layer features of `inputs` (already in the classifier's input space)."""
    classifier.eval()
    return run_batched(classifier.features, inputs, device=classifier.device)


def kernel_inception_distance(features_a, features_b, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the unbiased MMD^2 under k(x, y) = (x.y / d + 1)^3.

    Averaged over `subsets` random subsets of `subset_size` from each set (as in the
    paper's reference implementation); returns the mean and its standard deviation.
    Unlike FID it is unbiased, so small sample counts can be compared.
    """
    a = torch.as_tensor(np.asarray(features_a), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(features_b), dtype=torch.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    generator = torch.Generator().manual_seed(seed)
    dim = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[torch.randperm(len(a), generator=generator)[:size]]
        y = b[torch.randperm(len(b), generator=generator)[:size]]
        k_xx = (x @ x.T / dim + 1) ** 3
        k_yy = (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        off_diagonal = size * (size - 1)
        mmd = ((k_xx.sum() - k_xx.diagonal().sum()) / off_diagonal + (k_yy.sum() - k_yy.diagonal().sum()) / off_diagonal
               - 2 * k_xy.mean())
        values.append(float(mmd))
    return float(np.mean(values)), float(np.std(values))


def bootstrap_frechet(real_features, fake_features, resamples: int = 100, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval for FID, resampling the generated set.

    The reference set's moments are held fixed: the interval describes the spread that
    comes from which samples the model happened to draw.
    """
    mu_real, cov_real = feature_moments(real_features)
    fake = np.asarray(fake_features.detach().cpu() if isinstance(fake_features, torch.Tensor) else fake_features,
                      dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = [frechet_distance_from_moments(mu_real, cov_real, *feature_moments(fake[rng.integers(0, len(fake), len(fake))]))
              for _ in range(resamples)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
