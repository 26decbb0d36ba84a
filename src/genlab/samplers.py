"""How a run's model generates: from its own prior, or from a mixture fitted to its training codes.

    samples = draw_samples(model, run, 64, sampler="gmm", generator=torch.Generator().manual_seed(0))

The mixture of a run directory is fitted once for its current weights and cached beside
them (RUN/samplers/gmm-K.npz, tagged with the weights' SHA-256); a bare model folder
refits it each time, and so does a run whose cache is damaged (with a warning).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch

from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.files import remove_scratch
from genlab.models.base import GenerativeModel, weights_sha256
from genlab.models.inference import BATCH_SIZE
from genlab.models.mixture import GaussianMixtureSampler
from genlab.resources import check_fits
from genlab.runs import SCRATCH_AGE_S, RunDirectory, model_dir_of

SAMPLERS = ("prior", "gmm")

logger = logging.getLogger(__name__)


def run_gmm_sampler(path: str | Path, model: GenerativeModel, components: int = 10) -> GaussianMixtureSampler:
    """A run's mixture for its current weights (cached in the run directory), fitted on first use."""
    model.require("label_free_codes", "sample from a mixture fitted to its codes (--sampler gmm)")
    digest = weights_sha256(model_dir_of(path))
    run = RunDirectory.find(path)
    cache = run.sampler_path("gmm", components) if run is not None else None
    if cache is not None:  # scratch files of a killed writer go; a younger one may be another process's write under way
        remove_scratch(cache.parent, older_than=SCRATCH_AGE_S)
    if cache is not None and cache.is_file():
        try:
            sampler, fitted_for = GaussianMixtureSampler.load(cache)
            problem = mixture_problem(sampler, model.config.latent_dim)
            if problem is not None:
                raise GenlabError(f"sampler cache {cache} is damaged ({problem})")
        except GenlabError as error:
            logger.warning(f"{error}; fitting it again")
            fitted_for = None
        if fitted_for == digest:
            return sampler
    if not model.config.dataset:
        raise GenlabError("this model does not record its training data; the mixture cannot be fitted")
    inputs, _ = model_inputs(model, model.config.dataset, "train")
    sampler = GaussianMixtureSampler(components).fit(model, inputs)
    if cache is not None:
        store_sampler(sampler, cache, digest)
    return sampler


def store_sampler(sampler: GaussianMixtureSampler, cache: Path, digest: str) -> None:
    """Write the cache; a failed write (a full disk) leaves no samplers/ folder behind that this call made."""
    made = not cache.parent.exists()
    cache.parent.mkdir(exist_ok=True)
    try:
        sampler.save(cache, digest)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):  # empty unless another process wrote into it meanwhile: then it stays
                cache.parent.rmdir()
        raise


def mixture_problem(mixture: GaussianMixtureSampler, latent_dim: int) -> str | None:
    """What keeps a mixture's arrays from being a density over codes of `latent_dim` values; None when they are one."""
    weights, means, covariances = mixture.weights_, mixture.means_, mixture.covariances_
    count = len(weights) if weights.ndim == 1 else 0
    if count == 0 or means.shape != (count, latent_dim) or covariances.shape != (count, latent_dim, latent_dim):
        return f"its arrays do not form a mixture over {latent_dim}-value codes"
    if not all(np.isfinite(array).all() for array in (weights, means, covariances)):
        return "it holds NaN or infinite values"
    if (weights < 0).any() or not np.isclose(weights.sum(), 1.0, atol=1e-6):
        return "its weights are not proportions that sum to 1"
    factors = torch.linalg.cholesky_ex(torch.as_tensor(covariances, dtype=torch.float64))
    if not np.allclose(covariances, covariances.transpose(0, 2, 1)) or bool((factors.info != 0).any()):
        return "a covariance is not symmetric positive definite"
    return None


@torch.no_grad()
def draw_samples(model: GenerativeModel, run: str | Path, count: int, *, sampler: str = "prior", components: int = 10,
                 generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
    """`count` new samples in model space, float32 on the CPU, drawn in batches."""
    model.require("samples", "generate samples")
    if count < 1:
        raise GenlabError(f"the number of samples must be at least 1 (got {count})")
    check_fits(count, model.config.data_shape, "samples", "ask for fewer (-n) and draw them in several calls")
    if sampler not in SAMPLERS:
        raise GenlabError(f"unknown sampler '{sampler}' (choose from {', '.join(SAMPLERS)})")
    if sampler == "gmm":
        if labels is not None:
            raise GenlabError("the gmm sampler draws from all classes; drop the class")
        mixture = run_gmm_sampler(run, model, components)
        draw = lambda n, _: mixture.sample(model, n, generator)  # noqa: E731
    else:
        draw = lambda n, chosen: model.sample(n, generator, chosen)  # noqa: E731
    parts = []
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        chosen = labels[start : start + size] if labels is not None else None
        parts.append(draw(size, chosen).float().cpu())
    return torch.cat(parts)
