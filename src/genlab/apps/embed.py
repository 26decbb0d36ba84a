"""Embeddings: an autoencoder's codes as a scikit-learn transformer.

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression

    pipeline = make_pipeline(Embedder(model="vae", latent_dim=16), LogisticRegression())
    pipeline.fit(X_train, y_train).score(X_test, y_test)

`fit` trains the model on X (labels are ignored: the codes are unsupervised); `transform`
returns the codes (a VAE's posterior means), (N, latent_dim), in X's float dtype. X is a
2-D array of features (images flattened to rows work too; they are standardised per
feature like any vectors). The class passes scikit-learn's `check_estimator`.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from genlab.apps.fitting import fit_on_arrays
from genlab.models.inference import run_batched
from genlab.models.units import to_model_space

MODELS = ("ae", "dae", "sparse-ae", "vae")


class Embedder(TransformerMixin, BaseEstimator):
    """Learn a `latent_dim`-dimensional code of X with a genlab autoencoder or VAE."""

    def __init__(self, model: str = "vae", *, latent_dim: int = 16, hidden: tuple[int, ...] = (512, 256),
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, random_state: int = 0, device: str = "auto",
                 verbose: bool = False):
        self.model = model
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y=None):
        """Train the model on the rows of X; y is ignored."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)} (got {self.model!r})")
        if int(self.latent_dim) < 1 or int(self.epochs) < 1:
            raise ValueError("latent_dim and epochs must be at least 1")
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        overrides = {"model.latent_dim": int(self.latent_dim), "model.arch": "mlp", "model.hidden": list(self.hidden),
                     "train.epochs": int(self.epochs), "train.batch_size": min(int(self.batch_size), len(X)),
                     "train.lr": float(self.lr)}
        self.model_ = fit_on_arrays(self.model, X.astype(np.float32), overrides=overrides,
                                    seed=int(self.random_state), progress=bool(self.verbose), device=self.device).eval()
        return self

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Codes of the rows of X, (N, latent_dim), in X's float dtype."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        inputs = to_model_space(self.model_, X.astype(np.float32), "X")
        # on the device genlab.train put the model on (a GPU when there is one)
        codes = run_batched(self.model_.encode, inputs, device=self.model_.device).float()
        return codes.numpy().astype(X.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
