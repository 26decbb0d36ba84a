"""Audio files as waveforms: reading every common layout, refusing what is not audio, writing whole files."""

from __future__ import annotations

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile", reason="audio needs the soundfile package (pip install soundfile)")

from genlab.data.audio import fit_length, read_audio, resample, write_audio  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402


def tone(rate: int, seconds: float = 0.25, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_mono_files_read_as_written(tmp_path, rate, subtype):
    wave = tone(rate)
    soundfile.write(tmp_path / "a.wav", wave, rate, subtype=subtype)
    read, found = read_audio(tmp_path / "a.wav")
    assert found == rate and read.dtype == np.float32 and read.shape == wave.shape
    assert np.abs(read - wave).max() < (1e-4 if subtype == "PCM_16" else 1e-7)  # 16-bit steps are 3e-5


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = tone(8000, hz=300), tone(8000, hz=500)
    soundfile.write(tmp_path / "s.wav", np.stack([left, right], 1), 8000, subtype="FLOAT")
    read, _ = read_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(read, (left + right) / 2, atol=1e-7)


def test_resampling_keeps_duration_and_pitch(tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(8000, seconds=0.5, hz=440), 8000)
    read, rate = read_audio(tmp_path / "a.wav", rate=16000)
    assert rate == 16000 and len(read) == 8000
    spectrum = np.abs(np.fft.rfft(read))
    assert abs(np.argmax(spectrum) * 16000 / len(read) - 440) <= 2  # the tone is where it was
    assert len(resample(np.zeros(441, np.float32), 44100, 8000)) == 80


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"RIFF\x10\x00\x00\x00WAVEfmt garbage"])
def test_files_that_are_not_audio_are_refused_in_one_line(tmp_path, content):
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(GenlabError) as caught:
        read_audio(tmp_path / "bad.wav")
    assert "bad.wav" in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_file_and_a_bad_rate_are_refused(tmp_path):
    with pytest.raises(GenlabError, match="missing.wav"):
        read_audio(tmp_path / "missing.wav")
    soundfile.write(tmp_path / "a.wav", tone(8000), 8000)
    with pytest.raises(GenlabError, match="sample rate"):
        read_audio(tmp_path / "a.wav", rate=10)


def test_fit_length_cuts_the_end_or_pads_silence():
    wave = np.arange(1, 6, dtype=np.float32)
    assert fit_length(wave, 3).tolist() == [1, 2, 3]
    assert fit_length(wave, 7).tolist() == [1, 2, 3, 4, 5, 0, 0]


def test_written_audio_reads_back_and_bad_targets_leave_nothing(tmp_path):
    wave = tone(8000)
    write_audio(tmp_path / "out.wav", np.concatenate([wave, [3.0, -3.0]]), 8000)
    read, rate = read_audio(tmp_path / "out.wav")
    assert rate == 8000 and np.abs(read[:-2] - wave).max() < 1e-4 and read[-2] > 0.99 and read[-1] < -0.99
    for bad, rate in ((tmp_path / "out.mp3", 8000), (tmp_path / "slow.wav", 10)):
        with pytest.raises(GenlabError):
            write_audio(bad, wave, rate)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no scratch file left behind
    write_audio(tmp_path / "new" / "folder" / "out.flac", wave, 8000)  # folders are made
    assert read_audio(tmp_path / "new" / "folder" / "out.flac")[0].shape == wave.shape
