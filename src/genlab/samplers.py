"""How a run's model generates: from its own prior, or from a mixture fitted to its training codes.

    samples = draw_samples(model, run, 64, sampler="gmm", generator=torch.Generator().manual_seed(0))

The mixture of a run directory is fitted once for its current weights and cached beside
them (RUN/samplers/gmm-K.npz, tagged with the weights' SHA-256); a bare model folder
refits it each time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.models.base import GenerativeModel, weights_sha256
from genlab.models.inference import BATCH_SIZE
from genlab.models.mixture import GaussianMixtureSampler
from genlab.resources import check_fits
from genlab.runs import RunDirectory, model_dir_of

SAMPLERS = ("prior", "gmm")

logger = logging.getLogger(__name__)


def run_gmm_sampler(path: str | Path, model: GenerativeModel, components: int = 10) -> GaussianMixtureSampler:
    """A run's mixture for its current weights (cached in the run directory), fitted on first use."""
    model.require("label_free_codes", "sample from a mixture fitted to its codes (--sampler gmm)")
    digest = weights_sha256(model_dir_of(path))
    run = RunDirectory.find(path)
    cache = run.sampler_path("gmm", components) if run is not None else None
    if cache is not None and cache.is_file():
        try:
            sampler, fitted_for = GaussianMixtureSampler.load(cache)
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
        cache.parent.mkdir(exist_ok=True)
        sampler.save(cache, digest)
    return sampler


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
