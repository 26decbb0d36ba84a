"""A folder of audio clips as a dataset of log-mel spectrograms, labels from subfolders or from file names.

Labels come from class subfolders (as for image folders), or from each file's name by a regular
expression (`label_pattern`, its first group or the group named `label`): the Free Spoken Digit
Dataset names its clips `{digit}_{speaker}_{index}.wav`, so `^(\\d+)_` labels them by digit.
`train/` and `test/` subfolders give the split. Every clip is read as mono at the front end's
sample rate, cut or padded to its length, and transformed in batches (genlab.data.spectrogram).
The front end's settings not given (data.audio) are chosen from the training clips' rates and
durations (genlab.data.spectrogram.choose_front_end).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import torch

from genlab.data.audio import AUDIO_SUFFIXES, audio_info, fit_length, read_audio
from genlab.data.limits import MAX_CLASSES, check_fits_in_memory
from genlab.data.readers import IMAGE_SUFFIXES, RawArrays
from genlab.data.spectrogram import Spectrogram, choose_front_end
from genlab.errors import GenlabError
from genlab.settings import shown

BATCH = 256  # clips per batch of the front end


def visible_files(root: Path, suffixes) -> list[Path]:
    """The files under `root` with one of these suffixes, outside hidden folders, in a fixed order."""
    try:
        return sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(root).parts))
    except OSError as error:
        raise GenlabError(f"{root}: cannot be read ({error.strerror or error})") from None


def audio_files(root: Path) -> list[Path]:
    """The audio files under `root`, its class subfolders included, in a fixed order."""
    return visible_files(root, AUDIO_SUFFIXES)


def pattern_labels(files: list[Path], pattern: str, classes: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Each file's label from its name by `pattern`: (labels, class names sorted, numerically when all are numbers)."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise GenlabError(f"data.label_pattern {pattern!r} is not a regular expression ({error})") from None
    if compiled.groups == 0:
        raise GenlabError(f"data.label_pattern {pattern!r} has no group: put the label in parentheses, e.g. ^(\\d+)_")
    found = []
    for file in files:
        match = compiled.search(file.name)
        if match is None:
            raise GenlabError(f"{file.name}: does not match data.label_pattern {pattern!r}")
        label = match.group("label") if "label" in compiled.groupindex else match.group(1)
        if label is None:
            raise GenlabError(f"{file.name}: data.label_pattern {pattern!r} matches it without its label group")
        found.append(label)
    if classes is None:
        names = sorted(set(found))
        classes = sorted(names, key=int) if all(name.isdecimal() for name in names) else names
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise GenlabError(f"labels {shown(unknown[:5])} are not among the training clips' labels")
    if len(classes) > MAX_CLASSES:
        raise GenlabError(f"{len(classes):,} labels, more than the {MAX_CLASSES:,} classes genlab takes")
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[name] for name in found], dtype=np.int64), classes


def folder_labels(root: Path, files: list[Path], classes: list[str] | None) -> tuple[np.ndarray | None, list[str] | None]:
    """Labels from class subfolders (None when the clips lie directly in `root`)."""
    parents = [file.relative_to(root).parts[0] if len(file.relative_to(root).parts) > 1 else None for file in files]
    if all(parent is None for parent in parents):
        return None, classes
    if any(parent is None for parent in parents):
        raise GenlabError(f"{root}: holds clips both in class subfolders and beside them; move them into subfolders")
    classes = classes or sorted(set(parents))
    if len(classes) > MAX_CLASSES:
        raise GenlabError(f"{root}: {len(classes):,} class folders, more than the {MAX_CLASSES:,} classes genlab takes")
    unknown = sorted(set(parents) - set(classes))
    if unknown:
        raise GenlabError(f"{root}: classes {shown(unknown[:5])} are not in the training folder")
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[name] for name in parents], dtype=np.int64), classes


def spectrograms(files: list[Path], front: Spectrogram) -> np.ndarray:
    """(N, 1, mels, frames) float32 log-mel spectrograms of the clips."""
    bins = front.n_fft // 2 + 1
    transform = min(BATCH, len(files)) * front.frames * (3 * 8 * bins + 4 * front.mels)  # a batch's spectra, complex
    check_fits_in_memory(len(files) * (front.samples + front.mels * front.frames) * 4 + transform,
                         f"{len(files):,} clips and their transform")
    out = np.empty((len(files), *front.shape), dtype=np.float32)
    for start in range(0, len(files), BATCH):
        chunk = files[start:start + BATCH]
        waves = np.stack([fit_length(read_audio(file, front.rate)[0], front.samples) for file in chunk])
        out[start:start + len(chunk)] = front(torch.from_numpy(waves)).numpy()
    return out


def holds_audio(path: Path) -> bool:
    """Whether a folder holds audio clips (it is then read as audio, not as images); one that holds images as
    well is refused rather than read as either."""
    suffixes = {p.suffix.lower() for p in visible_files(path, AUDIO_SUFFIXES | IMAGE_SUFFIXES)}
    if not suffixes & AUDIO_SUFFIXES:
        return False
    if suffixes & IMAGE_SUFFIXES:
        raise GenlabError(f"{path}: holds both audio clips and images; keep one kind of data in a folder")
    return True


def clip_files(root: Path) -> list[Path]:
    files = audio_files(root)
    if not files:
        raise GenlabError(f"{root}: no audio clips found (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
    return files


def fitted_front_end(files: list[Path], front: Spectrogram | dict | None) -> Spectrogram:
    """`front` itself, or one chosen for these clips with the settings `front` gives."""
    if isinstance(front, Spectrogram):
        return front
    if front and {"rate", "samples"} <= set(front):  # nothing left to learn from the clips
        return choose_front_end([], [], front)
    infos = [audio_info(file) for file in files]
    return choose_front_end([info.samplerate for info in infos], [info.frames / info.samplerate for info in infos], front)


def read_labelled_clips(root: Path, front: Spectrogram, label_pattern: str | None, classes: list[str] | None,
                        files: list[Path]):
    labels, classes = (pattern_labels(files, label_pattern, classes) if label_pattern
                       else folder_labels(root, files, classes))
    return spectrograms(files, front), labels, classes


def clips_sha256(root: Path, files: list[Path], front: Spectrogram) -> str:
    """SHA-256 of the clips' names (within `root`) and bytes, and of the front end that read them."""
    digest = hashlib.sha256(json.dumps(front.to_dict(), sort_keys=True).encode())
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest() if hasattr(hashlib, "file_digest")
                          else hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def read_listed_clips(files: list[Path], labels: np.ndarray, test: np.ndarray, front: Spectrogram | dict | None) -> RawArrays:
    """Clips listed with their labels and which of them are test clips (a named set of clips) as spectrograms."""
    front = fitted_front_end(files, front)
    x = spectrograms(files, front)
    return RawArrays(x[~test], labels[~test], x[test], labels[test], audio=front.to_dict(),
                     source_sha256=clips_sha256(files[0].parent, files, front))


def read_audio_folder(path: Path, front: Spectrogram | dict | None = None, label_pattern: str | None = None) -> RawArrays:
    """A folder of clips as spectrograms; `train/` and `test/` subfolders give the split. `front` is the front end,
    or the settings to keep (data.audio) while the rest are chosen from the training clips."""
    split = (path / "train").is_dir() and (path / "test").is_dir()
    files = clip_files(path / "train" if split else path)
    front = fitted_front_end(files, front)
    x_train, y_train, classes = read_labelled_clips(path / "train" if split else path, front, label_pattern, None, files)
    if not split:
        return RawArrays(x_train, y_train, class_names=classes, audio=front.to_dict(),
                         source_sha256=clips_sha256(path, files, front))
    test_files = clip_files(path / "test")
    x_test, y_test, _ = read_labelled_clips(path / "test", front, label_pattern, classes, test_files)
    if (y_train is None) != (y_test is None):
        raise GenlabError(f"{path}: train/ and test/ must both hold class subfolders, or both hold the clips directly")
    return RawArrays(x_train, y_train, x_test, y_test, classes, audio=front.to_dict(),
                     source_sha256=clips_sha256(path, files + test_files, front))
