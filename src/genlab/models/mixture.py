"""An ex-post latent sampler: a Gaussian mixture fitted to the codes of training data.

A plain autoencoder has no prior to sample from, and a VAE's aggregate posterior rarely
matches its N(0, I) prior. Fitting a Gaussian mixture to the codes of the training set
after training, and decoding draws from it, turns the first into a generator and
sharpens the second (Ghosh et al. 2020, "From variational to deterministic autoencoders";
pythae's GMM sampler). The mixture is stored as plain arrays (.npz), never pickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from genlab.errors import GenlabError
from genlab.files import atomic_path
from genlab.models.inference import encode_all


class GaussianMixtureSampler:
    """Fit with `fit(model, inputs)`; draw data with `sample(model, count)`."""

    def __init__(self, components: int = 10, seed: int = 0):
        if components < 1:
            raise GenlabError(f"a Gaussian mixture needs at least one component (got {components})")
        self.components = components
        self.seed = seed

    @torch.no_grad()
    def fit(self, model, inputs: torch.Tensor) -> GaussianMixtureSampler:
        """Encode `inputs` (preprocessed like the training data) and fit the mixture to the codes."""
        # scikit-learn takes a second to import: only when a mixture is fitted
        from sklearn.mixture import GaussianMixture

        codes = encode_all(model, inputs).double().numpy()
        if len(codes) < self.components:
            raise GenlabError(f"{len(codes)} codes are too few for {self.components} mixture components")
        mixture = GaussianMixture(self.components, covariance_type="full", random_state=self.seed, reg_covar=1e-5)
        mixture.fit(codes)
        self.weights_ = mixture.weights_
        self.means_ = mixture.means_
        self.covariances_ = mixture.covariances_
        return self

    def sample_codes(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(count, latent_dim) codes drawn from the mixture."""
        weights = torch.as_tensor(self.weights_, dtype=torch.float64)
        means = torch.as_tensor(self.means_, dtype=torch.float64)
        factors = torch.linalg.cholesky(torch.as_tensor(self.covariances_, dtype=torch.float64))
        component = torch.multinomial(weights, count, replacement=True, generator=generator)
        noise = torch.randn(count, means.shape[1], 1, generator=generator, dtype=torch.float64)
        return (means[component] + (factors[component] @ noise).squeeze(2)).float()

    def log_density(self, codes: torch.Tensor) -> torch.Tensor:
        """log of the mixture's density at each of `codes` (N, latent_dim), (N,) in float64."""
        codes = torch.as_tensor(codes, dtype=torch.float64)
        means = torch.as_tensor(self.means_, dtype=torch.float64)  # (K, D)
        factors = torch.linalg.cholesky(torch.as_tensor(self.covariances_, dtype=torch.float64))  # (K, D, D)
        centred = (codes.unsqueeze(0) - means.unsqueeze(1)).unsqueeze(-1)  # (K, N, D, 1)
        whitened = torch.linalg.solve_triangular(factors.unsqueeze(1), centred, upper=False).squeeze(-1)  # (K, N, D)
        log_det = 2 * torch.log(torch.diagonal(factors, dim1=-2, dim2=-1)).sum(-1)  # (K,)
        dims = means.shape[1]
        log_components = -0.5 * (whitened.square().sum(-1) + log_det.unsqueeze(1) + dims * np.log(2 * np.pi))
        log_weights = torch.log(torch.as_tensor(self.weights_, dtype=torch.float64)).unsqueeze(1)
        return torch.logsumexp(log_weights + log_components, dim=0)

    @torch.no_grad()
    def sample(self, model, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`count` new samples: mixture codes decoded by `model`."""
        return model.decode(self.sample_codes(count, generator).to(model.device))

    def save(self, path: str | Path, model_digest: str = "") -> Path:
        path = Path(path)
        with atomic_path(path) as scratch, open(scratch, "wb") as handle:
            np.savez(handle, weights=self.weights_, means=self.means_, covariances=self.covariances_,
                     model_digest=np.array(model_digest))
        return path

    @classmethod
    def load(cls, path: str | Path) -> tuple[GaussianMixtureSampler, str]:
        """The sampler saved at `path` and the digest of the model it was fitted for."""
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights, means = np.asarray(arrays["weights"], np.float64), np.asarray(arrays["means"], np.float64)
                covariances = np.asarray(arrays["covariances"], np.float64)
                digest = str(arrays["model_digest"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError) as error:
            raise GenlabError(f"sampler cache {path} is damaged ({type(error).__name__})") from None
        count, dims = means.shape if means.ndim == 2 else (0, 0)
        if (count == 0 or weights.shape != (count,) or covariances.shape != (count, dims, dims)
                or not all(np.isfinite(a).all() for a in (weights, means, covariances))):
            raise GenlabError(f"sampler cache {path} is damaged (its arrays do not form a mixture)")
        sampler = cls(components=count)
        sampler.weights_, sampler.means_, sampler.covariances_ = weights, means, covariances
        return sampler, digest
