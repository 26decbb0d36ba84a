"""Noise added to speech on its spectrogram, against noise added to the waveform; mel-band gains on a waveform."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.data.audio_noise import add_noise, sounding_frames
from genlab.data.spectrogram import Spectrogram

FRONT = Spectrogram(rate=8000, samples=4032, n_fft=256, hop=64, mels=48)


def speechlike(length: int, seed: int = 0) -> np.ndarray:
    """Harmonics of a gliding pitch under a syllable-like envelope: some frequencies loud, most quiet."""
    t = np.arange(length) / FRONT.rate
    pitch = 140.0 + 40.0 * t / t[-1]
    phase = 2 * np.pi * np.cumsum(pitch) / FRONT.rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.sin(np.pi * t / t[-1]) ** 2
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


@pytest.mark.parametrize("snr", [0.0, 10.0])
def test_noise_added_to_the_spectrogram_matches_noise_added_to_the_sound(snr):
    clip = speechlike(3000)  # shorter than the front end: silence pads it, as in a dataset of clips
    padded = torch.from_numpy(np.concatenate([clip, np.zeros(FRONT.samples - len(clip), np.float32)]))[None]
    clean = FRONT(padded)
    simulated = add_noise(clean.repeat(8, 1, 1, 1), FRONT, (snr, snr), generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(1)
    mixtures = []
    for _ in range(8):
        noise = rng.standard_normal(len(clip))
        noise *= math.sqrt((clip.astype(np.float64) ** 2).sum() / ((noise**2).sum() * 10 ** (snr / 10)))
        mixtures.append(np.concatenate([clip + noise, np.zeros(FRONT.samples - len(clip))]).astype(np.float32))
    real = FRONT(torch.from_numpy(np.stack(mixtures)))
    sounding = sounding_frames(clean, FRONT.floor_db)[0]
    difference = (simulated.mean(0) - real.mean(0))[..., sounding]
    assert difference.mean().abs() < 0.5 and difference.abs().mean() < 1.5  # dB, averaged over draws
    assert (real.mean(0) - clean[0])[..., sounding].mean() > 2.0  # the noise itself is far more than that
    assert (simulated[..., ~sounding] == FRONT.floor_db).all()  # the padding stays silent


def test_the_snr_range_is_respected_and_a_silent_clip_stays_silent():
    clean = FRONT(torch.from_numpy(speechlike(FRONT.samples))[None])
    quiet = add_noise(clean, FRONT, (60.0, 60.0))
    loud_parts = clean > clean.max() - 40.0
    assert (quiet - clean)[loud_parts].abs().max() < 0.5  # 60 dB below the speech: no change where it is loud
    loud = add_noise(clean, FRONT, (-10.0, -10.0))
    assert (loud - clean).mean() > 5.0
    silence = torch.full_like(clean, FRONT.floor_db)
    assert torch.equal(add_noise(silence, FRONT, (0.0, 0.0)), silence)


def test_mel_band_gains_scale_the_waveform_and_keep_its_phase():
    wave = torch.from_numpy(speechlike(FRONT.samples))[None]
    weights = FRONT.bin_weights()
    assert torch.allclose(weights.sum(0), torch.ones(weights.shape[1]))  # every frequency belongs somewhere
    same = FRONT.apply_gains(wave, torch.zeros(1, 1, FRONT.mels, FRONT.frames))
    assert (same - wave).abs().max() < 1e-5
    half = FRONT.apply_gains(wave, torch.full((1, 1, FRONT.mels, FRONT.frames), -20 * math.log10(2)))
    assert torch.allclose(half, wave / 2, atol=1e-5)  # -6 dB everywhere: half the amplitude, the same phase
