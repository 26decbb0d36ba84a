"""Audio files as waveforms: reading WAV, FLAC and OGG (through soundfile), mono, resampled, cut to a length.

A waveform is a float32 array of samples in [-1, 1] (integer files are scaled by their full range)
at a sample rate in Hz. soundfile (libsndfile) is imported only when audio is read or written, so
genlab without audio does not need it.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from genlab.data.limits import check_fits_in_memory
from genlab.errors import GenlabError
from genlab.files import atomic_path

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})
MAX_SECONDS = 600.0  # one clip longer than this is refused: datasets hold clips, not recording sessions
MAX_CHANNELS = 64
MIN_RATE, MAX_RATE = 1_000, 384_000


def soundfile_module():
    try:
        import soundfile  # optional (genlab[audio]): only audio needs it
    except ImportError:  # also raised when the libsndfile library itself is missing
        raise GenlabError("reading audio needs the soundfile package: pip install soundfile") from None
    return soundfile


def check_rate(rate: int, what: str = "sample rate") -> int:
    if not isinstance(rate, (int, np.integer)) or not MIN_RATE <= rate <= MAX_RATE:
        raise GenlabError(f"{what} must be a whole number of Hz from {MIN_RATE:,} to {MAX_RATE:,} (got {rate!r})")
    return int(rate)


def audio_info(path: str | Path):
    """soundfile's description of one audio file (samplerate, frames, channels), checked: a file that is not
    audio, is empty, too long, or has too many channels or an odd sample rate is refused in one line."""
    soundfile = soundfile_module()
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError) as error:  # soundfile's LibsndfileError is a RuntimeError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GenlabError(f"{path}: not an audio file that can be read ({reason}); give WAV, FLAC or OGG") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise GenlabError(f"{path}: holds no audio samples")
    if info.channels > MAX_CHANNELS:
        raise GenlabError(f"{path}: {info.channels} channels, more than the {MAX_CHANNELS} genlab reads")
    if info.frames / info.samplerate > MAX_SECONDS:
        raise GenlabError(f"{path}: {info.frames / info.samplerate:,.0f} s long, more than the {MAX_SECONDS:.0f} s "
                          "a clip may last; cut it into clips first")
    check_rate(info.samplerate, f"{path}: its sample rate")
    return info


def read_audio(path: str | Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, its sample rate) of one audio file: channels averaged, resampled to `rate`
    when one is given. A file that is not audio, is empty, too long or holds non-finite samples is refused."""
    soundfile = soundfile_module()
    path = Path(path)
    info = audio_info(path)
    check_fits_in_memory(3 * 4 * info.frames * info.channels, f"{path} decoded")  # the samples, their mix, a resampling
    try:
        samples, found_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GenlabError(f"{path}: its audio cannot be decoded ({reason})") from None
    if not np.isfinite(samples).all():
        raise GenlabError(f"{path}: holds samples that are not finite numbers")
    wave = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if rate is not None and check_rate(rate) != found_rate:
        wave = resample(wave, found_rate, rate)
    return np.ascontiguousarray(wave, dtype=np.float32), int(rate or found_rate)


def resample(wave: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """The waveform at another sample rate: polyphase filtering (scipy), exact for rational ratios."""
    from scipy.signal import resample_poly  # heavy to import, and only resampling needs it

    common = math.gcd(int(rate), int(new_rate))
    return resample_poly(wave, new_rate // common, rate // common).astype(np.float32)


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """The waveform cut to its first `length` samples, or padded with silence at the end up to them."""
    if len(wave) >= length:
        return wave[:length]
    return np.concatenate([wave, np.zeros(length - len(wave), dtype=wave.dtype)])


def playable(wave: np.ndarray) -> np.ndarray:
    """A waveform as written: flat float32, NaN as silence, clipped to [-1, 1]."""
    return np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32).reshape(-1)), -1.0, 1.0)


def wav_bytes(wave: np.ndarray, rate: int) -> bytes:
    """A mono waveform as the bytes of a 16-bit PCM WAV file (for pages that embed their audio)."""
    soundfile = soundfile_module()
    buffer = io.BytesIO()
    soundfile.write(buffer, playable(wave), check_rate(rate), subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_audio(path: str | Path, wave: np.ndarray, rate: int) -> Path:
    """Write a mono waveform as 16-bit PCM (WAV, FLAC or OGG by the suffix), samples clipped to [-1, 1]. The
    file appears whole or not at all (genlab.files.atomic_path); its folder is created."""
    soundfile = soundfile_module()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise GenlabError(f"{path}: audio is written as {', '.join(sorted(AUDIO_SUFFIXES))}; give one of those suffixes")
    wave = playable(wave)
    with atomic_path(path, size=2 * len(wave)) as scratch:
        subtype = "VORBIS" if suffix == ".ogg" else "PCM_16"
        soundfile.write(str(scratch), wave, check_rate(rate), subtype=subtype, format=suffix[1:].upper())
    return path
