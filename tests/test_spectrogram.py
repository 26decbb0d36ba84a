"""The log-mel front end: where a tone lands, its settings' round trip, and the way back to a waveform."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.data.spectrogram import Spectrogram, hz_to_mel, mel_to_hz
from genlab.errors import GenlabError


def tones(front: Spectrogram, hz: list[float]) -> torch.Tensor:
    t = torch.arange(front.samples, dtype=torch.float64) / front.rate
    return torch.stack([torch.sin(2 * math.pi * f * t) for f in hz]).float()


def test_a_tone_lands_on_the_filter_whose_centre_is_nearest_and_full_scale_is_0_db():
    front = Spectrogram(rate=8000, samples=4000, n_fft=512, hop=128, mels=40)
    centres = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(torch.tensor(4000.0))), 42))[1:-1]
    chosen = [5, 17, 30]
    spectrograms = front(tones(front, [float(centres[i]) for i in chosen]))
    assert spectrograms.shape == (3, 1, 40, front.frames) == (3, *front.shape)
    loudest = spectrograms[:, 0, :, 5:-5].mean(-1)
    assert loudest.argmax(1).tolist() == chosen
    # a full-scale sine on a centre: about 0 dB (up to 1.8 above: the window spreads it over the filter's next bins)
    assert ((loudest.max(1).values > -0.5) & (loudest.max(1).values < 2.0)).all()
    silence = front(torch.zeros(1, front.samples))
    assert (silence == front.floor_db).all()


def test_settings_round_trip_and_bad_ones_are_refused_in_one_line():
    front = Spectrogram(rate=16000, samples=16000, n_fft=400, hop=160, mels=80, fmin=20.0, fmax=7600.0)
    assert Spectrogram.from_dict(front.to_dict()) == front
    for bad in ({"n_fft": 8}, {"hop": 0}, {"mels": 1000}, {"fmax": 9000.0}, {"floor_db": 5.0}, {"samples": 10}):
        with pytest.raises(GenlabError) as caught:
            Spectrogram(**bad)
        assert "\n" not in str(caught.value)
    with pytest.raises(GenlabError, match="not known"):
        Spectrogram.from_dict({**front.to_dict(), "window": "hamming"})
    with pytest.raises(GenlabError, match="samples"):
        front(torch.zeros(2, 100))


def test_griffin_lim_gives_a_waveform_of_the_clip_length_whose_spectrogram_matches():
    front = Spectrogram(rate=8000, samples=4000, n_fft=256, hop=64, mels=64)
    waves = tones(front, [440.0, 1200.0]) * 0.5
    spectrograms = front(waves)
    rebuilt = front.waveforms(spectrograms, iterations=32)
    assert rebuilt.shape == (2, front.samples) and rebuilt.abs().max() <= 1.0
    again = front(rebuilt)
    loud = spectrograms > -40  # where the tones are: within a few dB
    assert (again - spectrograms)[loud].abs().mean() < 3.0
    spectrum = torch.fft.rfft(rebuilt[0]).abs()
    assert abs(int(spectrum.argmax()) * front.rate / front.samples - 440.0) < 10  # its pitch kept
    noise = front.waveforms(spectrograms, iterations=0)  # a random phase alone rebuilds a worse spectrogram
    assert (front(noise) - spectrograms)[loud].abs().mean() > (again - spectrograms)[loud].abs().mean()
