"""The denoising autoencoder: reconstruct the clean input from a corrupted copy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from genlab.data.audio_noise import add_noise, recorded_noise
from genlab.data.corruption import corrupt
from genlab.data.preprocessing import Preprocessing
from genlab.data.spectrogram import Spectrogram
from genlab.errors import GenlabError
from genlab.models.autoencoder import Autoencoder, AutoencoderConfig
from genlab.models.base import derived, register_model

DEFAULT_NOISE_LEVEL = {"gaussian": 0.3, "salt_and_pepper": 0.1, "masking": 0.3}
AUDIO_NOISES = ("white", "recorded")  # added to the sound itself: for models of audio (genlab.data.audio_noise)


@dataclass
class DenoisingConfig(AutoencoderConfig):
    noise: Literal["gaussian", "salt_and_pepper", "masking", "white", "recorded"] = "gaussian"
    # gaussian: sigma in the data's units; salt_and_pepper, masking: the fraction of values hit; none for audio noise
    noise_level: float | None = None
    # audio noise: the signal-to-noise ratios (dB) drawn from, per clip
    snr_db: list[float] = field(default_factory=lambda: [-5.0, 20.0])
    noise_file: str | None = None  # noise=recorded: a recording of the noise (WAV, FLAC or OGG)
    noise_frames: int | None = derived(None)  # its length in frames, as kept with the weights

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise in AUDIO_NOISES:
            if self.noise_level is not None:
                raise GenlabError(f"{self.noise} noise is set by its signal-to-noise ratios, model.snr_db; "
                                  "remove model.noise_level")
            if len(self.snr_db) != 2 or not -60.0 <= self.snr_db[0] <= self.snr_db[1] <= 100.0:
                raise GenlabError(f"model.snr_db must be [lowest, highest] dB within [-60, 100] (got {self.snr_db})")
            if (self.noise == "recorded") != (self.noise_file is not None):
                raise GenlabError("noise=recorded takes its noise from model.noise_file (a WAV of the noise), "
                                  "and only it does")
            return
        if self.noise_file is not None:
            raise GenlabError("model.noise_file is for noise=recorded")
        if self.noise_level is None:
            self.noise_level = DEFAULT_NOISE_LEVEL[self.noise]
        if self.noise_level < 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise GenlabError(f"model.noise_level {self.noise_level} is out of range for {self.noise} noise")


@register_model("dae")
class DenoisingAutoencoder(Autoencoder):
    """An autoencoder whose encoder sees x corrupted by Gaussian, salt-and-pepper or masking noise, or, for audio,
    by white or recorded noise added to the sound."""

    removes_noise = True

    config_class = DenoisingConfig

    def __init__(self, config: DenoisingConfig):
        super().__init__(config)
        self.front = None
        if config.noise not in AUDIO_NOISES:
            return
        if not config.audio:
            raise GenlabError(f"{config.noise} noise is added to sound: train on audio (a folder of clips, fsdd), "
                              "or choose gaussian, salt_and_pepper or masking noise")
        self.front = Spectrogram.from_dict(config.audio)
        self.to_decibels = Preprocessing.from_dict({**config.preprocessing, "binarize": False})
        if config.noise == "recorded":
            found = recorded_noise(config.noise_file, self.front) if config.noise_frames is None else None
            config.noise_frames = int(found.shape[1]) if found is not None else config.noise_frames
            # kept with the weights, so a trained model needs the recording no more
            self.register_buffer("noise_spectrum", torch.zeros(self.front.n_fft // 2 + 1, config.noise_frames))
            if found is not None:
                self.noise_spectrum.copy_(found)

    def corrupt(self, x):
        if not self.training:
            return x
        if self.front is None:
            return corrupt(x, self.config.noise, self.config.noise_level, self.config.value_range)
        noise = self.noise_spectrum if self.config.noise == "recorded" else None
        noisy = add_noise(self.to_decibels.invert(x), self.front, tuple(self.config.snr_db), noise)
        return self.to_decibels(noisy)

    def denoise(self, noisy):
        """Clean estimate of noisy inputs (B, ...)."""
        return self.reconstruct(noisy)
