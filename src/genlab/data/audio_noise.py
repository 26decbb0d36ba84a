"""Noise added to speech, simulated on its log-mel spectrogram: what a denoising autoencoder of audio learns to undo.

A spectrogram holds no phase, so adding a noise waveform to the clip cannot be done exactly;
it is done in the short-time Fourier domain instead. The clean clip's linear magnitudes are
estimated from its mel power (genlab.data.spectrogram's pseudo-inverse); a noise spectrum is
drawn, white (complex Gaussian, the same power in every frequency bin) or cut from a recording
(its magnitudes at a random offset, with random phases); it is scaled to a signal-to-noise
ratio drawn per clip, added bin by bin (so the cross term of speech and noise is there, as in a
real mixture), and the power it adds is summed by the mel filters onto the clean mel power.
The clean clip's own mel power is kept exactly.

As in a recording, noise covers the clip up to its last frame with sound; the silence a clip
was padded with to the front end's length stays silent, as it does for a noisy clip padded for
`genlab denoise`. The signal-to-noise ratio is that of the two energies over those frames.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genlab.data.audio import read_audio
from genlab.data.limits import check_fits_in_memory
from genlab.data.spectrogram import Spectrogram
from genlab.errors import GenlabError

FLOOR_MARGIN_DB = 0.01  # model inputs mapped back to dB land a rounding error off the floor
MAX_NOISE_SECONDS = 60.0  # a recording of noise longer than this is cut: a minute has every kind of stretch


def recorded_noise(path: str | Path, front: Spectrogram) -> torch.Tensor:
    """(bins, frames) STFT magnitudes of a recording of noise at the front end's rate (its first minute)."""
    wave, _ = read_audio(path, front.rate)
    wave = torch.from_numpy(wave[: int(MAX_NOISE_SECONDS * front.rate)])
    check_fits_in_memory(3 * 8 * (len(wave) // front.hop + 1) * (front.n_fft // 2 + 1), f"{path}'s spectrum")
    if len(wave) < front.n_fft:
        raise GenlabError(f"{path}: {len(wave)} samples of noise, fewer than one analysis window ({front.n_fft}); "
                          "record more")
    magnitudes = torch.stft(wave, front.n_fft, front.hop, window=front.window(wave.device), center=True,
                            return_complex=True).abs()
    if not bool((magnitudes > 0).any()):
        raise GenlabError(f"{path}: is silent; give a recording of the noise to remove")
    return magnitudes


def sounding_frames(decibels: torch.Tensor, floor_db: float) -> torch.Tensor:
    """(B, frames) True up to each clip's last frame with any sound above the floor (a silent clip: none)."""
    sound = (decibels.squeeze(1) > floor_db + FLOOR_MARGIN_DB).any(1)  # (B, frames)
    frames = sound.shape[1]
    last = frames - 1 - sound.flip(1).float().argmax(1)  # the last frame with sound (0 when there is none)
    return (torch.arange(frames, device=decibels.device) <= last[:, None]) & sound.any(1, keepdim=True)


def add_noise(decibels: torch.Tensor, front: Spectrogram, snr_db: tuple[float, float],
              noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, mels, frames) clean spectrograms in dB -> the same clips with noise added at a signal-to-noise ratio
    drawn uniformly from `snr_db` per clip: white noise, or stretches of `noise` ((bins, frames) magnitudes from
    `recorded_noise`)."""
    batch, frames, device = decibels.shape[0], decibels.shape[-1], decibels.device
    draw = lambda *shape: torch.rand(shape, generator=generator, device=device)  # noqa: E731
    clean = front.magnitudes(decibels)  # (B, bins, frames)
    if noise is None:
        normal = lambda: torch.randn(clean.shape, generator=generator, device=device)  # noqa: E731
        spectrum = torch.complex(normal(), normal()) / math.sqrt(2.0)
    else:
        offsets = (draw(batch) * noise.shape[1]).long()
        index = (offsets[:, None] + torch.arange(frames, device=device)) % noise.shape[1]  # (B, frames), wrapping
        stretch = noise.to(device)[:, index].permute(1, 0, 2)  # (B, bins, frames)
        spectrum = torch.polar(stretch, draw(*stretch.shape) * (2 * math.pi))
    spectrum = spectrum * sounding_frames(decibels, front.floor_db)[:, None, :]
    signal_energy = clean.square().sum((1, 2))
    noise_energy = spectrum.abs().square().sum((1, 2)).clamp(min=1e-30)
    snr = snr_db[0] + (snr_db[1] - snr_db[0]) * draw(batch)
    spectrum = spectrum * torch.sqrt(signal_energy / (noise_energy * 10.0 ** (snr / 10.0)))[:, None, None]
    added = (clean + spectrum).abs().square() - clean.square()  # the noise's power and its cross term with speech
    mel = front.reference * 10.0 ** (decibels.squeeze(1) / 10.0) + front.filters().to(device) @ added
    floor = front.reference * 10.0 ** (front.floor_db / 10.0)
    return (10.0 * torch.log10(mel.clamp(min=floor) / front.reference)).unsqueeze(1).to(decibels.dtype)
