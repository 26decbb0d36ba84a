"""Reference classifiers: genlab's own feature space for sample-quality metrics.

FID and its relatives need a feature extractor. ImageNet's Inception cannot be
downloaded at run time here, and numbers from different extractors cannot be
compared, so genlab trains a small CNN per dataset with a fixed recipe and seed
(`genlab eval --prepare-features NAME`), keeps its model folder under the data root
(`$GENLAB_DATA/classifiers/<dataset>/`) and identifies it by the SHA-256 of its
weights file, which is stored next to every number computed with it.

This module says where they live, loads them and names them; training one is
`genlab.eval.features.train_reference_classifier`.
"""

from __future__ import annotations

from pathlib import Path

from genlab.data.download import data_root
from genlab.models.base import CONFIG_FILE, GenerativeModel, load_model, weights_sha256

# Recipes measured in benchmarks/classifier.py: under 10 minutes each on a 2-core CPU.
REFERENCE_RECIPES: dict[str, dict] = {
    "mnist": {
        "seed": 0,
        "model": {"name": "classifier", "arch": "small", "augment": "shift"},
        "data": {"name": "mnist"},
        "train": {"epochs": 12, "batch_size": 128, "lr": 2e-3, "scheduler": "cosine", "tensorboard": False},
    },
    "fashion-mnist": {
        "seed": 0,
        "model": {"name": "classifier", "arch": "small", "augment": "shift_flip"},
        "data": {"name": "fashion-mnist"},
        "train": {"epochs": 20, "batch_size": 128, "lr": 2e-3, "scheduler": "cosine", "tensorboard": False},
    },
    # scikit-learn's bundled 8x8 digits: seconds to train, for quick checks and the tests
    "digits": {
        "seed": 0,
        "model": {"name": "classifier", "arch": "small", "augment": "none"},
        "data": {"name": "digits"},
        "train": {"epochs": 40, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "tensorboard": False},
    },
}


def reference_classifier_dir(dataset: str, root: str | Path | None = None) -> Path:
    """The model folder of `dataset`'s reference classifier (present or not)."""
    return data_root(root) / "classifiers" / Path(dataset).name


def load_reference_classifier(dataset: str | None, root: str | Path | None = None,
                              device: str = "cpu") -> GenerativeModel | None:
    """The cached reference classifier of `dataset`, or None when there is none yet."""
    if not dataset:
        return None
    directory = reference_classifier_dir(dataset, root)
    if not (directory / CONFIG_FILE).is_file():
        return None
    return load_model(directory, device=device)


def reference_sha256(dataset: str, root: str | Path | None = None) -> str:
    """The identity of `dataset`'s reference feature space: its weights' SHA-256."""
    return weights_sha256(reference_classifier_dir(dataset, root))
