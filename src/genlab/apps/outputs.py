"""Results out: model-space values written in the data's own units, for the CLI and the API alike.

    write_samples(model, x, "samples.npy")      # uint8 for a model of 8-bit images, float32 otherwise
    write_samples(model, x, "samples.png")      # one image, or a grid of several
    write_samples(model, x, "samples/", names)  # a folder: one PNG per sample
    write_samples(model, x, "codes.npz", labels=y)
    write_samples(model, x, "clips.wav")        # a model of audio: the clips one after another

Every file appears whole or not at all (genlab.files.atomic_path); folders are created.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data.audio import write_audio
from genlab.data.columns import Columns
from genlab.data.spectrogram import Spectrogram
from genlab.errors import GenlabError
from genlab.files import atomic_path, check_output_path
from genlab.images import save_image_grid
from genlab.models.latent import to_unit_range
from genlab.models.units import to_columns, to_stored_units

SAMPLE_OUTPUTS = ("", ".png", ".npy", ".csv", ".npz", ".wav")  # "" is a folder
GRIFFIN_LIM_ITERATIONS = 100  # phase estimation for audio out (genlab.data.spectrogram)
GAP_SECONDS = 0.3  # silence between the clips of one .wav of several samples


def check_sample_output(model, output: str | Path, suffixes: Sequence[str] = SAMPLE_OUTPUTS) -> Path:
    """Refuse, before any work, an output the model's results cannot be written to."""
    path = check_output_path(output, suffixes)
    if model.config.table and path.suffix.lower() != ".csv":
        raise GenlabError(f"output '{output}': this model works on table records; write a .csv")
    if path.suffix.lower() == ".wav" and not model.config.audio:
        raise GenlabError(f"output '{output}': this model was not trained on audio; write .png, .npy, .npz or .csv")
    if path.suffix.lower() in ("", ".png") and not model.capabilities.images:
        raise GenlabError(f"output '{output}': this model works on vectors of {model.config.data_shape[0]} "
                          "features; write .npy, .npz or .csv")
    return path


def to_pixels(model, x: torch.Tensor) -> np.ndarray:
    """Model-space images -> uint8 (N, C, H, W) for PNG files."""
    return (to_unit_range(x.detach().float().cpu(), model.config.value_range) * 255).round().to(torch.uint8).numpy()


def write_samples(model, x: torch.Tensor, output: str | Path, names: Sequence[str] | None = None,
                  labels: torch.Tensor | None = None, columns: int | None = None) -> list[Path]:
    """Write model-space samples to `output`: a .npy/.csv/.npz array in data units, a .png, or a folder of PNGs."""
    output = check_sample_output(model, output)
    suffix = output.suffix.lower()
    if model.config.table:
        return [write_table(to_columns(model, x), output)]
    if suffix in (".npy", ".csv", ".npz"):
        stored = to_stored_units(model, x)
        with atomic_path(output) as scratch:
            if suffix == ".csv":
                np.savetxt(scratch, stored.reshape(len(stored), -1), delimiter=",", fmt="%.6g")
            else:
                with open(scratch, "wb") as handle:
                    if suffix == ".npz":
                        np.savez(handle, x=stored, **({} if labels is None else {"y": labels.cpu().numpy()}))
                    else:
                        np.save(handle, stored)
        return [output]
    if suffix == ".wav":
        return [write_clips(model, x, output)]
    if suffix == ".png":
        if len(x) == 1:
            return [save_png(to_pixels(model, x)[0], output)]
        return [write_grid(model, x, output, columns)]
    names = list(names) if names is not None else [f"{i:05d}" for i in range(len(x))]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise GenlabError(f"two inputs are both named '{repeated[0]}'; rename one, or write a .npy array instead of a folder")
    made = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        if model.config.audio:  # a clip per sample, to listen to
            front = Spectrogram.from_dict(model.config.audio)
            for wave, name in zip(to_waveforms(model, x), names):
                written.append(write_audio(output / f"{name}.wav", wave, front.rate))
            return written
        for image, name in zip(to_pixels(model, x), names):
            written.append(save_png(image, output / f"{name}.png"))
    except BaseException:  # a full disk half-way: no half set of images left looking complete
        for path in written:
            path.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    return written


def to_waveforms(model, x: torch.Tensor) -> np.ndarray:
    """An audio model's spectrograms (model space) -> waveforms (N, samples) at its rate, phase by Griffin-Lim."""
    decibels = torch.from_numpy(np.asarray(to_stored_units(model, x), dtype=np.float32))
    return Spectrogram.from_dict(model.config.audio).waveforms(decibels, iterations=GRIFFIN_LIM_ITERATIONS).numpy()


def clip_reel(model, x: torch.Tensor) -> tuple[np.ndarray, int]:
    """An audio model's samples as one waveform (the clips one after another, a short silence between them) and
    its rate."""
    rate = Spectrogram.from_dict(model.config.audio).rate
    gap = np.zeros(int(GAP_SECONDS * rate), dtype=np.float32)
    return np.concatenate([part for wave in to_waveforms(model, x) for part in (wave, gap)][:-1]), rate


def write_clips(model, x: torch.Tensor, output: Path) -> Path:
    """An audio model's samples as one WAV: the clips one after another, a short silence between them."""
    return write_audio(output, *clip_reel(model, x))


def write_grid(model, x: torch.Tensor, output: str | Path, columns: int | None = None) -> Path:
    """Model-space images as one PNG grid (square unless `columns` says otherwise)."""
    columns = columns or int(math.ceil(math.sqrt(len(x))))
    return save_image_grid(to_unit_range(x.detach().float().cpu(), model.config.value_range), output, columns=columns)


def save_png(image: np.ndarray, path: Path) -> Path:
    """(C, H, W) uint8 -> PNG, written atomically."""
    array = image[0] if image.shape[0] == 1 else image[:3].transpose(1, 2, 0)
    with atomic_path(path) as scratch:
        Image.fromarray(np.ascontiguousarray(array)).save(scratch, format="PNG")
    return path


def write_table(table: Columns, output: str | Path) -> Path:
    """Records as a CSV with a header row; missing values as empty cells."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(table.names)
    writer.writerows([_cell(value) for value in row] for row in table.rows())
    with atomic_path(Path(output)) as scratch:
        scratch.write_text(text.getvalue())
    return Path(output)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_codes(output: str | Path, codes: torch.Tensor, labels: torch.Tensor | None = None) -> Path:
    """Codes (N, D) as .npy, or as .npz with `codes` and, when known, `labels`."""
    output = check_output_path(output, (".npy", ".npz"))
    with atomic_path(output) as scratch, open(scratch, "wb") as handle:
        if output.suffix.lower() == ".npz":
            np.savez(handle, codes=codes.numpy(), **({} if labels is None else {"labels": labels.numpy()}))
        else:
            np.save(handle, codes.numpy())
    return output


def write_scores(output: str | Path, names: Sequence[str], scores: np.ndarray, flags: np.ndarray) -> Path:
    """A CSV of anomaly scores: name, score, anomaly (1 = above the threshold)."""
    output = check_output_path(output, (".csv",))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["name", "score", "anomaly"])
    writer.writerows(zip(names, (f"{s:.6g}" for s in scores), np.asarray(flags).astype(int).tolist()))
    with atomic_path(output) as scratch:
        scratch.write_text(text.getvalue())
    return output
