"""The genlab command: a full run directory, the inference commands, and bad input."""

import subprocess

import numpy as np
import pytest
import yaml
from conftest import PYTHON, QUICK, subprocess_env
from PIL import Image

QUICK_SET = [arg for setting in QUICK for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One small VAE run shared by the read-only tests of this module."""
    from genlab.cli import main

    run = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "vae", "--data", "digits", "--epochs", "2", "--run-dir", str(run), "--quiet", *QUICK_SET]) == 0
    return run


def test_train_writes_the_whole_run_directory(trained_run):
    names = {p.relative_to(trained_run).as_posix() for p in trained_run.rglob("*") if p.is_file()}
    assert {"config.yaml", "model/config.json", "model/model.safetensors", "checkpoints/last.pt", "metrics.jsonl",
            "samples/epoch_002_samples.png", "samples/epoch_002_reconstructions.png", "curves.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["likelihood"] == "bernoulli"  # "auto" is written out resolved
    assert config["train"]["batch_size"] == 64


def test_config_yaml_reruns_the_same_training(trained_run, tmp_path, cli):
    code, _, err = cli("train", "--config", trained_run / "config.yaml", "--run-dir", tmp_path / "again", "--quiet")
    assert code == 0, err
    assert (tmp_path / "again" / "config.yaml").read_text() == (trained_run / "config.yaml").read_text()
    first = (trained_run / "model" / "model.safetensors").read_bytes()
    assert (tmp_path / "again" / "model" / "model.safetensors").read_bytes() == first


def test_sample_reconstruct_encode_info(trained_run, tmp_path, cli):
    code, out, _ = cli("sample", trained_run, "-n", "9", "-o", tmp_path / "s.png")
    assert code == 0 and "wrote 9 samples" in out
    assert Image.open(tmp_path / "s.png").size[0] > 3 * 28

    assert cli("sample", trained_run, "-n", "5", "-o", tmp_path / "s.npy")[0] == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (5, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1  # digits are stored in [0, 1]

    code, out, _ = cli("reconstruct", trained_run, "--data", "digits", "-n", "8", "-o", tmp_path / "r.png")
    assert code == 0 and "mean squared error" in out

    code, out, _ = cli("encode", trained_run, "--data", "digits", "--split", "val", "-o", tmp_path / "c.npz")
    assert code == 0
    codes = np.load(tmp_path / "c.npz")
    assert codes["codes"].shape[1] == 32 and len(codes["codes"]) == len(codes["labels"])

    code, out, _ = cli("info", trained_run)
    assert code == 0 and "vae" in out and "neg_elbo" in out and "finished" in out
    code, out, _ = cli("info", trained_run, "--json")
    assert '"epochs_done": 2' in out


def test_python_api_matches_the_readme(tmp_path):
    import genlab

    model = genlab.train("vae", data="digits", epochs=1, run_dir=tmp_path / "r", progress=False)
    assert model.sample(16).shape == (16, 1, 8, 8)
    loaded = genlab.load(tmp_path / "r")
    x = model.sample(3)
    assert np.allclose(loaded.encode(x).detach().numpy(), model.encode(x).detach().numpy())


def vectors_with_nan(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 4))
    x[7, 2] = np.nan
    np.save(tmp_path / "nan.npy", x)
    return tmp_path / "nan.npy"


def damaged_weights(run, tmp_path):
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(run, copy)
    weights = copy / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return copy


def wrong_shape_data(tmp_path):
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).random((20, 1, 9, 9)).astype(np.float32))
    return tmp_path / "wide.npy"


BAD_INPUT = {
    "unknown dataset": (lambda run, tmp: ["train", "vae", "--data", "mnsit"], "unknown dataset 'mnsit'"),
    "unknown model": (lambda run, tmp: ["train", "vea", "--data", "digits"], "unknown model 'vea'"),
    "unknown config key": (lambda run, tmp: ["train", "vae", "--set", "train.lrr=0.1"], "did you mean 'train.lr'"),
    "NaN in data": (lambda run, tmp: ["train", "ae", "--data", vectors_with_nan(tmp)], "NaN or infinite (first in sample 7)"),
    "wrong shapes": (lambda run, tmp: ["reconstruct", run, "--data", wrong_shape_data(tmp), "-o", tmp / "o.png"],
                     "shape 1x9x9 but the model was trained on 1x8x8"),
    "corrupt weights": (lambda run, tmp: ["sample", damaged_weights(run, tmp), "-o", tmp / "o.png"], "damaged or truncated"),
    "missing run directory": (lambda run, tmp: ["sample", tmp / "no-such-run", "-o", tmp / "o.png"], "not found"),
    "bad output type": (lambda run, tmp: ["sample", run, "-o", tmp / "o.jpg"], "must end in (a folder), .png, .npy, .csv"),
    "existing run directory": (lambda run, tmp: ["train", "vae", "--run-dir", run], "already exists"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, trained_run, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args, message = BAD_INPUT[case]
    argv = args(trained_run, tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    run_before = {p: p.stat().st_mtime_ns for p in trained_run.rglob("*")}
    code, out, err = cli(*argv)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert {p for p in tmp_path.rglob("*")} == before, "a file was left behind"
    assert {p: p.stat().st_mtime_ns for p in trained_run.rglob("*")} == run_before


def test_exit_code_from_a_real_process(tmp_path):
    result = subprocess.run([PYTHON, "-m", "genlab", "train", "vae", "--data", "nowhere"], cwd=tmp_path,
                            env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown dataset 'nowhere'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_lists_every_command(cli, capsys):
    with pytest.raises(SystemExit):
        cli("--help")
    text = capsys.readouterr().out
    for command in ("train", "sample", "reconstruct", "encode", "eval", "info", "models", "data"):
        assert command in text


def test_models_lists_each_setting_with_its_default_and_help(cli):
    code, out, _ = cli("models", "gan")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  model.")}
    assert "default 'non-saturating'" in lines["model.loss"]
    assert "wasserstein-gp" in lines["model.lr_generator"].split("#", 1)[1]  # the field's comment is its help
    assert "#" not in lines["model.sample_with_ema"]  # no comment, no help: nothing borrowed from a neighbour


@pytest.fixture(scope="module")
def byte_image_run(tmp_path_factory):
    """An autoencoder trained on a folder of 8-bit PNGs: its data's units are bytes."""
    from genlab.cli import main

    folder = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for i in range(64):
        image = np.zeros((8, 8), dtype=np.uint8)
        image[rng.integers(0, 8), :] = 255  # one bright row per image
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    run = tmp_path_factory.mktemp("runs") / "ae-bytes"
    settings = ["--set", "train.batch_size=16", "--set", "train.tensorboard=false", "--set", "train.preview_samples=0"]
    assert main(["train", "ae", "--data", str(folder), "--epochs", "1", "--run-dir", str(run), "-q", *settings]) == 0
    return run, folder


def test_one_writer_keeps_8bit_images_8bit_from_the_cli_and_the_api(byte_image_run, tmp_path, cli):
    import genlab
    from genlab.apps.outputs import write_samples

    run, folder = byte_image_run
    assert cli("sample", run, "-n", "4", "-o", tmp_path / "s.npy")[0] == 0
    assert cli("denoise", run, folder, "-o", tmp_path / "d.npy")[0] == 0
    assert cli("reconstruct", run, "-n", "4", "-o", tmp_path / "r.npy")[0] == 0  # the run's own data by default
    model = genlab.load(run)
    write_samples(model, model.sample(4), tmp_path / "api.npy")
    for name in ("s", "d", "r", "api"):
        assert np.load(tmp_path / f"{name}.npy").dtype == np.uint8, name
    assert np.load(tmp_path / "d.npy").shape == (64, 1, 8, 8)


def test_commands_share_flags_and_create_output_folders(trained_run, tmp_path, cli):
    deep = tmp_path / "new" / "folder" / "s.npy"
    code, _, err = cli("sample", trained_run, "--num-samples", "6", "--seed", "3", "--device", "cpu", "-o", deep)
    assert code == 0, err
    again = tmp_path / "again.npy"
    assert cli("sample", trained_run, "-n", "6", "--seed", "3", "-o", again)[0] == 0
    assert np.array_equal(np.load(deep), np.load(again))  # the seed decides the samples
    code, _, err = cli("sample", trained_run, "--device", "cuda:7", "-o", tmp_path / "x.npy")
    assert code == 2 and err.count("\n") == 1 and "device" in err and not (tmp_path / "x.npy").exists()
    code, _, err = cli("reconstruct", trained_run, "-o", tmp_path / "r.png")  # --data defaults to the run's own
    assert code == 0, err
    code, _, err = cli("latent", trained_run, "--plot", "scatter", "-n", "50", "-o", tmp_path / "maps" / "m.png")
    assert code == 0 and (tmp_path / "maps" / "m.png").is_file(), err


def test_quiet_and_verbose_set_what_the_genlab_logger_shows(tmp_path, cli):
    settings = [a for s in QUICK for a in ("--set", s)]
    code, _, err = cli("train", "ae", "--data", "digits", "--epochs", "1", "--run-dir", tmp_path / "a", *settings)
    assert code == 0 and "training ae on digits" in err and "done: model in" in err
    code, _, err = cli("train", "ae", "--data", "digits", "--epochs", "1", "--run-dir", tmp_path / "b", "-q", *settings)
    assert code == 0 and "training ae on digits" not in err
