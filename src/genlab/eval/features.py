"""Reference classifiers: genlab's own feature space for sample-quality metrics.

FID and its relatives need a feature extractor. ImageNet's Inception cannot be
downloaded at run time here, and numbers from different extractors cannot be
compared, so genlab trains a small CNN per dataset with a fixed recipe and seed,
caches it under the data root (`$GENLAB_DATA/classifiers/<dataset>/`, a run
directory) and identifies it by the SHA-256 of its weights file, which is stored
next to every number computed with it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from genlab.data.download import data_root
from genlab.errors import GenlabError
from genlab.files import file_sha256

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
    return data_root(root) / "classifiers" / dataset


def load_reference_classifier(dataset: str | None, root: str | Path | None = None):
    """The cached reference classifier of `dataset`, or None when there is none yet."""
    if not dataset:
        return None
    directory = reference_classifier_dir(dataset, root)
    if not (directory / "model" / "config.json").is_file():
        return None
    from genlab.api import load

    return load(directory)


def train_reference_classifier(dataset: str, root: str | Path | None = None, progress: bool = True) -> Path:
    """Train the reference classifier of `dataset` with its fixed recipe; replace any cached one."""
    from genlab.api import train

    if dataset not in REFERENCE_RECIPES:
        raise GenlabError(f"no reference classifier recipe for '{dataset}' (recipes: {', '.join(REFERENCE_RECIPES)})")
    target = reference_classifier_dir(dataset, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{dataset}-"))
    try:
        train(config=REFERENCE_RECIPES[dataset], run_dir=scratch / "run", progress=progress)
        if target.exists():
            shutil.rmtree(target)
        (scratch / "run").rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def weights_sha256(run_or_model_dir: str | Path) -> str:
    """SHA-256 of a model's weights file: the identity of a feature extractor."""
    from genlab.runs import model_dir_of

    return file_sha256(model_dir_of(run_or_model_dir) / "model.safetensors")
