"""Denoising: a denoising autoencoder maps a corrupted input to its clean reconstruction.

The model should be a `dae` trained for the noise at hand (`model.noise` gaussian,
salt_and_pepper or masking, `model.noise_level`; for audio, white or recorded noise at
`model.snr_db`); any autoencoder or VAE is accepted, since reconstruction already removes
some noise, but one trained on that noise does far better. Audio clips come back as
audio: the model's cleaned spectrogram sets how far each mel band of the noisy sound is
turned down, and the noisy phase is kept.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from genlab.apps.inputs import clip_paths, is_audio_input, read_inputs
from genlab.apps.outputs import check_sample_output, write_samples
from genlab.data.audio import audio_info, fit_length, read_audio, write_audio
from genlab.data.corruption import VALUE_BOUNDS
from genlab.data.spectrogram import Spectrogram
from genlab.errors import GenlabError
from genlab.models.inference import run_batched
from genlab.models.units import is_raw, like_input


@torch.no_grad()
def denoise(model, noisy):
    """Noisy inputs (N, ...) -> denoised ones, clamped to the data's range.

    Model-space tensors give model-space tensors; raw data (uint8 images, arrays in the
    data's units) gives raw data in the same units.
    """
    model.require("label_free_codes", "denoise")
    model.eval()
    raw = is_raw(noisy)
    inputs = model.preprocess(noisy).cpu() if raw else noisy
    cleaned = run_batched(model.reconstruct, inputs, device=model.device).float()
    bounds = VALUE_BOUNDS.get(model.config.value_range)
    cleaned = cleaned.clamp(*bounds) if bounds else cleaned
    return like_input(noisy, model.postprocess(cleaned)) if raw else cleaned


def denoise_files(model, inputs, output: str | Path) -> int:
    """Denoise image files, folders or arrays (or, for a model of audio, clips); write the results to `output`;
    return how many."""
    check_sample_output(model, output)
    if model.config.audio and inputs and all(is_audio_input(Path(path)) for path in inputs):
        return denoise_clips(model, inputs, output)
    x, names = read_inputs(model, inputs)
    write_samples(model, denoise(model, x), output, names)
    return len(x)


@torch.no_grad()
def denoise_clip(model, wave: np.ndarray) -> np.ndarray:
    """One noisy waveform at the model's rate -> the denoised waveform, as long. The clip is cut into pieces of the
    model's length; each piece's spectrogram is denoised, and each mel band of the noisy sound is turned down by
    what the model took out of it (never up), keeping the noisy phase."""
    return turned_down(Spectrogram.from_dict(model.config.audio), wave,
                       lambda noisy: torch.from_numpy(np.asarray(denoise(model, noisy.numpy()), dtype=np.float32)))


def turned_down(front: Spectrogram, wave: np.ndarray, clean_estimate) -> np.ndarray:
    """`wave` with each mel band turned down to the level `clean_estimate` gives it: a function from the noisy
    pieces' spectrograms (P, 1, mels, frames) in dB to the clean ones."""
    waves = torch.from_numpy(pieces(wave, front.samples))
    noisy = front(waves)
    quieter = (clean_estimate(noisy) - noisy).clamp(max=0.0)
    return front.apply_gains(waves, quieter).reshape(-1)[: len(wave)].numpy()


def pieces(wave: np.ndarray, samples: int) -> np.ndarray:
    """(P, samples): the waveform cut into pieces of `samples`, the last one padded with silence."""
    count = max(1, -(-len(wave) // samples))
    return fit_length(wave, count * samples).reshape(count, samples)


def denoise_clips(model, inputs, output: str | Path) -> int:
    """Denoise audio clips (files or folders of them): one .wav for one clip, a folder of WAVs for several."""
    files = clip_paths(inputs)
    output = Path(output)
    if output.suffix.lower() not in ("", ".wav"):
        raise GenlabError(f"output '{output}': denoised clips are written as a .wav (one clip) or a folder")
    if output.suffix.lower() == ".wav" and len(files) > 1:
        raise GenlabError(f"{len(files)} clips to denoise and one output file; write them to a folder (-o FOLDER/)")
    stems = [file.stem for file in files]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise GenlabError(f"two clips are both named '{repeated[0]}'; rename one")
    targets = [output if output.suffix else output / f"{file.stem}.wav" for file in files]
    if any(target.resolve() == file.resolve() for target, file in zip(targets, files)):
        raise GenlabError(f"output '{output}' would overwrite the noisy clips; write the denoised ones elsewhere")
    for file in files:  # every input is checked before anything is written
        audio_info(file)
    rate = Spectrogram.from_dict(model.config.audio).rate
    made = not output.suffix and not output.exists()
    written: list[Path] = []
    try:
        for file, target in zip(files, targets):
            wave, _ = read_audio(file, rate)
            written.append(write_audio(target, denoise_clip(model, wave), rate))
    except BaseException:  # no half set of clips left looking complete
        for path in written:
            path.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    return len(files)
