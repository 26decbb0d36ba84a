"""Models of audio end to end: a folder of clips in, a model trained on their spectrograms, clips out as WAV."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import yaml

soundfile = pytest.importorskip("soundfile", reason="audio needs the soundfile package (pip install soundfile)")

from conftest import QUICK  # noqa: E402

from genlab.data.spectrogram import Spectrogram, choose_front_end  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402

RATE = 8000
SMALL_FRONT = ["--set", "data.audio={n_fft: 128, hop: 32, mels: 32}"]  # the rate and length are chosen from the clips
PITCH = {"low": 300.0, "high": 2400.0}


def tone(hz: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # no click at either end
    return (0.5 * np.sin(2 * np.pi * hz * (1 + 0.02 * rng.standard_normal()) * t) * fade).astype(np.float32)


@pytest.fixture
def clips(tmp_path):
    """A folder of 48 short tones named `{pitch}_{take}.wav`: low (300 Hz) and high (2,400 Hz)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for take in range(24):
        for name, hz in PITCH.items():
            soundfile.write(folder / f"{name}_{take}.wav", tone(hz, 0.2 + 0.02 * (take % 5), rng), RATE)
    return folder


def peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spectrum) * RATE / len(wave))


def train(cli, tmp_path, model: str, clips, *extra: str, epochs: int = 30):
    run = tmp_path / f"run-{model}"
    settings = [a for s in QUICK for a in ("--set", s)] + ["--set", "train.batch_size=16"]
    code, _, err = cli("train", model, "--data", clips, "--epochs", str(epochs), "--run-dir", run, "-q",
                       "--set", r"data.label_pattern=^([a-z]+)_", "--set", "data.val_fraction=0.1",
                       "--set", "data.test_fraction=0.25", *SMALL_FRONT, *settings, *extra)
    assert code == 0, err
    return run


def test_the_front_end_is_chosen_from_the_clips_and_keeps_what_is_given():
    speech = choose_front_end([8000] * 99 + [16000], [0.3] * 90 + [0.92] * 10)
    assert (speech.rate, speech.n_fft, speech.hop) == (8000, 256, 64)  # 32 ms window, a quarter of it a hop
    assert speech.frames % 16 == 0 and 0.92 * 8000 <= speech.samples < 0.92 * 8000 + 16 * 64
    wide = choose_front_end([16000, 16000], [1.0, 1.0], {"mels": 80, "floor_db": -80.0})
    assert (wide.n_fft, wide.hop, wide.mels, wide.floor_db) == (512, 128, 80, -80.0) and wide.samples >= 16000
    assert choose_front_end([], [], wide.to_dict()) == wide  # a recorded front end needs no clips
    for bad in ({"window": "hamming"}, {"rate": 10}):
        with pytest.raises(GenlabError) as caught:
            choose_front_end([8000], [1.0], bad)
        assert "\n" not in str(caught.value)


def test_a_cvae_on_a_folder_of_clips_records_its_front_end_and_samples_each_class_as_wav(cli, tmp_path, clips):
    # one latent dimension: with more, the codes carry the pitch themselves and the label is ignored
    run = train(cli, tmp_path, "cvae", clips, "--set", "model.latent_dim=1", epochs=40)
    recorded = yaml.safe_load((run / "config.yaml").read_text())["data"]["audio"]
    model_config = json.loads((run / "model" / "config.json").read_text())["config"]
    front = Spectrogram.from_dict(recorded)
    assert model_config["audio"] == recorded and tuple(model_config["data_shape"]) == front.shape
    assert (front.rate, front.n_fft, front.mels) == (RATE, 128, 32)  # as set, and the rate the clips have
    assert front.samples >= 0.28 * RATE  # the longest clips fit whole
    for name, hz in PITCH.items():
        code, out, err = cli("sample", run, "--class", name, "-n", "3", "-o", tmp_path / f"{name}.wav")
        assert code == 0, err
        wave, rate = soundfile.read(tmp_path / f"{name}.wav")
        gap = int(0.3 * rate)
        assert rate == RATE and len(wave) == 3 * front.samples + 2 * gap
        first = wave[: int(0.2 * rate)]
        assert abs(peak_hz(first) - hz) < 0.2 * hz, (name, peak_hz(first))  # the class asked for, by its pitch


def test_an_autoencoder_reconstructs_and_interpolates_clips_given_as_files(cli, tmp_path, clips):
    run = train(cli, tmp_path, "vae", clips, "--set", "model.latent_dim=4")
    code, out, err = cli("reconstruct", run, clips / "high_3.wav", "-o", tmp_path / "out.wav")
    assert code == 0, err
    wave, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == RATE and abs(peak_hz(wave[: int(0.2 * rate)]) - PITCH["high"]) < 0.2 * PITCH["high"]
    code, out, err = cli("latent", run, clips / "low_0.wav", clips / "high_0.wav", "--plot", "interpolate",
                         "--steps", "4", "-o", tmp_path / "morph.wav")
    assert code == 0, err
    morph, _ = soundfile.read(tmp_path / "morph.wav")
    length = (len(morph) - 3 * int(0.3 * RATE)) // 4
    ends = [morph[: int(0.2 * RATE)], morph[3 * (length + int(0.3 * RATE)):][: int(0.2 * RATE)]]
    assert peak_hz(ends[0]) < 1000 < peak_hz(ends[1])  # from the low tone to the high one
    spectrograms = tmp_path / "spectrograms.npy"
    assert cli("reconstruct", run, "-n", "4", "-o", spectrograms)[0] == 0
    decibels = np.load(spectrograms)
    assert decibels.dtype == np.float32 and -100.0 <= decibels.min() and decibels.max() <= 10.0  # in dB, not bytes
    # the report embeds clips to play: samples, then test clips beside their reconstructions
    assert cli("report", run, "-o", tmp_path / "report.html")[0] == 0
    page = (tmp_path / "report.html").read_text()
    clips_in_page = re.findall(r"<audio controls src='data:audio/wav;base64,([^']+)'>", page)
    assert "<h2>Listen</h2>" in page and len(clips_in_page) == 6 + 2 * 4 and "http" not in page.split("<h2>Listen")[1][:5000]
    wave, rate = soundfile.read(io.BytesIO(base64.b64decode(clips_in_page[0])))
    assert rate == RATE and len(wave) == Spectrogram.from_dict(yaml.safe_load((run / "config.yaml").read_text())["data"]["audio"]).samples


def test_the_explorer_sends_clips_to_play_for_a_model_of_audio(tmp_path, clips):
    pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
    from fastapi.testclient import TestClient

    import genlab
    from genlab.serve.app import create_app

    genlab.train("vae", str(clips), epochs=2, run_dir=tmp_path / "run", progress=False,
                 overrides=[*QUICK, "data.audio={n_fft: 128, hop: 32, mels: 32}", "data.label_pattern=^([a-z]+)_"])
    client = TestClient(create_app(tmp_path / "run"))
    assert client.get("/api/info").json()["audio_rate"] == RATE
    sampled = client.post("/api/sample", json={"count": 10, "seed": 1}).json()
    assert sampled["image"].startswith("data:image/png") and len(sampled["audio"]) == 8  # at most 8 clips
    wave, rate = soundfile.read(io.BytesIO(base64.b64decode(sampled["audio"][0].split(",", 1)[1])))
    assert rate == RATE and len(wave) > 0.2 * RATE
    morph = client.post("/api/interpolate", json={"first": 0, "second": 1, "steps": 3}).json()
    assert len(morph["audio"]) == 1 and client.get("/api/example/0").json()["audio"][0].startswith("data:audio/wav")


def test_audio_settings_on_other_data_and_a_broken_clip_are_refused_in_one_line(cli, tmp_path, clips):
    code, _, err = cli("train", "ae", "--data", "digits", "--epochs", "1", "-q", "--set", "data.label_pattern=^(a)")
    assert code != 0 and "audio folders" in err and len(err.strip().splitlines()) == 1
    (clips / "high_99.wav").write_bytes(b"RIFF but not really a wave file")
    run = tmp_path / "broken"
    code, _, err = cli("train", "ae", "--data", clips, "--epochs", "1", "--run-dir", run, "-q")
    assert code != 0 and "high_99.wav" in err and len(err.strip().splitlines()) == 1
    assert not run.exists()
    digits = tmp_path / "digits"
    assert cli("train", "ae", "--data", "digits", "--epochs", "1", "--run-dir", digits, "-q")[0] == 0
    code, _, err = cli("sample", digits, "-o", tmp_path / "x.wav")
    assert code != 0 and "not trained on audio" in err and not (tmp_path / "x.wav").exists()


def test_fsdd_is_fetched_from_a_mirror_folder_checked_and_split_by_take(cli):
    from conftest import SHARED_DATASETS

    mirror = SHARED_DATASETS / "fsdd"
    if not (mirror / "recordings" / "0_george_0.wav").is_file():
        pytest.skip(f"the Free Spoken Digit Dataset is not in {SHARED_DATASETS} (set GENLAB_SHARED_DATASETS to a copy)")
    from genlab.data import load_dataset

    code, out, err = cli("data", "fetch", "fsdd", "--mirror", mirror)
    assert code == 0 and "3000 files verified" in out, err
    data = load_dataset("fsdd")
    assert data.shape == (1, 64, 128) and data.class_names == [str(d) for d in range(10)]
    assert len(data.test) == 300 and len(data.train) + len(data.val) == 2700 and data.test_split == "published"
    assert data.audio == Spectrogram().to_dict()  # the default front end: 8 kHz, 1.016 s, 64 mels
    assert (data.test.y.bincount() == 30).all()  # five takes of each digit by each of six speakers


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB."""
    target = reference * (estimate @ reference) / (reference @ reference)
    return float(10 * np.log10((target @ target) / ((estimate - target) @ (estimate - target))))


def test_a_dae_trained_on_white_noise_denoises_a_noisy_clip_keeping_its_length_and_rate(cli, tmp_path, clips):
    run = train(cli, tmp_path, "dae", clips, "--set", "model.noise=white", "--set", "model.snr_db=[-5,10]",
                "--set", "model.latent_dim=16", epochs=40)
    rng = np.random.default_rng(1)
    clean = tone(PITCH["low"], 0.23, rng)
    noise = rng.standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt((clean @ clean) / (noise @ noise))  # 0 dB
    soundfile.write(tmp_path / "noisy.wav", clean + noise, RATE, subtype="FLOAT")
    code, out, err = cli("denoise", run, tmp_path / "noisy.wav", "-o", tmp_path / "clean.wav")
    assert code == 0, err
    denoised, rate = soundfile.read(tmp_path / "clean.wav")
    assert rate == RATE and len(denoised) == len(clean)
    assert si_sdr(denoised, clean) > si_sdr(clean + noise, clean) + 3.0  # the model took noise out, not the tone
    code, _, err = cli("denoise", run, tmp_path / "noisy.wav", clips / "low_1.wav", "-o", tmp_path / "one.wav")
    assert code != 0 and "folder" in err and not (tmp_path / "one.wav").exists()
    code, _, err = cli("train", "dae", "--data", "digits", "--epochs", "1", "-q", "--set", "model.noise=white")
    assert code != 0 and "train on audio" in err


def test_recorded_noise_is_kept_with_the_model_which_then_needs_the_recording_no_more(cli, tmp_path, clips):
    hum = tmp_path / "hum.wav"
    t = np.arange(RATE) / RATE
    soundfile.write(hum, 0.3 * np.sin(2 * np.pi * 150.0 * t) + 0.05 * np.random.default_rng(2).standard_normal(RATE), RATE)
    run = train(cli, tmp_path, "dae", clips, "--set", "model.noise=recorded", "--set", f"model.noise_file={hum}",
                epochs=2)
    hum.unlink()
    import genlab

    model = genlab.load(run)
    assert model.noise_spectrum.shape[1] == model.config.noise_frames > 100 and model.noise_spectrum.max() > 0
    code, _, err = cli("denoise", run, clips / "high_2.wav", "-o", tmp_path / "out" / "high_2.wav")
    assert code == 0 and (tmp_path / "out" / "high_2.wav").is_file(), err
    code, _, err = cli("train", "dae", "--data", clips, "--epochs", "1", "-q", "--set", "model.noise=recorded")
    assert code != 0 and "noise_file" in err


def test_the_anomaly_detector_fits_on_clips_and_scores_a_sound_unlike_them_higher(cli, tmp_path, clips):
    noise = tmp_path / "noise.wav"
    soundfile.write(noise, 0.3 * np.random.default_rng(3).standard_normal(int(0.22 * RATE)), RATE)
    run = tmp_path / "detector"
    code, _, err = cli("detect", "fit", "--data", clips, "--run-dir", run, "--epochs", "20", "-q", *SMALL_FRONT)
    assert code == 0, err
    code, _, err = cli("detect", "score", run, clips / "low_5.wav", clips / "high_5.wav", noise, "-o", tmp_path / "s.csv")
    assert code == 0, err
    rows = (tmp_path / "s.csv").read_text().splitlines()[1:]
    scores = {row.split(",")[0]: float(row.split(",")[1]) for row in rows}
    assert scores["noise"] > max(scores["low_5"], scores["high_5"]) and rows[2].endswith(",1")  # flagged, tones not
