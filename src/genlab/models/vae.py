"""The variational autoencoder (Kingma & Welling 2014).

q(z|x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), p(x|z) Bernoulli or Gaussian.
Trained by maximising the ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) with one
reparameterised sample z = mu + sigma * eps; the KL term has a closed form and may be
weighted by beta (beta-VAE) and warmed up linearly from 0 over the first steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import GenlabError
from genlab.models.base import register_model
from genlab.models.latent import LatentModel, table_layout
from genlab.models.likelihoods import LOG_2PI, BernoulliLikelihood, GaussianLikelihood, TabularLikelihood
from genlab.models.nets import NetworkConfig, decoder_network, encoder_network, trimmed_mean

IW_VALUES_PER_CHUNK = 1 << 24  # bounds memory of log_likelihood: samples x batch x features per chunk


@dataclass
class VAEConfig(NetworkConfig):
    latent_dim: int = 32
    likelihood: Literal["auto", "bernoulli", "gaussian"] = "auto"  # auto: bernoulli for [0, 1] data
    variance: Literal["learned", "fixed"] = "learned"  # gaussian: one learned sigma per feature, or fixed
    sigma: float = 1.0  # gaussian: the fixed sigma, or the learned one's starting value
    min_sigma: float = 1e-3  # gaussian: floor that keeps a learned sigma from collapsing
    beta: float = 1.0  # weight of the KL term (beta-VAE)
    kl_warmup_steps: int = 0  # ramp the KL weight linearly from 0 to beta over this many steps
    iw_samples: int = 1  # >1: train on the importance-weighted bound with this many samples (IWAE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood == "auto":
            self.likelihood = "bernoulli" if self.value_range == "unit" else "gaussian"
        if self.likelihood == "bernoulli" and self.value_range != "unit":
            raise GenlabError("likelihood bernoulli needs data in [0, 1]; use likelihood=gaussian or data.normalize=unit")
        if self.sigma <= 0 or self.min_sigma <= 0 or self.beta < 0 or self.kl_warmup_steps < 0:
            raise GenlabError("model.sigma and model.min_sigma must be positive, beta and kl_warmup_steps >= 0")
        if not 1 <= self.iw_samples <= 10_000:
            raise GenlabError(f"model.iw_samples must be in 1..10,000 (got {self.iw_samples})")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per sample, (B,)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(1)


@register_model("vae")
class VAE(LatentModel):
    """Variational autoencoder: Gaussian posterior, standard normal prior, Bernoulli or Gaussian decoder."""

    has_likelihood = True

    config_class = VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        classes = config.num_classes if self.conditional else 0
        self.encoder = encoder_network(config, 2 * config.latent_dim)  # -> (mu, log sigma^2)
        self.decoder = decoder_network(config, config.latent_dim + classes)  # cvae: z and a one-hot label
        # cvae: the label shifts the posterior's parameters, q(z | x, y)
        self.label_to_posterior = nn.Linear(classes, 2 * config.latent_dim) if classes else None
        if config.table:  # a mixed-type table: one head per column type
            self.likelihood = TabularLikelihood(table_layout(config), config.variance == "learned", config.sigma,
                                                config.min_sigma)
        elif config.likelihood == "bernoulli":
            self.likelihood = BernoulliLikelihood()
        else:
            self.likelihood = GaussianLikelihood(
                config.data_shape, config.value_range, config.variance == "learned", config.sigma, config.min_sigma
            )

    def posterior(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x) (q(z|x,y) for cvae), each (B, latent_dim), in float32."""
        h = self.encoder(x).float()
        if self.label_to_posterior is not None:
            h = h + self.label_to_posterior(self._one_hot(labels, x)).float()
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decoder_output(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's raw output for codes z (and labels, for cvae)."""
        if self.label_to_posterior is not None:
            z = torch.cat([z, self._one_hot(labels, z).to(z.dtype)], dim=1)
        return self.decoder(z)

    @property
    def observation(self):
        return self.likelihood

    def _one_hot(self, labels, like):
        if labels is None:
            raise GenlabError("a conditional VAE needs the class label of every sample")
        return F.one_hot(labels.long(), self.config.num_classes).to(like.device, torch.float32)

    def encode(self, x, labels=None):
        self.sample_labels(len(x), labels=labels)
        return self.posterior(x, labels)[0]

    def decode(self, z, labels=None):
        self.sample_labels(len(z), labels=labels)
        return self.likelihood.mean(self.decoder_output(z, labels))

    def prior_sample(self, count, generator=None):
        return self.standard_normal(count, generator)

    def kl_weight(self, step: int) -> float:
        warmup = self.config.kl_warmup_steps
        return self.config.beta * (min(1.0, step / warmup) if warmup else 1.0)

    def forward(self, x, y=None, *, group="model", step=0):
        labels = y if self.conditional else None
        if self.config.iw_samples > 1:
            return self._importance_weighted_losses(x, labels, step)
        mu, logvar = self.posterior(x, labels)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        nll = self.likelihood.nll(self.decoder_output(z, labels), x)  # (B,) -log p(x|z)
        kl = gaussian_kl(mu, logvar)  # (B,)
        loss = trimmed_mean(nll + self.kl_weight(step) * kl, self.config.trim_fraction)
        return {"loss": loss, "neg_elbo": (nll + kl).mean().detach(), "reconstruction": nll.mean().detach(), "kl": kl.mean().detach()}

    def _log_weights(self, x, labels, count: int, mu, logvar, noise=None) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x|z) and log p(z) - log q(z|x) for `count` reparameterised z per sample, each (count, B).

        `noise`, (count, latent), gives every sample the same standard normal draws instead of new ones."""
        batch, latent = mu.shape
        eps = torch.randn(count, batch, latent, device=mu.device) if noise is None else \
            noise.to(mu.device, torch.float32)[:, None, :].expand(count, batch, latent)
        z = mu + torch.exp(0.5 * logvar) * eps  # (count, B, latent)
        log_q = (-0.5 * eps.square() - 0.5 * logvar - 0.5 * LOG_2PI).sum(-1)
        log_prior = (-0.5 * z.square() - 0.5 * LOG_2PI).sum(-1)
        repeated = x.unsqueeze(0).expand(count, *x.shape).reshape(count * batch, *x.shape[1:])
        repeated_labels = labels.repeat(count) if labels is not None else None
        output = self.decoder_output(z.reshape(count * batch, latent), repeated_labels)
        log_px = -self.likelihood.nll(output, repeated).reshape(count, batch)
        return log_px, log_prior - log_q

    def _importance_weighted_losses(self, x, labels, step):
        """The IWAE bound (Burda et al. 2015): log (1/k) sum_i p(x, z_i) / q(z_i|x), k = iw_samples.

        With a KL warm-up the prior-to-posterior ratio is weighted as the KL is in the ELBO.
        """
        k = self.config.iw_samples
        mu, logvar = self.posterior(x, labels)
        log_px, log_ratio = self._log_weights(x, labels, k, mu, logvar)
        bound = torch.logsumexp(log_px + self.kl_weight(step) * log_ratio, dim=0) - math.log(k)
        return {"loss": -bound.mean(), "neg_iw_bound": -bound.mean().detach(),
                "neg_elbo": -(log_px + log_ratio).mean().detach(),  # the ELBO's estimate from the same k samples
                "reconstruction": -log_px.mean().detach(), "kl": gaussian_kl(mu, logvar).mean().detach()}

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        return self(x, y, step=self.config.kl_warmup_steps)

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, labels: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Single-sample ELBO per sample, (B,), in nats (beta = 1); `noise`, (latent,), is the standard normal
        draw every sample uses (a new one per sample without it)."""
        mu, logvar = self.posterior(x, labels)
        eps = torch.randn_like(mu) if noise is None else noise.to(mu.device, torch.float32).expand_as(mu)
        z = mu + eps * torch.exp(0.5 * logvar)
        return -(self.likelihood.nll(self.decoder_output(z, labels), x) + gaussian_kl(mu, logvar))

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 1000, labels: torch.Tensor | None = None,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) (log p(x|y) for cvae) with k samples from q, (B,), in nats.

        log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x); the samples are drawn in
        chunks so that memory stays bounded whatever k is. `noise`, (k, latent), makes every
        sample use the same k standard normal draws, so that its estimate depends on it alone.
        """
        if k < 1:
            raise GenlabError(f"k must be at least 1 (got {k})")
        if noise is not None and noise.shape != (k, self.config.latent_dim):
            raise GenlabError(f"noise must be (k, latent_dim) = ({k}, {self.config.latent_dim}); got {tuple(noise.shape)}")
        mu, logvar = self.posterior(x, labels)
        chunk = max(1, min(k, IW_VALUES_PER_CHUNK // max(1, len(x) * math.prod(x.shape[1:]))))
        log_weights = [sum(self._log_weights(x, labels, min(chunk, k - start), mu, logvar,
                                             None if noise is None else noise[start:start + chunk]))
                       for start in range(0, k, chunk)]
        return torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(k)


@dataclass
class ConditionalVAEConfig(VAEConfig):
    conditional: bool = True


@register_model("cvae")
class ConditionalVAE(VAE):
    """Class-conditional VAE: q(z|x,y) and p(x|z,y); sample(n, labels=...) draws chosen classes."""

    config_class = ConditionalVAEConfig
    requires_labels = True
