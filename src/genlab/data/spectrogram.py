"""The log-mel spectrogram front end for audio, and its way back to a waveform (Griffin-Lim).

A clip of `samples` samples becomes a (1, mels, frames) "image" of decibels: a short-time Fourier
transform (Hann window of n_fft samples, a frame every `hop`, centred), its power summed by
triangular filters evenly spaced on the mel scale (HTK's formula, 2595 log10(1 + f / 700)), in dB
floored at `floor_db`. Every setting is a field of Spectrogram, saved with a model as JSON, so new
audio is transformed the same way. Everything is batched torch: no per-clip Python.

The way back has no phase: the mel power is mapped to a linear magnitude by the filters'
non-negative least-squares pseudo-inverse, and the phase is estimated by the fast Griffin-Lim
algorithm (Perraudin, Balazs and Sondergaard 2013: Griffin-Lim with momentum 0.99).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from genlab.data.audio import check_rate
from genlab.errors import GenlabError

MAX_FFT = 8192
WINDOW_SECONDS = 0.032  # an analysis window of about 32 ms: the usual one for speech
MAX_CHOSEN_SECONDS = 10.0  # a chosen clip length never exceeds this; data.audio.samples may
FRAME_MULTIPLE = 16  # chosen lengths give a frame count divisible by 16, which strided networks halve cleanly


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@dataclass(frozen=True)
class Spectrogram:
    rate: int = 8000  # Hz, the clips' sample rate
    samples: int = 8128  # each clip's length in samples (cut or padded to it): 128 frames
    n_fft: int = 256
    hop: int = 64
    mels: int = 64
    fmin: float = 0.0
    fmax: float = 0.0  # 0: half the sample rate
    floor_db: float = -100.0  # power below this (relative to a full-scale sine's) is this

    def __post_init__(self) -> None:
        check_rate(self.rate, "spectrogram rate")
        for name in ("fmin", "fmax", "floor_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GenlabError(f"spectrogram {name} must be a number (got {str(value)[:40]!r})")
        if not (isinstance(self.n_fft, int) and 16 <= self.n_fft <= MAX_FFT):
            raise GenlabError(f"spectrogram n_fft must be a whole number from 16 to {MAX_FFT} (got {self.n_fft!r})")
        if not (isinstance(self.hop, int) and 1 <= self.hop <= self.n_fft):
            raise GenlabError(f"spectrogram hop must be a whole number from 1 to n_fft {self.n_fft} (got {self.hop!r})")
        if not (isinstance(self.mels, int) and 2 <= self.mels <= self.n_fft // 2 + 1):
            raise GenlabError(f"spectrogram mels must be from 2 to n_fft/2 + 1 = {self.n_fft // 2 + 1} (got {self.mels!r})")
        if not (isinstance(self.samples, int) and self.n_fft <= self.samples <= 3600 * self.rate):
            raise GenlabError(f"spectrogram samples must be from n_fft {self.n_fft} to an hour's (got {self.samples!r})")
        if not 0.0 <= self.fmin < self.top_hz <= self.rate / 2:
            raise GenlabError(f"spectrogram needs 0 <= fmin < fmax <= rate/2 = {self.rate / 2:g} Hz "
                              f"(got fmin {self.fmin}, fmax {self.fmax})")
        if not -300.0 <= self.floor_db < 0.0:
            raise GenlabError(f"spectrogram floor_db must be in [-300, 0) (got {self.floor_db})")

    @property
    def top_hz(self) -> float:
        return self.fmax or self.rate / 2

    @property
    def frames(self) -> int:
        return self.samples // self.hop + 1  # centred frames

    @property
    def shape(self) -> tuple[int, int, int]:
        """One clip's spectrogram as model input: (1, mels, frames)."""
        return (1, self.mels, self.frames)

    @property
    def reference(self) -> float:
        """0 dB: the power of a full-scale sine in its frequency's bin (the Hann window's sum over 2, squared); a
        filter that also takes the next bins of the tone's spread reads up to about 1.8 dB more."""
        return (float(self.window().sum()) / 2) ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> Spectrogram:
        unknown = sorted(set(settings) - set(cls.__dataclass_fields__), key=str)
        if unknown:
            raise GenlabError(f"spectrogram settings {unknown} are not known; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**settings)

    def filters(self) -> torch.Tensor:
        """(mels, n_fft // 2 + 1) triangular mel filters, each peaking at 1 on its centre frequency."""
        bins = torch.linspace(0.0, self.rate / 2, self.n_fft // 2 + 1, dtype=torch.float64)
        edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(self.fmin))),
                                         float(hz_to_mel(torch.tensor(self.top_hz))), self.mels + 2, dtype=torch.float64))
        low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        return torch.clamp(torch.minimum(rising, falling), min=0.0).float()

    def window(self, device=None) -> torch.Tensor:
        return torch.hann_window(self.n_fft, device=device)

    def stft(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, samples) waveforms -> (B, n_fft // 2 + 1, frames) complex spectra."""
        return torch.stft(waves, self.n_fft, self.hop, window=self.window(waves.device), center=True,
                          return_complex=True)

    def istft(self, spectra: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectra, self.n_fft, self.hop, window=self.window(spectra.device), center=True,
                           length=self.samples)

    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, samples) waveforms in [-1, 1] -> (B, 1, mels, frames) log-mel spectrograms in dB."""
        if waves.dim() != 2 or waves.shape[1] != self.samples:
            raise GenlabError(f"the spectrogram takes clips of {self.samples} samples as (clips, samples) "
                              f"(got shape {tuple(waves.shape)})")
        power = self.stft(waves.float()).abs().square()
        mel = self.filters().to(waves.device) @ power
        return (10.0 * torch.log10(mel / self.reference)).clamp(min=self.floor_db).unsqueeze(1)

    def magnitudes(self, spectrograms: torch.Tensor) -> torch.Tensor:
        """(B, 1, mels, frames) dB -> (B, n_fft // 2 + 1, frames) linear magnitudes: the mel power mapped back by
        the filters' pseudo-inverse, negative powers set to 0."""
        mel = self.reference * 10.0 ** (spectrograms.squeeze(1).float() / 10.0)
        inverse = torch.linalg.pinv(self.filters().double()).float().to(mel.device)  # float64 where it is made only
        return (inverse @ mel).clamp(min=0.0).sqrt()

    def bin_weights(self) -> torch.Tensor:
        """(mels, n_fft // 2 + 1): each frequency bin's share in each mel filter, summing to 1 over the filters (a bin
        that no filter covers, such as 0 Hz, belongs to the nearest filter)."""
        filters = self.filters()
        bins = torch.linspace(0.0, self.rate / 2, filters.shape[1])
        edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(self.fmin))),
                                         float(hz_to_mel(torch.tensor(self.top_hz))), self.mels + 2))
        nearest = (bins[None, :] - edges[1:-1, None]).abs().argmin(0)
        filters[nearest, torch.arange(filters.shape[1])] += 1e-6
        return filters / filters.sum(0, keepdim=True)

    def apply_gains(self, waves: torch.Tensor, gains_db: torch.Tensor) -> torch.Tensor:
        """(B, samples) waveforms with each mel band of each frame scaled by (B, 1, mels, frames) gains in dB, spread
        over the band's frequency bins; the phase is the waveforms' own."""
        gains = (10.0 ** (gains_db.squeeze(1).float() / 20.0))
        spread = self.bin_weights().to(waves.device).T @ gains  # (B, bins, frames)
        return self.istft(self.stft(waves.float()) * spread)

    def waveforms(self, spectrograms: torch.Tensor, iterations: int = 64, seed: int = 0) -> torch.Tensor:
        """(B, 1, mels, frames) dB -> (B, samples) waveforms by fast Griffin-Lim from a seeded random phase."""
        magnitude = self.magnitudes(spectrograms)
        generator = torch.Generator().manual_seed(seed)
        phase = torch.rand(magnitude.shape, generator=generator).to(magnitude.device) * (2 * math.pi)
        angles = torch.polar(torch.ones_like(magnitude), phase)
        previous = torch.zeros_like(angles)
        for _ in range(iterations):
            rebuilt = self.stft(self.istft(magnitude * angles))
            estimate = rebuilt / rebuilt.abs().clamp(min=1e-12)
            angles = estimate + 0.99 * (estimate - previous)
            angles = angles / angles.abs().clamp(min=1e-12)
            previous = estimate
        return self.istft(magnitude * angles).clamp(-1.0, 1.0)


def choose_front_end(rates: list[int], seconds: list[float], settings: dict | None = None) -> Spectrogram:
    """The front end for clips of these sample rates and durations: `settings` (data.audio) as given, the rest
    chosen from the clips: their most common rate, a window of about 32 ms (a power of two) with a hop of a
    quarter of it, and a length that holds 99% of the clips whole (at most 10 s) and gives a frame count
    divisible by 16."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(Spectrogram.__dataclass_fields__), key=str)
    if unknown:
        raise GenlabError(f"data.audio settings {unknown} are not known; known: {sorted(Spectrogram.__dataclass_fields__)}")
    if "rate" not in settings:
        settings["rate"] = max(set(rates), key=rates.count)
    rate = check_rate(settings["rate"], "data.audio.rate")
    n_fft = settings.setdefault("n_fft", min(MAX_FFT, 2 ** max(4, round(math.log2(WINDOW_SECONDS * rate)))))
    hop = settings.setdefault("hop", max(1, n_fft // 4) if isinstance(n_fft, int) else 1)
    if isinstance(n_fft, int) and n_fft > 0:
        settings.setdefault("mels", min(Spectrogram.mels, n_fft // 2 + 1))
    if "samples" not in settings and isinstance(hop, int) and hop > 0:
        longest = min(float(torch.quantile(torch.tensor(seconds, dtype=torch.float64), 0.99)), MAX_CHOSEN_SECONDS)
        frames = math.ceil((longest * rate / hop + 1) / FRAME_MULTIPLE) * FRAME_MULTIPLE
        settings["samples"] = max((frames - 1) * hop, n_fft if isinstance(n_fft, int) else 0)
    return Spectrogram.from_dict(settings)


def check_front_end(settings, data_shape) -> Spectrogram | None:
    """A stored front end (a model's config.json) that makes spectrograms of `data_shape` (None for a model that is
    not of audio); a one-line error otherwise."""
    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise GenlabError("'audio' must be a mapping of front-end settings")
    front = Spectrogram.from_dict(settings)
    if tuple(front.shape) != tuple(data_shape):
        raise GenlabError(f"'audio' makes spectrograms of {'x'.join(map(str, front.shape))}, not the model's "
                          f"{'x'.join(map(str, data_shape))}")
    return front
