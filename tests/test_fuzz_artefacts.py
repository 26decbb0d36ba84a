"""Fuzzing what genlab reads back from disk: weights, config.json, checkpoints, sampler caches, compressed files.

Each property: a damaged or crafted file gives either the original content or a one-line GenlabError; never
another exception, never more memory than a bound (an address-space limit around the read), never a file left
behind. Examples are derandomised, so CI sees the same cases on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import resource
import shutil
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genlab
from genlab.apps.codec import compress, decompress
from genlab.errors import GenlabError
from genlab.models.mixture import GaussianMixtureSampler
from genlab.training.checkpoint import load_checkpoint

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MEMORY_HEADROOM = 1 << 30  # what one read may add to the address space


@contextlib.contextmanager
def bounded_memory(headroom: int = MEMORY_HEADROOM):
    """An address-space limit of what the process maps now plus `headroom`, lifted afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    limit = mapped + headroom if hard == resource.RLIM_INFINITY else min(mapped + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def refused_in_one_line(action) -> str | None:
    """Run `action` under the memory bound; None when it succeeded, the error's text when it was refused."""
    try:
        with bounded_memory():
            action()
    except GenlabError as error:
        text = str(error)
        assert "\n" not in text.strip() and "Traceback" not in text, text
        return text
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "run"
    data = np.random.default_rng(0).normal(size=(120, 5)).astype(np.float32)
    genlab.train("vae", data=data, run_dir=path, progress=False,
                 overrides={"train.epochs": 1, "train.preview_samples": 0, "model.latent_dim": 3})
    return path


mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6)


def mutate(data: bytes, changes, cut: float | None = None) -> bytes:
    mutated = bytearray(data)
    for where, value in changes:
        mutated[int(where * len(mutated))] = value
    return bytes(mutated[: int(cut * len(mutated))] if cut is not None else mutated)


@FUZZ
@given(changes=mutations, cut=st.none() | st.floats(0, 1))
def test_weights_files_damaged_anywhere(run, tmp_path_factory, changes, cut):
    folder = tmp_path_factory.mktemp("weights")
    shutil.copytree(run / "model", folder, dirs_exist_ok=True)
    original = (run / "model" / "model.safetensors").read_bytes()
    damaged = mutate(original, changes, cut)
    (folder / "model.safetensors").write_bytes(damaged)
    loaded = []
    if refused_in_one_line(lambda: loaded.append(genlab.load(folder))) is None:
        reference = genlab.load(run).state_dict()
        assert all(torch.equal(loaded[0].state_dict()[k], v) for k, v in reference.items())  # nothing silently changed


@FUZZ
@given(header=st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12),
    max_size=5), declared=st.none() | st.integers(0, 2**64 - 1), tail=st.binary(max_size=64))
def test_weights_files_with_crafted_headers(run, tmp_path_factory, header, declared, tail):
    folder = tmp_path_factory.mktemp("crafted")
    shutil.copy(run / "model" / "config.json", folder / "config.json")
    text = json.dumps(header).encode()
    size = len(text) if declared is None else declared
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", size) + text + tail)
    assert refused_in_one_line(lambda: genlab.load(folder)) is not None


config_values = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12) | \
    st.lists(st.integers(-5, 10**6), max_size=4) | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)


@FUZZ
@given(edits=st.dictionaries(st.sampled_from(["latent_dim", "hidden_dims", "data_shape", "num_classes", "beta",
                                              "value_range", "preprocessing", "arch", "class_names", "table",
                                              "likelihood", "networks", "dataset"]), config_values, min_size=1,
                             max_size=3))
def test_config_json_fields_of_any_type(run, tmp_path_factory, edits):
    folder = tmp_path_factory.mktemp("config")
    shutil.copytree(run / "model", folder, dirs_exist_ok=True)
    description = json.loads((folder / "config.json").read_text())
    description["config"].update(edits)
    (folder / "config.json").write_text(json.dumps(description))
    loaded = []
    if refused_in_one_line(lambda: loaded.append(genlab.load(folder))) is None:
        loaded[0].reconstruct(loaded[0].preprocess(np.zeros((2, 5), np.float32)))  # a loaded model works


def with_digest(payload: bytes) -> bytes:
    return b"genlab-checkpoint 2 " + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


@FUZZ
@given(changes=mutations, cut=st.none() | st.floats(0, 1))
def test_checkpoints_damaged_anywhere_are_refused(run, tmp_path_factory, changes, cut):
    original = (run / "checkpoints" / "last.pt").read_bytes()
    damaged = mutate(original, changes, cut)
    path = tmp_path_factory.mktemp("checkpoint") / "last.pt"
    path.write_bytes(damaged)
    if damaged != original:
        assert refused_in_one_line(lambda: load_checkpoint(path)) is not None


@FUZZ
@given(state=st.dictionaries(st.sampled_from(["format", "model", "optimizers", "schedulers", "step", "epoch", "batch",
                                              "rng", "world_size", "settings"]),
                             st.none() | st.integers(-3, 2**40) | st.text(max_size=5) | st.lists(st.integers(), max_size=3)
                             | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), max_size=10))
def test_checkpoints_of_crafted_structure(tmp_path_factory, state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = tmp_path_factory.mktemp("structure") / "last.pt"
    path.write_bytes(with_digest(buffer.getvalue()))
    assert refused_in_one_line(lambda: load_checkpoint(path)) is not None  # none of these has every entry typed right


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from(["weights", "means", "covariances", "model_digest"]),
                              st.sampled_from([np.zeros(0), np.ones(3), np.ones((2, 3)), np.ones((2, 3, 3)),
                                               np.full((1, 2, 2), np.nan), np.array("x"), np.ones((1, 1, 1))]),
                              max_size=4), changes=st.none() | mutations)
def test_sampler_caches(tmp_path_factory, arrays, changes):
    path = tmp_path_factory.mktemp("sampler") / "gmm-2.npz"
    np.savez(path, **arrays)
    if changes is not None:
        path.write_bytes(mutate(path.read_bytes(), changes))
    loaded = []
    if refused_in_one_line(lambda: loaded.append(GaussianMixtureSampler.load(path))) is None:
        sampler, _ = loaded[0]
        assert sampler.means_.ndim == 2 and sampler.covariances_.shape[1:] == (sampler.means_.shape[1],) * 2


@pytest.fixture(scope="module")
def container(run):
    model = genlab.load(run)
    return model, compress(model, np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32), 0.3)


@FUZZ
@given(changes=mutations, cut=st.none() | st.floats(0, 1))
def test_compressed_files_damaged_anywhere(container, changes, cut):
    model, blob = container
    damaged = mutate(blob, changes, cut)
    if damaged != blob:
        assert refused_in_one_line(lambda: decompress(model, damaged)) is not None  # the CRC catches every change


@FUZZ
@given(fields=st.fixed_dictionaries({
    "coder": st.integers(0, 255), "count": st.integers(0, 2**32 - 1), "dims": st.integers(0, 2**16 - 1),
    "step": st.floats(width=32), "width": st.integers(0, 255), "shape": st.lists(st.integers(0, 2**16 - 1), max_size=4),
    "payload": st.binary(max_size=200) | st.just(zlib.compress(bytes(100_000), 9))}))
def test_compressed_files_with_crafted_headers_and_a_valid_checksum(container, fields):
    model, blob = container
    sha = blob[6:38]
    body = b"GLZC" + struct.pack("<BB32sIHfBB", 1, fields["coder"], sha, fields["count"], fields["dims"], fields["step"],
                                 fields["width"], len(fields["shape"]))
    body += struct.pack(f"<{len(fields['shape'])}H", *fields["shape"]) + struct.pack("<H", 0)
    body += struct.pack("<I", len(fields["payload"])) + fields["payload"]
    crafted = body + struct.pack("<I", zlib.crc32(body))
    decoded = []
    if refused_in_one_line(lambda: decoded.append(decompress(model, crafted))) is None:
        assert decoded[0].shape[1:] == tuple(model.config.data_shape)


@pytest.fixture(autouse=True)
def _ieee_floats(ieee_floats):
    yield
