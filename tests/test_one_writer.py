"""One writer per run directory, and no leftovers from a start that failed."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
import torch
from conftest import PYTHON, subprocess_env

import genlab
from genlab.errors import GenlabError
from genlab.runs import LOCK_FILE, RunDirectory

FAST = {"train.epochs": 1, "train.preview_samples": 0, "train.tensorboard": False}


def vectors():
    return np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    holder = RunDirectory(tmp_path / "run")
    holder.lock()  # another training holds the run
    try:
        with pytest.raises(GenlabError, match=r"being written by another training \(process \d+\)"):
            genlab.train("ae", data=vectors(), run_dir=tmp_path / "run", overrides=FAST, progress=False)
    finally:
        holder.unlock()
    genlab.train("ae", data=vectors(), run_dir=tmp_path / "run", overrides=FAST, progress=False)  # free again
    holder.lock()
    try:
        with pytest.raises(GenlabError, match="being written by another training"):
            genlab.train(run_dir=tmp_path / "run", resume=True, epochs=2, data=vectors(), progress=False)
    finally:
        holder.unlock()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU to make device cuda fail")
def test_a_failed_start_leaves_nothing_that_blocks_a_retry(tmp_path):
    with pytest.raises(GenlabError, match="no CUDA GPU"):
        genlab.train("ae", data=vectors(), run_dir=tmp_path / "run", overrides=FAST, device="cuda", progress=False)
    assert not (tmp_path / "run").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made stays, empty
    with pytest.raises(GenlabError):
        genlab.train("ae", data=vectors(), run_dir=tmp_path / "mine", overrides=FAST, device="cuda", progress=False)
    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())
    genlab.train("ae", data=vectors(), run_dir=tmp_path / "run", overrides=FAST, device="cpu", progress=False)
    assert (tmp_path / "run" / "model").is_dir()


def test_two_cli_trainings_on_one_run_directory(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen([PYTHON, "-m", "genlab", "train", "vae", "--data", "digits", "--epochs", "200",
                              "--run-dir", str(run), "-q"], env=subprocess_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ((run / LOCK_FILE).is_file() and (run / LOCK_FILE).read_text().strip()):
            time.sleep(0.2)
        assert (run / LOCK_FILE).read_text().strip() == str(first.pid)
        for args in (["train", "vae", "--data", "digits", "--epochs", "1", "--run-dir", str(run)],
                     ["train", "--resume", str(run), "--epochs", "300"]):
            second = subprocess.run([PYTHON, "-m", "genlab", *args, "-q"], env=subprocess_env(), capture_output=True,
                                    text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert f"being written by another training (process {first.pid})" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
        assert first.poll() is None  # the first training goes on undisturbed
    finally:
        first.kill()
        first.wait()
