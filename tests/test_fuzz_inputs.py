"""Hostile input: every reader and config path either succeeds or says what is wrong in one line.

Property tests feed random bytes, random .npy headers, random arrays of random dtypes and
shapes, random CSV text, random files posing as PNGs, random `--set` values and random
YAML config files to genlab, and assert that the only failure is a GenlabError with a
one-line message, that memory stays bounded (each call runs under an address-space limit
a few GiB above what the process already holds) and that nothing is written beside the
input. Below them, plain regression tests for failures found this way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from genlab.data.config import DataConfig
from genlab.data.dataset import load_dataset
from genlab.data.readers import read_array_file, read_image_folder
from genlab.errors import GenlabError
from genlab.run_config import resolve_run_config

HEADROOM = 3 << 30  # bytes of address space a call may add; every input here is a few kilobytes
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_CONFIG = settings(FUZZ, max_examples=600)  # no files: cheap examples


def address_space() -> int | None:
    """This process's mapped virtual memory (Linux), the base an RLIMIT_AS is set above."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def memory_limit(headroom: int = HEADROOM):
    """Run the block with at most `headroom` more bytes of address space (where the OS lets us limit it):
    an allocation sized by a file's unchecked claims fails as MemoryError instead of exhausting the machine."""
    try:
        import resource  # POSIX only: elsewhere the block runs unlimited
    except ImportError:
        yield
        return
    used = address_space()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if used is None or sys.platform != "linux":
        yield
        return
    limit = used + headroom if hard == resource.RLIM_INFINITY else min(used + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def one_line_or_success(call, folder: Path | None = None):
    """`call()` under the memory limit: its result, or the GenlabError it raised (whose message must be one
    non-empty line). Any other exception fails the test. Nothing may appear in `folder`."""
    before = sorted(os.listdir(folder)) if folder is not None else None
    try:
        with memory_limit():
            result = call()
    except GenlabError as error:
        message = str(error)
        assert message.strip() and len(message.splitlines()) == 1, repr(message)
        result = error
    if folder is not None:
        assert sorted(os.listdir(folder)) == before, "files were left beside the input"
    return result


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def npy_file(header: str, body: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy file with any header text, padded as numpy pads it."""
    encoded = header.encode("latin1", "replace")
    size_field = "<H" if version == (1, 0) else "<I"
    prefix = 10 if version == (1, 0) else 12
    padding = (-(prefix + len(encoded) + 1)) % 64
    encoded += b" " * padding + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_field, len(encoded)) + encoded + body


def load_file(path: Path, **config):
    return load_dataset(DataConfig(name=str(path), **config))


# ---- array files ---------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=600), prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00",
                                                              b"PK\x03\x04"]), suffix=st.sampled_from([".npy", ".npz"]))
def test_random_bytes_as_numpy_files(data, prefix, suffix):
    with scratch() as folder:
        (folder / f"x{suffix}").write_bytes(prefix + data)
        one_line_or_success(lambda: read_array_file(folder / f"x{suffix}"), folder)


DESCRS = ["<f4", ">f8", "<f2", "|u1", "<i8", ">u8", "|b1", "|O", "<U3", "|S2", "|V8", "<c8", "<M8[s]", "<m8[D]",
          "[('a', '<f4'), ('b', '<i2')]", "('<f4', (2,))", "'<f4'", "garbage", "<f16"]


@FUZZ
@given(descr=st.sampled_from(DESCRS), shape=st.lists(st.one_of(st.integers(-3, 8), st.integers(0, 2**62)), max_size=5),
       fortran=st.booleans(), body=st.one_of(st.none(), st.binary(max_size=400)),
       version=st.sampled_from([(1, 0), (2, 0), (3, 0)]), raw_descr=st.sampled_from([False] * 4 + [True]))
def test_random_npy_headers(descr, shape, fortran, body, version, raw_descr):
    descr_text = descr if raw_descr or descr.startswith(("[", "(", "'")) else repr(descr)
    header = f"{{'descr': {descr_text}, 'fortran_order': {fortran}, 'shape': {tuple(shape)}, }}"
    if body is None:  # as many bytes as the header announces, where that is small
        declared = int(np.prod(shape, dtype=object)) * 8 if shape else 8
        body = bytes(declared) if 0 <= declared <= 1 << 16 else b""
    with scratch() as folder:
        (folder / "x.npy").write_bytes(npy_file(header, body, version))
        result = one_line_or_success(lambda: read_array_file(folder / "x.npy"), folder)
        if not isinstance(result, GenlabError):
            assert result.x_train.dtype in (np.uint8, np.float32) and len(result.x_train) >= 1


NUMERIC_DTYPES = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(),
                           hnp.boolean_dtypes())
OTHER_DTYPES = st.one_of(hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=4),
                         hnp.byte_string_dtypes(max_len=4), hnp.datetime64_dtypes())
SAMPLE_SHAPES = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6)
ARRAYS = st.one_of(hnp.arrays(NUMERIC_DTYPES, SAMPLE_SHAPES),
                   hnp.arrays(st.one_of(NUMERIC_DTYPES, OTHER_DTYPES),
                              hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)))
LABELS = st.one_of(ARRAYS, hnp.arrays(st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(),
                                                hnp.unicode_string_dtypes(max_len=3)), st.integers(0, 6)))


@FUZZ
@given(x=ARRAYS, y=st.one_of(st.none(), LABELS), fractions=st.sampled_from([(0.0, 0.0), (0.2, 0.1)]))
def test_random_arrays_from_files_and_memory(x, y, fractions):
    config = {"test_fraction": fractions[0], "val_fraction": fractions[1]}
    with scratch() as folder:
        np.save(folder / "x.npy", x)
        members = {"x": x} if y is None else {"x": x, "y": y}
        np.savez(folder / "xy.npz", **members)
        for name in ("x.npy", "xy.npz"):
            one_line_or_success(lambda name=name: load_file(folder / name, **config), folder)
    source = x if y is None else (x, y)
    result = one_line_or_success(lambda: load_dataset(DataConfig(name="in-memory", **config), source=source))
    if not isinstance(result, GenlabError):
        assert len(result.train) >= 1 and all(s >= 1 for s in result.shape)


@FUZZ
@given(members=st.dictionaries(st.sampled_from(["x.npy", "y.npy", "x_train.npy", "x_test.npy", "y_test.npy", "a",
                                                "b.npy"]), st.binary(max_size=300), max_size=4),
       compressed=st.booleans())
def test_random_npz_archives(members, compressed):
    with scratch() as folder:
        with zipfile.ZipFile(folder / "x.npz", "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        one_line_or_success(lambda: read_array_file(folder / "x.npz"), folder)


# ---- CSV -----------------------------------------------------------------------------

CSV_CELLS = st.one_of(st.sampled_from(["1", "0", "-2.5", "1e3", "nan", "inf", "", "NA", "yes", "no", "a", "b",
                                       "label", '"x,y"', '"', "1e400", " 3 ", "\x00"]),
                      st.text(max_size=6))


@FUZZ
@given(rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=5), max_size=12),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), as_table=st.booleans(),
       fractions=st.sampled_from([(0.0, 0.0), (0.2, 0.1)]))
def test_random_csv_text(rows, newline, as_table, fractions):
    text = newline.join(",".join(row) for row in rows)
    with scratch() as folder:
        (folder / "t.csv").write_text(text, encoding="utf-8")
        one_line_or_success(lambda: read_array_file(folder / "t.csv", as_table=as_table), folder)
        one_line_or_success(lambda: load_file(folder / "t.csv", test_fraction=fractions[0],
                                              val_fraction=fractions[1]), folder)


@FUZZ
@given(data=st.binary(max_size=800))
def test_random_bytes_as_csv(data):
    with scratch() as folder:
        (folder / "t.csv").write_bytes(data)
        one_line_or_success(lambda: load_file(folder / "t.csv", test_fraction=0.0, val_fraction=0.0), folder)


# ---- image folders -------------------------------------------------------------------

def png_bytes(size=(6, 5), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


@FUZZ
@given(files=st.lists(st.one_of(st.binary(max_size=300),
                                st.builds(lambda cut, flip: _damaged_png(cut, flip), st.integers(0, 80),
                                          st.integers(0, 200))), min_size=0, max_size=3),
       with_valid=st.booleans(), suffix=st.sampled_from([".png", ".gif", ".bmp", ".tif", ".jpg", ".webp"]))
def test_random_bytes_as_images(files, with_valid, suffix):
    with scratch() as folder:
        (folder / "a").mkdir()
        for i, data in enumerate(files):
            (folder / "a" / f"{i}{suffix}").write_bytes(data)
        if with_valid:
            (folder / "a" / "ok.png").write_bytes(png_bytes())
        one_line_or_success(lambda: read_image_folder(folder), folder / "a")


def _damaged_png(cut: int, flip: int) -> bytes:
    data = bytearray(png_bytes((7, 7)))
    data[flip % len(data)] ^= 0xFF
    return bytes(data[: len(data) - cut])


# ---- config: --set values and YAML files --------------------------------------------

KEYS = ["seed", "train.lr", "train.epochs", "train.batch_size", "train.betas", "train.max_minutes", "train.device",
        "train.grad_clip", "train.preview_samples", "train.optimizer", "data.val_fraction", "data.split_seed",
        "data.image_size", "data.column_types", "data.fingerprint", "data.name", "model.latent_dim", "model.hidden",
        "train.nope", "nope.lr", "seed.x", "train", "model.name"]
VALUE_TEXT = st.one_of(st.sampled_from(["nan", ".nan", "inf", "-.inf", "1e-3", "-1", "0", "99999999999999999999999",
                                        "1e30", "[1, 2]", "[nan, 0.5]", "{a: 1}", "&a [*a]", "null", "true", "abc",
                                        "[" * 60 + "]" * 60, "!!python/object:os.system", "'1'", "0x10", "1_000"]),
                       st.text(max_size=12))
PLAIN_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=12)


def assert_sound(config) -> None:
    """A config that was accepted holds finite numbers and seeds every random generator takes."""
    numbers = [config.seed, config.data.split_seed, *dataclasses.asdict(config.train).values(),
               config.data.val_fraction, config.data.test_fraction, *config.train.betas]
    assert all(math.isfinite(n) for n in numbers if isinstance(n, (int, float)) and not isinstance(n, bool))
    assert 0 <= config.seed < 2**53 and 0 <= config.data.split_seed < 2**53
    assert 1 <= config.train.batch_size < 2**31 and 0 < config.train.lr


@FUZZ_CONFIG
@given(key=st.sampled_from(KEYS), text=VALUE_TEXT)
def test_random_set_values(key, text):
    result = one_line_or_success(lambda: resolve_run_config(model="ae", data="digits", overrides=[f"{key}={text}"]))
    if not isinstance(result, GenlabError):
        assert_sound(result)


@FUZZ_CONFIG
@given(values=st.dictionaries(st.sampled_from(KEYS), PLAIN_VALUES, max_size=3))
def test_random_override_dicts(values):
    result = one_line_or_success(lambda: resolve_run_config(model="ae", data="digits", overrides=values))
    if not isinstance(result, GenlabError):
        assert_sound(result)


@FUZZ_CONFIG
@given(tree=st.one_of(PLAIN_VALUES, st.fixed_dictionaries(
    {}, optional={"seed": PLAIN_VALUES, "model": PLAIN_VALUES, "data": PLAIN_VALUES, "train": PLAIN_VALUES})),
    garbage=st.one_of(st.none(), st.binary(max_size=200)))
def test_random_yaml_config_files(tree, garbage):
    with scratch() as folder:
        path = folder / "c.yaml"
        path.write_bytes(garbage if garbage is not None else yaml.safe_dump(tree).encode())
        one_line_or_success(lambda: resolve_run_config(model="ae", data="digits", config=path), folder)


# ---- known failures ------------------------------------------------------------------

def test_a_huge_label_is_refused_before_class_names_are_built(tmp_path):
    for label in (10**12, 2**62):
        np.savez(tmp_path / "d.npz", x=np.ones((50, 3), np.float32), y=np.r_[np.zeros(49, np.int64), [label]])
        with memory_limit(), pytest.raises(GenlabError, match="relabel|number the classes 0..K-1"):
            load_dataset(str(tmp_path / "d.npz"))


def test_a_npy_header_larger_than_its_file_is_refused_before_reading(tmp_path):
    (tmp_path / "x.npy").write_bytes(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1000000000), }",
                                              b"\x00" * 64))
    with memory_limit(), pytest.raises(GenlabError, match="truncated or damaged"):
        load_dataset(str(tmp_path / "x.npy"))


def test_an_npz_member_that_lies_about_its_size_or_expands_like_a_bomb_is_refused(tmp_path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 10000), }"
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as archive:
        archive.writestr("x.npy", npy_file(header, b""))
    with memory_limit(), pytest.raises(GenlabError, match="truncated or damaged"):
        load_dataset(str(tmp_path / "lie.npz"))
    claimed = 3 << 30  # within what deflate could give from its 8 MB, but 3 GiB to allocate
    _patched_member(tmp_path / "bomb.npz", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1 << 28), }",
                                                    bytes(8 << 20)), claimed)
    with memory_limit(), pytest.raises(GenlabError, match="decompression bomb"):
        load_dataset(str(tmp_path / "bomb.npz"))


def _patched_member(path: Path, payload: bytes, claimed: int) -> None:
    """An archive whose one member, x.npy, says it is deflated and `claimed` bytes long (never decompressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("x.npy", payload)
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, local + 22, claimed)
    struct.pack_into("<H", data, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, central + 24, claimed)
    path.write_bytes(bytes(data))


def test_object_arrays_in_npz_are_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "o.npz", x=np.array([[1, "a"]] * 10, dtype=object))
    with pytest.raises(GenlabError, match="Python objects"):
        load_dataset(str(tmp_path / "o.npz"))


def test_a_decompression_bomb_png_is_refused_before_decoding(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("1", (20000, 20000)).save(tmp_path / "a" / "bomb.png")  # 400 million pixels in 50 KB
    with memory_limit(), pytest.raises(GenlabError, match="bomb.png: .*decompression bomb"):
        load_dataset(str(tmp_path))
    (tmp_path / "a" / "bomb.png").unlink()
    Image.new("1", (10000, 9000)).save(tmp_path / "a" / "warn.png")  # past Pillow's warning, short of its error
    with memory_limit(), pytest.raises(GenlabError, match="warn.png: .*decompression bomb"):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize(("override", "message"), [
    ("train.lr=nan", "train.lr must be a finite number"),
    ("train.lr=.inf", "train.lr must be a finite number"),
    ("train.momentum=nan", "train.momentum must be a finite number"),
    ("train.max_minutes=inf", "train.max_minutes must be a finite number or null"),
    ("train.weight_decay=-1", "train.weight_decay must be >= 0"),
    ("train.step_epochs=0", "train.step_epochs must be positive"),
    ("seed=99999999999999999999999", "seed must fit in 64 bits"),
    ("seed=-1", "seed must be a whole number from 0 to 2^53-1"),
    ("data.split_seed=-1", "data.split_seed must be a whole number from 0"),
    ("train.batch_size=1000000000000", "train.batch_size must be positive and at most"),
    ("train.preview_samples=1000000000", "train.preview_samples must be >= 0 and at most 1,024"),
    ("data.image_size=[1000000, 1000000]", "data.image_size must be [height, width], each from 1 to 4096"),
    ("train.device=cuda:x", "train.device must be auto, cpu, cuda, cuda:N or mps"),
    ("data.fingerprint=&a [*a]", "contains itself"),
    ("train.lr=abc", "train.lr must be a number"),
])
def test_absurd_settings_are_refused(override, message):
    with pytest.raises(GenlabError) as caught:
        resolve_run_config(model="ae", data="digits", overrides=[override])
    assert message in str(caught.value) and len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize(("content", "message"), [
    (b"[1, 2]\n", "must hold a mapping"),
    (b"model: 5\n", "'model' must be a mapping"),
    (b"train: [1]\n", "'train' must be a mapping"),
    (b"train: {lr: \xff}\n", "not UTF-8"),
    (b"train: {lr: 0.1}\n#" + b"x" * (2 << 20), "larger than 1 MiB"),
    (b"train: " + b"[" * 5000 + b"]" * 5000, "levels"),
    (b"seed: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    (b"data:\n  fingerprint:\n" + b"".join(
        b"    a%d: &a%d [" % (i, i) + b",".join([b"*a%d" % (i - 1)] * 9 if i else [b"x"] * 9) + b"]\n"
        for i in range(10)), "more than 100,000 items"),
])
def test_config_files_that_are_not_settings_are_refused(tmp_path, content, message):
    (tmp_path / "c.yaml").write_bytes(content)
    with memory_limit(), pytest.raises(GenlabError) as caught:
        resolve_run_config(model="ae", data="digits", config=tmp_path / "c.yaml")
    assert message in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_bad_data_leaves_no_run_directory(tmp_path, cli):
    np.savez(tmp_path / "d.npz", x=np.ones((50, 3), np.float32), y=np.r_[np.zeros(49, np.int64), [10**12]])
    with memory_limit():
        code, _, err = cli("train", "ae", "--data", tmp_path / "d.npz", "--epochs", "1", "--run-dir", tmp_path / "run")
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and sorted(os.listdir(tmp_path)) == ["d.npz"]


@pytest.fixture(autouse=True)
def _ieee_floats(ieee_floats):
    yield
