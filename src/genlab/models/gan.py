"""Generative adversarial networks (Goodfellow et al. 2014) on the common Trainer.

Two parameter groups play the game: the discriminator D and the generator G. Losses,
with r = D(x) and f = D(G(z)) as logits (critic values for WGAN):

    minimax          D: softplus(-r) + softplus(f)        G: -softplus(f)  = E[log(1 - D(G(z)))]
    non-saturating   D: as minimax                        G: softplus(-f)  = -E[log D(G(z))]
    least-squares    D: (r - 1)^2 / 2 + f^2 / 2           G: (f - 1)^2 / 2
    hinge            D: relu(1 - r) + relu(1 + f)         G: -f            (spectral norm in D)
    wasserstein-gp   D: f - r + lambda (|grad D(x^)| - 1)^2, n_critic D steps per G step   G: -f

Stability kit: an exponential moving average of G's weights (kept in checkpoints and
used for sampling), separate learning rates for G and D (TTUR), an optional R1 penalty
on real data, differentiable augmentation, and D's logits and every loss in float32 so
that bf16 autocast cannot overflow them. With `conditional`, G and D see class labels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from genlab.errors import GenlabError
from genlab.models.augment import DIFF_AUGMENT_POLICIES, diff_augment
from genlab.models.base import GenerativeModel, ModelConfig, register_model
from genlab.models.custom import DiscriminatorAdapter, GeneratorAdapter, build_network, check_output
from genlab.models.gan_nets import Discriminator, Generator
from genlab.models.latent import to_unit_range
from genlab.models.nets import check_widths

LOSSES = ("minimax", "non-saturating", "least-squares", "hinge", "wasserstein-gp")


@dataclass
class GANConfig(ModelConfig):
    loss: Literal["minimax", "non-saturating", "least-squares", "hinge", "wasserstein-gp"] = "non-saturating"
    latent_dim: int = 64
    width: int = 32  # base channels of the convolutional G and D (DCGAN's ngf, ndf); 32 beat 64 at equal time on MNIST
    hidden: list[int] = field(default_factory=lambda: [256, 256])  # MLP widths for vector data
    conditional: bool = False  # G and D see class labels
    # GANs set their own Adam settings (train.lr is not used). 8e-4 gave the lowest FID in a
    # fixed time on MNIST; (0.5, 0.999) are DCGAN's betas; WGAN-GP's are Gulrajani et al.'s, with
    # 4e-4 rather than their 1e-4: in 4 MNIST epochs FID 48 against 206 (their rate suits 100k+ steps).
    lr_generator: float | None = None  # None: 8e-4, or 4e-4 for wasserstein-gp
    lr_discriminator: float | None = None  # None: as lr_generator; a larger one gives TTUR
    betas: list[float] | None = None  # Adam's; None: [0.5, 0.999], or [0.0, 0.9] for wasserstein-gp and spectral norm
    n_critic: int | None = None  # D steps per G step; None: 5 for wasserstein-gp, else 1
    gp_weight: float = 10.0  # wasserstein-gp gradient penalty
    r1_weight: float = 0.0  # R1 penalty (gamma/2 |grad D(x)|^2 on real data); 0: off
    spectral_norm: bool | None = None  # None: on for hinge
    d_norm: Literal["auto", "batch", "layer", "none"] = "auto"  # auto: batch, none with spectral norm or WGAN-GP
    ema_decay: float = 0.999  # G's weight average (warmed up from a plain mean); 0 turns it off
    sample_with_ema: bool = True
    augment: list[str] = field(default_factory=list)  # DiffAugment policy, e.g. [color, translation, cutout]
    monitor_samples: int = 256  # samples the training collapse diagnostic classifies (genlab.training.monitors; 0: off)

    def __post_init__(self) -> None:
        super().__post_init__()
        wasserstein = self.loss == "wasserstein-gp"
        if self.n_critic is None:
            self.n_critic = 5 if wasserstein else 1
        if self.lr_generator is None:
            self.lr_generator = 4e-4 if wasserstein else 8e-4
        if self.lr_discriminator is None:
            self.lr_discriminator = 4e-4 if wasserstein else 8e-4
        if self.spectral_norm is None:
            self.spectral_norm = self.loss == "hinge"
        if self.betas is None:
            # With spectral norm, DCGAN's beta1 = 0.5 stalled: hinge on MNIST, 4 epochs, FID 45.5 against
            # 6.9 with (0, 0.9), the betas of the SN-GAN and WGAN-GP papers.
            self.betas = [0.0, 0.9] if wasserstein or self.spectral_norm else [0.5, 0.999]
        if self.d_norm == "auto":
            self.d_norm = "none" if self.spectral_norm or self.loss == "wasserstein-gp" else "batch"
        if self.loss == "wasserstein-gp" and self.d_norm == "batch":
            raise GenlabError("wasserstein-gp's gradient penalty is per sample; use model.d_norm=layer or none")
        if self.conditional and not self.num_classes:
            raise GenlabError("a conditional GAN needs labelled data")
        unknown = sorted(set(self.augment) - set(DIFF_AUGMENT_POLICIES))
        if unknown:
            raise GenlabError(f"model.augment: unknown transform '{unknown[0]}' (choose from {', '.join(DIFF_AUGMENT_POLICIES)})")
        if self.augment and not self.is_image:
            raise GenlabError("model.augment applies to images only")
        if self.n_critic < 1 or not 0.0 <= self.ema_decay < 1.0:
            raise GenlabError("model.n_critic must be >= 1 and model.ema_decay in [0, 1)")
        if min(self.lr_generator, self.lr_discriminator) <= 0:
            raise GenlabError("model.lr_generator and model.lr_discriminator must be positive")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise GenlabError(f"model.betas must be two numbers in [0, 1) (got {self.betas})")
        if min(self.gp_weight, self.r1_weight) < 0 or not 0 <= self.monitor_samples <= MAX_MONITOR_SAMPLES:
            raise GenlabError(f"model.gp_weight and model.r1_weight must be at least 0, and model.monitor_samples in "
                              f"0..{MAX_MONITOR_SAMPLES:,}")
        check_widths({"model.latent_dim": [self.latent_dim], "model.width": [self.width], "model.hidden": self.hidden})
        if self.is_image and min(self.data_shape[1:]) < 2:
            raise GenlabError("a GAN's convolutional networks need images of at least 2x2 pixels; give vectors (N, D) "
                              "for smaller samples")


MAX_MONITOR_SAMPLES = 10_000


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's loss from its logits on real and generated samples (gradient penalties apart)."""
    if kind in ("minimax", "non-saturating"):
        return (F.softplus(-real) + F.softplus(fake)).mean()  # -log sigmoid(r) - log(1 - sigmoid(f))
    if kind == "least-squares":
        return 0.5 * ((real - 1).square() + fake.square()).mean()
    if kind == "hinge":
        return (F.relu(1 - real) + F.relu(1 + fake)).mean()
    return (fake - real).mean()  # wasserstein


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss from D's logits on its samples."""
    if kind == "minimax":
        return -F.softplus(fake).mean()  # E[log(1 - sigmoid(f))], minimised
    if kind == "non-saturating":
        return F.softplus(-fake).mean()  # -E[log sigmoid(f)]
    if kind == "least-squares":
        return 0.5 * (fake - 1).square().mean()
    return -fake.mean()  # hinge, wasserstein


@register_model("gan")
class GAN(GenerativeModel):
    """Generator and discriminator trained adversarially; five losses, EMA, TTUR, R1, DiffAugment."""

    generates = True

    config_class = GANConfig
    prefers_bf16 = True
    image_range = "symmetric"  # tanh outputs, as in DCGAN

    def __init__(self, config: GANConfig):
        super().__init__(config)
        classes = config.num_classes if config.conditional else None
        custom = config.networks or {}
        if custom and config.conditional:
            raise GenlabError("user networks are for unconditional GANs; a conditional GAN uses genlab's own")
        if "generator" in custom:
            net = build_network(custom["generator"], "generator")
            check_output(net, "generator", torch.zeros(2, config.latent_dim), (2, *config.data_shape),
                         f"gan (latent_dim {config.latent_dim})")
            self.generator = GeneratorAdapter(net, config.value_range)
        else:
            self.generator = Generator(config.data_shape, config.latent_dim, config.width, config.hidden,
                                       config.value_range, classes)
        if "discriminator" in custom:
            net = build_network(custom["discriminator"], "discriminator")
            check_output(net, "discriminator", torch.zeros(2, *config.data_shape), (2,), "gan")
            self.discriminator = DiscriminatorAdapter(net)
        else:
            self.discriminator = Discriminator(config.data_shape, config.width, list(reversed(config.hidden)),
                                               config.d_norm, config.spectral_norm, classes)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if config.ema_decay > 0 else None
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        if config.is_image:
            self.to(memory_format=torch.channels_last)  # oneDNN's fastest layout: about 15% faster steps here

    # ---- the game ------------------------------------------------------------------

    def parameter_groups(self):
        return {"discriminator": list(self.discriminator.parameters()), "generator": list(self.generator.parameters())}

    def groups_to_update(self, step):
        if (step + 1) % self.config.n_critic == 0:
            return ("discriminator", "generator")
        return ("discriminator",)

    def optimizer_settings(self, group):
        lr = self.config.lr_discriminator if group == "discriminator" else self.config.lr_generator
        return {"betas": tuple(self.config.betas), "lr": lr}

    def forward(self, x, y=None, *, group="discriminator", step=0):
        if self.config.conditional and y is None:
            raise GenlabError("a conditional GAN needs labels for every training batch")
        labels = y if self.config.conditional else None
        z = torch.randn(len(x), self.config.latent_dim, device=x.device)
        if group == "discriminator":
            return self._discriminator_losses(x, labels, z)
        self.discriminator.requires_grad_(False)  # G's step needs gradients through D, not for it
        try:
            fake_logits = self.discriminator(self._augment(self.generator(z, labels)), labels)
        finally:
            self.discriminator.requires_grad_(True)
        loss = generator_loss(self.config.loss, fake_logits)
        return {"loss": loss, "d_fake": fake_logits.detach().mean()}

    def _discriminator_losses(self, x, labels, z):
        with torch.no_grad():
            fake = self.generator(z, labels)
        need_input_grad = self.config.r1_weight > 0
        real = x.detach().requires_grad_(need_input_grad)
        real_logits = self.discriminator(self._augment(real), labels)
        fake_logits = self.discriminator(self._augment(fake), labels)
        loss = discriminator_loss(self.config.loss, real_logits, fake_logits)
        losses = {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}
        if self.config.loss == "wasserstein-gp":
            penalty = self.gradient_penalty(x, fake, labels)
            loss = loss + self.config.gp_weight * penalty
            losses["gradient_penalty"] = penalty.detach()
        if need_input_grad:
            (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = gradient.float().square().flatten(1).sum(1).mean()
            loss = loss + 0.5 * self.config.r1_weight * r1
            losses["r1"] = r1.detach()
        return {"loss": loss, **losses}

    def gradient_penalty(self, real, fake, labels):
        """E[(|grad D(x^)| - 1)^2] at random points between real and generated samples (Gulrajani et al.)."""
        mix = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (gradient,) = torch.autograd.grad(self.discriminator(between, labels).sum(), between, create_graph=True)
        return (gradient.float().flatten(1).norm(dim=1) - 1).square().mean()

    def _augment(self, images):
        return diff_augment(images, self.config.augment) if self.config.augment else images

    @torch.no_grad()
    def after_update(self, group):
        if group != "generator" or self.generator_ema is None:
            return
        # warm-up: a plain average of the first updates, so early samples do not drag the initial weights along
        self.ema_updates += 1
        decay = min(self.config.ema_decay, (1.0 + float(self.ema_updates)) / (10.0 + float(self.ema_updates)))
        for average, current in zip(self.generator_ema.parameters(), self.generator.parameters()):
            average.lerp_(current, 1.0 - decay)
        for average, current in zip(self.generator_ema.buffers(), self.generator.buffers()):
            average.copy_(current)  # batch-norm statistics follow the live generator

    @torch.no_grad()
    def validation_metrics(self, x, y=None):
        labels = y if self.config.conditional else None
        z = torch.randn(len(x), self.config.latent_dim, device=x.device)
        real_logits = self.discriminator(x, labels)
        fake_logits = self.discriminator(self.generator(z, labels), labels)
        return {"d_loss": discriminator_loss(self.config.loss, real_logits, fake_logits),
                "g_loss": generator_loss(self.config.loss, fake_logits),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    # ---- generation ----------------------------------------------------------------

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None):
        """`count` new samples (count, *data_shape); `labels` (count,) picks classes when conditional."""
        count = self.check_sample_count(count)
        device = generator.device if generator is not None else self.device
        z = torch.randn(count, self.config.latent_dim, generator=generator, device=device).to(self.device)
        return self.decode(z, self.sample_labels(count, generator, labels))

    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples for given latent codes z (B, latent_dim), from the EMA generator when it samples."""
        labels = self.sample_labels(len(z), labels=labels)
        net = self.generator_ema if self.config.sample_with_ema and self.generator_ema is not None else self.generator
        was_training = net.training
        net.eval()
        try:
            return net(z.to(self.device), labels)
        finally:
            net.train(was_training)

    @torch.no_grad()
    def preview(self, x, y, count, generator=None):
        if not self.config.is_image or self.config.value_range == "real":
            return {}
        labels = torch.arange(count, device=self.device) % self.config.num_classes if self.config.conditional else None
        return {"samples": to_unit_range(self.sample(count, generator, labels).float(), self.config.value_range)}


@dataclass
class ConditionalGANConfig(GANConfig):
    conditional: bool = True


@register_model("cgan")
class ConditionalGAN(GAN):
    """A GAN whose generator and discriminator are conditioned on the class label."""

    config_class = ConditionalGANConfig
    requires_labels = True
