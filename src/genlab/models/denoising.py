"""The denoising autoencoder: reconstruct the clean input from a corrupted copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genlab.data.corruption import corrupt
from genlab.errors import GenlabError
from genlab.models.autoencoder import Autoencoder, AutoencoderConfig
from genlab.models.base import register_model

DEFAULT_NOISE_LEVEL = {"gaussian": 0.3, "salt_and_pepper": 0.1, "masking": 0.3}


@dataclass
class DenoisingConfig(AutoencoderConfig):
    noise: Literal["gaussian", "salt_and_pepper", "masking"] = "gaussian"
    # gaussian: sigma in the data's units; salt_and_pepper, masking: the fraction of values hit
    noise_level: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise_level is None:
            self.noise_level = DEFAULT_NOISE_LEVEL[self.noise]
        if self.noise_level < 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise GenlabError(f"model.noise_level {self.noise_level} is out of range for {self.noise} noise")


@register_model("dae")
class DenoisingAutoencoder(Autoencoder):
    """An autoencoder whose encoder sees x corrupted by Gaussian, salt-and-pepper or masking noise."""

    removes_noise = True

    config_class = DenoisingConfig

    def corrupt(self, x):
        if not self.training:
            return x
        return corrupt(x, self.config.noise, self.config.noise_level, self.config.value_range)

    def denoise(self, noisy):
        """Clean estimate of noisy inputs (B, ...)."""
        return self.reconstruct(noisy)
