"""No silent corruption and no stale artefacts: digests on weights and checkpoints, settings a resume keeps,
results tied to the weights they describe, files that honour the umask, a full disk as one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import numpy as np
import pytest
import torch
import yaml
from conftest import PYTHON, subprocess_env

import genlab
from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.codec import compress_files, decompress_file
from genlab.errors import GenlabError
from genlab.eval.stored import read_eval, store_eval
from genlab.files import remove_scratch, write_text_atomic
from genlab.models.base import weights_sha256
from genlab.report.html import render_report
from genlab.runs import RunDirectory
from genlab.training.checkpoint import load_checkpoint
from genlab.training.metrics import read_metrics

FAST = {"train.epochs": 1, "train.preview_samples": 0, "train.tensorboard": False}


def vectors(shift: float = 0.0):
    return (np.random.default_rng(0).normal(size=(160, 6)) + shift).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("integrity") / "run"
    genlab.train("vae", data=vectors(), run_dir=run, overrides=FAST, progress=False)
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def flip_bit(path, position):
    data = bytearray(path.read_bytes())
    data[position] ^= 0x04
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["first tensor byte", "middle", "last byte"])
def test_a_flipped_bit_in_the_weights_is_refused_naming_the_file(run, where):
    weights = run / "model" / "model.safetensors"
    header = 8 + int.from_bytes(weights.read_bytes()[:8], "little")
    size = weights.stat().st_size
    flip_bit(weights, {"first tensor byte": header, "middle": (header + size) // 2, "last byte": size - 1}[where])
    with pytest.raises(GenlabError, match=r"model\.safetensors is damaged"):
        genlab.load(run)


def test_a_flipped_bit_or_a_cut_in_the_checkpoint_is_refused(run, trained):
    checkpoint = run / "checkpoints" / "last.pt"
    flip_bit(checkpoint, checkpoint.stat().st_size // 2)
    with pytest.raises(GenlabError, match=r"last\.pt is damaged"):
        genlab.train(run_dir=run, resume=True, epochs=2, data=vectors(), progress=False)
    shutil.copy(trained / "checkpoints" / "last.pt", checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:-100])
    with pytest.raises(GenlabError, match="damaged"):
        load_checkpoint(checkpoint)


def test_a_checkpoint_lacking_an_entry_or_holding_code_is_refused(tmp_path, trained):
    import hashlib
    import io

    import torch

    state = load_checkpoint(trained / "checkpoints" / "last.pt")

    def written(payload: bytes):
        path = tmp_path / "last.pt"
        path.write_bytes(b"genlab-checkpoint 2 " + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        return path

    for key, value in (("step", None), ("rng", "text"), ("batch", -3)):
        damaged = {k: v for k, v in state.items() if k != key} if value is None else {**state, key: value}
        buffer = io.BytesIO()
        torch.save(damaged, buffer)
        with pytest.raises(GenlabError, match=f"'{key}' entry"):
            load_checkpoint(written(buffer.getvalue()))
    buffer = io.BytesIO()
    torch.save({**state, "hook": shutil.rmtree}, buffer)  # a function: unpickling it would run code
    with pytest.raises(GenlabError, match="other than tensors") as error:
        load_checkpoint(written(buffer.getvalue()))
    assert "weights_only=False" not in str(error.value)


@pytest.mark.parametrize("edit", ["model.beta", "seed", "data.fingerprint"])
def test_resume_refuses_a_setting_changed_in_config_yaml(run, edit):
    tree = yaml.safe_load((run / "config.yaml").read_text())
    if edit == "model.beta":
        tree["model"]["beta"] = 2.0
    elif edit == "seed":
        tree["seed"] = 7
    else:
        tree["data"]["fingerprint"] = None  # cleared, and other data given
    (run / "config.yaml").write_text(yaml.safe_dump(tree))
    before = (run / "config.yaml").read_text()
    data = vectors(shift=1.0) if edit == "data.fingerprint" else vectors()
    with pytest.raises(GenlabError, match="other data" if edit == "data.fingerprint" else f"trained with {edit}="):
        genlab.train(run_dir=run, resume=True, epochs=2, data=data, progress=False)
    assert (run / "config.yaml").read_text() == before  # the refused resume rewrote nothing


def test_stale_evaluation_detector_and_compressed_files_after_a_resume(run, tmp_path):
    store_eval(run, {"metrics": {"reconstruction": {"mse": 0.5}},
                     "protocol": {"model_sha256": weights_sha256(run / "model")}})
    assert read_eval(run) is not None
    detector = AnomalyDetector(score_by="reconstruction")
    detector.calibrate_on_inputs(genlab.load(run), genlab.load(run).preprocess(vectors()))
    detector.save(run)
    np.save(tmp_path / "x.npy", vectors()[:10])
    compress_files(genlab.load(run), [tmp_path / "x.npy"], tmp_path / "x.glz", step=0.2, model_hint=run)
    before = np.load(_decoded(tmp_path, run, "before"))

    genlab.train(run_dir=run, resume=True, epochs=2, data=vectors(), progress=False)

    assert read_eval(run) is None  # results of the earlier weights are not reported as this model's
    assert "earlier weights" in render_report(run).read_text()
    with pytest.raises(GenlabError, match="calibrated for earlier weights"):
        AnomalyDetector.load(run)
    after = np.load(_decoded(tmp_path, run, "after"))  # decoded with the snapshot kept at compression
    assert np.array_equal(before, after)
    shutil.rmtree(RunDirectory(run).root / "snapshots")
    with pytest.raises(GenlabError, match="compressed with model"):
        _decoded(tmp_path, run, "gone")


def _decoded(tmp_path, run, name):
    decompress_file(tmp_path / "x.glz", tmp_path / f"{name}.npy", run=run)
    return tmp_path / f"{name}.npy"


def test_a_corrupt_sampler_cache_is_fitted_again(tmp_path):
    from genlab.samplers import draw_samples

    run = tmp_path / "run"
    genlab.train("vae", data="digits", run_dir=run, overrides=FAST, progress=False)
    model = genlab.load(run)
    draw_samples(model, run, 4, sampler="gmm", components=2)
    cache = RunDirectory(run).sampler_path("gmm", 2)
    cache.write_bytes(cache.read_bytes()[:50])
    assert draw_samples(model, run, 4, sampler="gmm", components=2).shape[0] == 4
    assert len(cache.read_bytes()) > 50  # fitted and stored again


def test_files_honour_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        os.umask(0o002)
        write_text_atomic(tmp_path / "b.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o664


def train_under_file_limit(run, limit: int, **options) -> subprocess.CompletedProcess:
    """genlab.train in a child process where a file may grow to `limit` bytes: past it, writes fail as on a full
    disk (EFBIG)."""
    np.save(run.parent / "x.npy", vectors())
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        import genlab
        from genlab.errors import GenlabError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        try:
            genlab.train(run_dir="{run}", data=np.load("{run.parent / 'x.npy'}"), progress=False, **{options!r})
        except GenlabError as error:
            sys.exit("error: " + str(error))
    """)
    return subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=subprocess_env(), timeout=300)


def test_a_full_disk_is_one_line_and_leaves_the_run_as_its_last_checkpoint_describes(run):
    kept = ["checkpoints/last.pt", "config.yaml", "metrics.jsonl", "model/model.safetensors"]
    before = {name: (run / name).read_bytes() for name in kept}
    result = train_under_file_limit(run, 200_000, resume=True, epochs=3)  # the model fits, the checkpoint does not
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert lines[-1].startswith("error: no space left to write") and "Traceback" not in result.stderr
    assert {name: (run / name).read_bytes() for name in kept} == before  # epochs=3 and the attempt's lines undone
    assert not list(run.rglob("*.tmp"))


@pytest.mark.parametrize("limit", [100, 200_000])  # config.yaml fails; the first checkpoint fails
def test_a_new_run_that_saved_no_checkpoint_leaves_no_folder(tmp_path, limit):
    result = train_under_file_limit(tmp_path / "run", limit, model="vae", overrides=FAST)
    assert result.returncode == 1 and "error: no space left to write" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("damage", ["float64 weights", "NaN weights", "batch past the epoch", "a folder"])
def test_a_checkpoint_that_cannot_be_continued_is_refused_and_changes_nothing(run, damage):
    import hashlib
    import io

    import torch

    checkpoint = run / "checkpoints" / "last.pt"
    state = load_checkpoint(checkpoint)
    if damage == "a folder":
        checkpoint.unlink()
        checkpoint.mkdir()  # read as "no checkpoint yet", it would start the run over
    else:
        if damage == "float64 weights":
            state["model"] = {key: value.double() for key, value in state["model"].items()}
        elif damage == "NaN weights":
            next(iter(state["model"].values())).fill_(float("nan"))
        else:
            state["batch"] = 10**9
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        checkpoint.write_bytes(b"genlab-checkpoint 2 " + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    before = {name: (run / name).read_bytes() for name in ("config.yaml", "metrics.jsonl")}
    with pytest.raises(GenlabError, match=r"last\.pt (holds|is at batch|is not a regular file)"):
        genlab.train(run_dir=run, resume=True, epochs=2, data=vectors(), progress=False)
    assert {name: (run / name).read_bytes() for name in before} == before


def test_scratch_files_of_a_killed_write_are_removed_when_training_starts(run):
    leftover = run / "checkpoints" / ".last.pt.k9x2ab7q.tmp"
    leftover.write_bytes(b"half a checkpoint")
    other = run / ".eval.json.abcd1234.tmp"  # another command's write that may be under way: spared
    other.write_text("{")
    genlab.train(run_dir=run, resume=True, epochs=2, data=vectors(), progress=False)
    assert not leftover.exists() and other.exists()
    assert remove_scratch(run) == 1 and not other.exists()


def test_a_checkpoint_at_an_epochs_last_batch_does_not_duplicate_its_validation(tmp_path):
    run = tmp_path / "run"
    overrides = {**FAST, "train.epochs": 2, "train.batch_size": 32, "train.checkpoint_every": 3}  # 3 batches an epoch
    genlab.train("ae", data=vectors(), run_dir=run, overrides=overrides, progress=False)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    records = read_metrics(run / "metrics.jsonl")
    assert records[0]["steps_per_epoch"] == 3 and state["epoch"] == 2
    validations = [r["step"] for r in records if r["split"] == "val"]
    assert validations == [3, 6]
    shutil.copytree(run, tmp_path / "killed")
    killed = tmp_path / "killed"
    # as if killed after epoch 2's validation was logged, before its end-of-epoch checkpoint: the last one then
    # is the periodic checkpoint at the epoch's last batch, in its mid-epoch form
    import hashlib
    import io

    import torch

    state = load_checkpoint(killed / "checkpoints" / "last.pt")
    state.update(epoch=1, batch=3)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    (killed / "checkpoints" / "last.pt").write_bytes(
        b"genlab-checkpoint 2 " + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    genlab.train(run_dir=killed, resume=True, epochs=2, data=vectors(), progress=False)
    validations = [r["step"] for r in read_metrics(killed / "metrics.jsonl") if r["split"] == "val"]
    assert validations == [3, 6]


def test_a_huge_sample_count_is_refused_before_allocating(trained, tmp_path):
    from genlab.apps.generation import sample_to_file

    with pytest.raises(GenlabError, match="need about .* of memory"):
        genlab.apps.sample(genlab.load(trained), 2_000_000_000)

    with pytest.raises(GenlabError, match="need about"):
        sample_to_file(genlab.load(trained), trained, tmp_path / "s.npy", 2_000_000_000)
    assert not (tmp_path / "s.npy").exists()


def test_a_container_announcing_more_than_its_payload_can_hold_is_refused_before_inflating(trained, tmp_path):
    import struct
    import zlib

    from genlab.apps.codec import compress, decompress

    model = genlab.load(trained)
    body = bytearray(compress(model, vectors()[:5], 0.25)[:-4])
    struct.pack_into("<I", body, 38, 4_000_000_000)  # N images, from a payload of a few bytes
    with pytest.raises(GenlabError, match="more than its .*payload can hold"):
        decompress(model, bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))


def test_identical_weights_give_byte_identical_files_in_any_process():
    """Exact resume is checked on the files' bytes: the header must not depend on per-process hash seeds."""
    script = ("import hashlib, torch; from genlab.models.base import weights_bytes; "
              "state = {f'layer{i}.weight': torch.full((3, 2), float(i)) for i in range(6)}; "
              "print(hashlib.sha256(weights_bytes(state)).hexdigest())")
    digests = {subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=subprocess_env(),
                              check=True).stdout for _ in range(4)}
    assert len(digests) == 1


def test_metrics_lines_cut_short_by_a_kill_are_skipped_and_the_lines_after_them_read(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"split": "train", "step": 1}\n{"split": "tr\n{"split": "train", "step": 2}\n[3]\n{"split": "val", "st')
    assert read_metrics(log) == [{"split": "train", "step": 1}, {"split": "train", "step": 2}]


def test_a_checkpoint_written_before_checkpoints_carried_a_digest_is_still_read(run, tmp_path):
    from genlab.training.checkpoint import LEGACY_VERSION

    state = load_checkpoint(run / "checkpoints" / "last.pt")
    legacy = tmp_path / "legacy.pt"
    torch.save({**state, "format": LEGACY_VERSION}, legacy)  # torch.save's bytes alone, as older versions wrote
    assert legacy.read_bytes()[:2] == b"PK"
    old = load_checkpoint(legacy)
    assert old["step"] == state["step"] and all(torch.equal(old["model"][k], state["model"][k]) for k in state["model"])
    torch.save(state, legacy)  # the current format without its digest line: not what any version wrote
    with pytest.raises(GenlabError, match="was not written by this version of genlab"):
        load_checkpoint(legacy)


def test_tensorboard_gets_each_number_at_the_step_of_its_record(tmp_path):
    from genlab.training.metrics import MetricsLog

    class Recorder:
        def __init__(self):
            self.scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.tensorboard = Recorder()
    log.write({"split": "train", "step": 7, "epoch": 1, "loss": 0.5, "finite": True})
    log.write({"split": "val", "step": 9, "loss": 0.25})
    log.write({"split": "run", "step": 9, "event": "end"})
    log.handle.close()
    assert log.tensorboard.scalars == [("train/loss", 0.5, 7), ("val/loss", 0.25, 9)]
