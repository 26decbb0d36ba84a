"""Requests are bounded and checked before any work, settings that do nothing are pointed out, and a failed
command leaves nothing behind: seeds, counts, steps and resamples on the command line and in the API, classes,
masks, data settings, a model's stored preprocessing, folders of images on a full disk, failed fetches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import numpy as np
import pytest
from conftest import PYTHON, subprocess_env

import genlab
from genlab.apps.inputs import read_mask
from genlab.cli import main
from genlab.errors import GenlabError
from genlab.eval.runner import evaluate

FAST = {"train.epochs": 1, "train.preview_samples": 0, "train.tensorboard": False, "model.hidden": [32],
        "model.latent_dim": 4}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bounds")
    for name in ("vae", "cvae"):
        genlab.train(name, data="digits", run_dir=root / name, overrides=FAST, progress=False)
    return root


def files_of(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("args, message", [
    (["eval", "{run}", "--k", "2000000000"], "argument --k: must be from 1 to 100,000"),
    (["eval", "{run}", "--bootstrap", "2000000000"], "argument --bootstrap: must be from 0 to 100,000"),
    (["eval", "{run}", "--limit", "-1"], "argument --limit: must be from 1"),
    (["eval", "{run}", "--seed", str(2**64)], "argument --seed: must be from 0 to 9,007,199,254,740,991"),
    (["sample", "{run}", "--seed", "-1", "-o", "{out}/s.png"], "argument --seed"),
    (["sample", "{run}", "-n", "0", "-o", "{out}/s.png"], "argument -n/--num-samples"),
    (["latent", "{run}", "--plot", "grid", "--steps", "2000000000", "-o", "{out}/l.png"], "argument --steps: must be from 2 to 100"),
    (["inpaint", "{run}", "x.npy", "--mask", "m.npy", "--steps", "0", "-o", "{out}/o.npy"], "argument --steps: must be from 1"),
    (["serve", "{run}", "--port", "70000"], "argument --port"),
    (["train", "vae", "--epochs", "many"], "argument --epochs: expected a whole number"),
])
def test_out_of_range_flags_are_one_line_before_any_work(capsys, runs, tmp_path, args, message):
    before = files_of(runs / "vae")
    with pytest.raises(SystemExit) as exit:  # argparse's own exit, with its usage and one error line
        main([a.format(run=runs / "vae", out=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and message in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1
    assert files_of(runs / "vae") == before and not list(tmp_path.iterdir())


def test_the_api_checks_the_same_bounds(runs):
    model = genlab.load(runs / "vae")
    with pytest.raises(GenlabError, match="seed must be from 0"):
        genlab.apps.sample(model, 4, seed=2**70)
    with pytest.raises(GenlabError, match="memory"):
        model.sample(2_000_000_000)  # refused before a 7 GB allocation
    with pytest.raises(GenlabError, match="--k"):
        evaluate(runs / "vae", ["likelihood"], k=10**9, limit=2, bootstrap=0, progress=False)
    with pytest.raises(GenlabError, match="--bootstrap"):
        evaluate(runs / "vae", ["reconstruction"], bootstrap=-1, limit=2, progress=False)
    conditional = genlab.load(runs / "cvae")
    for label in (10, -1, 10**30):
        with pytest.raises(GenlabError, match=r"class must be in 0\.\.9"):
            conditional.class_index(label)
    assert conditional.class_index("7") == 7


def test_labels_out_of_range_on_either_side_are_refused(runs):
    conditional = genlab.load(runs / "cvae")
    for labels in ([10], [-1], [3, 10], [-1, 3]):  # labels given as numbers, on either side of the range
        with pytest.raises(GenlabError, match=r"class must be in 0\.\.9"):
            conditional.sample_labels(len(labels), labels=labels)
    assert conditional.sample_labels(2, labels=[0, 9]).tolist() == [0, 9]


def test_a_class_beyond_the_model_is_refused_on_the_command_line(cli, runs, tmp_path):
    code, _, err = cli("sample", runs / "cvae", "--class", str(10**30), "-o", tmp_path / "s.png")
    assert code == 2 and "class must be in 0..9" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("values, accepted", [([0, 1], True), ([0, 255], True), ([0, 7], False), ([0, 0.5], False)])
def test_an_array_mask_holds_zeros_and_ones(tmp_path, values, accepted):
    mask = np.zeros((8, 8), np.float32)
    mask[:4] = values[1]
    path = tmp_path / "mask.npy"
    np.save(path, mask[None])
    if accepted:
        assert int(read_mask(path, (1, 8, 8), 2).sum()) == 2 * 32
    else:
        with pytest.raises(GenlabError, match="values other than 0 and 1"):
            read_mask(path, (1, 8, 8), 2)


@pytest.mark.parametrize("setting", ["data.label_column=nope", "data.image_size=[16,16]"])
def test_a_data_setting_that_does_nothing_for_the_data_is_refused(tmp_path, setting):
    key, value = setting.split("=")
    with pytest.raises(GenlabError, match=f"{key} applies to"):
        genlab.train("vae", data="digits", run_dir=tmp_path / "run", overrides=[*(f"{k}={v}" for k, v in FAST.items()
                                                                              if k != "model.hidden"), setting],
                     progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("scale", [[1.0, 2.0, 3.0], [None], [0.0], "wide"])
def test_a_stored_preprocessing_that_cannot_map_the_data_is_refused_on_load(runs, tmp_path, scale):
    run = tmp_path / "vae"
    shutil.copytree(runs / "vae", run)
    description = run / "model" / "config.json"
    tree = json.loads(description.read_text())
    tree["config"]["preprocessing"]["scale"] = scale
    description.write_text(json.dumps(tree))
    with pytest.raises(GenlabError, match=r"config\.json: .*preprocessing"):
        genlab.load(run)


def test_a_folder_of_images_is_not_left_half_written_on_a_full_disk(runs, tmp_path):
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from genlab.cli import main
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))  # the first PNG does not fit
        sys.exit(main(["sample", "{runs / 'vae'}", "-n", "20", "-o", "{tmp_path / 'out'}"]))
    """)
    result = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 2 and "no space left" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_a_fetch_that_gets_nothing_leaves_no_cache_folder(cli, tmp_path):
    (tmp_path / "mirror").mkdir()
    code, _, err = cli("data", "fetch", "mnist", "--mirror", tmp_path / "mirror", "--root", tmp_path / "cache")
    assert code == 2 and err.startswith("error: mnist: cannot get")
    assert not (tmp_path / "cache").exists()


def test_a_run_folder_whose_name_is_not_utf8_compresses_and_decompresses(cli, runs, tmp_path):
    run = tmp_path / os.fsdecode(b"run\xff")
    shutil.copytree(runs / "vae", run)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32) * 16)
    code, _, err = cli("compress", run, tmp_path / "x.npy", "-o", tmp_path / "c.glz")
    assert code == 0, err
    code, _, err = cli("decompress", tmp_path / "c.glz", "-o", tmp_path / "y.npy")  # finds the run from the file
    assert code == 0 and np.load(tmp_path / "y.npy").shape == (5, 1, 8, 8), err
