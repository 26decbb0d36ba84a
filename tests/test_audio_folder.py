"""Audio folders as datasets: labels from subfolders or file names, the split from train/ and test/."""

from __future__ import annotations

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile", reason="audio needs the soundfile package (pip install soundfile)")

from genlab.data.audio_folder import read_audio_folder  # noqa: E402
from genlab.data.spectrogram import Spectrogram  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402

FRONT = Spectrogram(rate=8000, samples=2000, n_fft=128, hop=32, mels=32)


def clip(path, hz: float, rate: int = 8000, seconds: float = 0.2, channels: int = 1):
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * hz * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.stack([wave] * channels, 1) if channels > 1 else wave, rate)


def test_file_names_give_the_labels_and_the_pitch_shows_in_the_spectrogram(tmp_path):
    for digit, hz in ((2, 300.0), (10, 2500.0)):  # numbers sort as numbers: 2 before 10
        for index in range(3):
            clip(tmp_path / f"{digit}_george_{index}.wav", hz, rate=16000 if index == 2 else 8000)
    data = read_audio_folder(tmp_path, FRONT, label_pattern=r"^(\d+)_")
    assert data.class_names == ["2", "10"] and data.y_train.tolist() == [1, 1, 1, 0, 0, 0]  # files in name order
    assert data.x_train.shape == (6, *FRONT.shape) and data.x_train.dtype == np.float32
    loudest = data.x_train[:, 0].mean(-1).argmax(1)
    assert (loudest[data.y_train == 1] > loudest[data.y_train == 0].max()).all()  # 2,500 Hz sits above 300 Hz


def test_subfolders_give_labels_and_train_test_the_split(tmp_path):
    for split in ("train", "test"):
        for name, hz in (("hum", 200.0), ("whistle", 3000.0)):
            clip(tmp_path / split / name / "a.wav", hz, channels=2)
    data = read_audio_folder(tmp_path, FRONT)
    assert data.class_names == ["hum", "whistle"]
    assert data.y_train.tolist() == [0, 1] and data.y_test.tolist() == [0, 1] and data.x_test.shape == (2, *FRONT.shape)


@pytest.mark.parametrize("pattern, problem", [(r"^(\d+", "not a regular expression"), (r"^\d+_", "no group"),
                                              (r"^(x)_", "does not match")])
def test_a_bad_label_pattern_is_refused_in_one_line(tmp_path, pattern, problem):
    clip(tmp_path / "1_a_0.wav", 440.0)
    with pytest.raises(GenlabError, match=problem) as caught:
        read_audio_folder(tmp_path, FRONT, label_pattern=pattern)
    assert "\n" not in str(caught.value)


def test_empty_mixed_and_corrupt_folders_are_refused(tmp_path):
    with pytest.raises(GenlabError, match="no audio clips"):
        read_audio_folder(tmp_path, FRONT)
    clip(tmp_path / "loose.wav", 440.0)
    clip(tmp_path / "cls" / "a.wav", 440.0)
    with pytest.raises(GenlabError, match="both in class subfolders and beside"):
        read_audio_folder(tmp_path, FRONT)
    (tmp_path / "loose.wav").unlink()
    (tmp_path / "cls" / "b.wav").write_bytes(b"not a wav")
    with pytest.raises(GenlabError, match="b.wav"):
        read_audio_folder(tmp_path, FRONT)
