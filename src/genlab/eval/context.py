"""What one evaluation shares between its metric groups: the model, its data, its samples.

Inputs, generated samples and the feature space are computed on first use and kept, so
that quality and diversity measure the same samples and nothing is computed twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genlab.data.config import DataConfig
from genlab.data.model_inputs import model_inputs
from genlab.eval.features import FeatureSpace
from genlab.models.base import GenerativeModel
from genlab.samplers import draw_samples


@dataclass
class EvalContext:
    model: GenerativeModel
    run: Path
    data: DataConfig | str
    split: str = "test"
    limit: int | None = None
    seed: int = 0
    samples: int = 10_000  # generated samples for quality and diversity
    k: int = 5000  # importance samples for the NLL
    sampler: str = "prior"
    components: int = 10
    bootstrap: int = 200
    probe_train_size: int = 10_000
    inception: torch.nn.Module | None = None
    inception_weights: str | None = None
    progress: bool = True
    protocol: dict = field(default_factory=dict)  # what the groups record about how they measured
    results: dict = field(default_factory=dict)  # each group's numbers, by group name
    _inputs: tuple | None = field(default=None, repr=False)
    _generated: torch.Tensor | None = field(default=None, repr=False)
    _space: FeatureSpace | None = field(default=None, repr=False)

    @property
    def data_name(self) -> str:
        return self.data if isinstance(self.data, str) else self.data.name

    @property
    def inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The split's inputs in model space and their labels."""
        if self._inputs is None:
            self._inputs = model_inputs(self.model, self.data, self.split, self.limit)
        return self._inputs

    @property
    def labels(self) -> torch.Tensor | None:
        """Labels to condition on: the true ones for a conditional model, else None."""
        return self.inputs[1] if self.model.conditional else None

    def split_inputs(self, split: str, limit: int | None = None, binarize_seed: int | None = None):
        return model_inputs(self.model, self.data, split, limit, binarize_seed=binarize_seed)

    @property
    def generated(self) -> torch.Tensor:
        """`samples` new samples, drawn once with the evaluation's seed and sampler."""
        if self._generated is None:
            started = time.perf_counter()
            self._generated = draw_samples(self.model, self.run, self.samples, sampler=self.sampler,
                                           components=self.components, generator=torch.Generator().manual_seed(self.seed))
            seconds = time.perf_counter() - started
            self.protocol["generation"] = {
                "samples": self.samples, "sampler": self.sampler,
                "components": self.components if self.sampler == "gmm" else None, "seed": self.seed,
                "labels": "uniform over classes" if self.model.conditional else None,
                "samples_per_second": round(self.samples / max(seconds, 1e-9), 1)}
        return self._generated

    @property
    def space(self) -> FeatureSpace:
        """The feature space of sample quality, recorded in the protocol."""
        if self._space is None:
            self._space = FeatureSpace.for_model(self.model, self.data_name)
            self.protocol["feature_space"] = self._space.describe()
            self.protocol["reference"] = {"split": self.split, "examples": len(self.inputs[0])}
        return self._space
