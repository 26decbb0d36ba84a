"""Feature spaces for sample quality: the dataset's reference classifier, or the raw inputs.

The reference classifiers themselves (recipes, location, identity) are described in
`genlab.models.reference`; this module trains them and measures in their space.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from genlab.api import train
from genlab.data.preprocessing import convert_preprocessing
from genlab.errors import GenlabError
from genlab.eval import quality
from genlab.models.inference import run_batched
from genlab.models.reference import (
    REFERENCE_RECIPES,
    load_reference_classifier,
    reference_classifier_dir,
    reference_sha256,
)
from genlab.runs import RunDirectory


def train_reference_classifier(dataset: str, root: str | Path | None = None, progress: bool = True) -> Path:
    """Train the reference classifier of `dataset` with its fixed recipe; replace any cached one."""
    if dataset not in REFERENCE_RECIPES:
        raise GenlabError(f"no reference classifier recipe for '{dataset}' (recipes: {', '.join(REFERENCE_RECIPES)})")
    target = reference_classifier_dir(dataset, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{dataset}-"))
    try:
        run = RunDirectory(scratch / "run")
        train(config=REFERENCE_RECIPES[dataset], run_dir=run.root, progress=progress)
        if target.exists():
            shutil.rmtree(target)
        run.model_dir.rename(target)  # the model folder is the reference; the run's logs are not needed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


class FeatureSpace:
    """Where sample quality is measured: the reference classifier's penultimate layer, or raw data."""

    def __init__(self, model, classifier=None, dataset: str | None = None):
        self.model, self.classifier, self.dataset = model, classifier, dataset

    @classmethod
    def for_model(cls, model, dataset: str | None) -> FeatureSpace:
        classifier = load_reference_classifier(dataset, device=str(model.device))
        if classifier is not None and tuple(classifier.config.data_shape) != tuple(model.config.data_shape):
            classifier = None
        return cls(model, classifier, dataset)

    def describe(self) -> dict:
        if self.classifier is None:
            return {"name": "raw", "note": "no reference classifier for this data: distances in the model's input space"}
        return {"name": "genlab reference classifier", "dataset": self.dataset, "sha256": reference_sha256(self.dataset),
                "layer": "penultimate", "dimensions": int(self.features(torch.zeros(1, *self.model.config.data_shape)).shape[1])}

    def _to_classifier(self, x: torch.Tensor) -> torch.Tensor:
        return convert_preprocessing(x, self.model.config.preprocessing, self.classifier.config.preprocessing)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) features of model inputs x."""
        if self.classifier is None:
            return x.flatten(1).float()
        return quality.classifier_features(self.classifier, self._to_classifier(x))

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.classifier is None:
            return None
        return run_batched(self.classifier.predict_proba, self._to_classifier(x), device=self.classifier.device).float()
