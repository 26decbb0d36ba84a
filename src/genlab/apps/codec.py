"""Lossy compression with an autoencoder: quantised codes, entropy-coded, in one file.

Each image becomes its code z = encode(x) (a VAE's posterior mean), standardised by the
code statistics the model keeps (N(0, I) for a VAE), divided by `step` and rounded to
integers. A linear autoencoder's codes share one scale (their mean variance) instead, so
that the step spends bits where the variance is, as a PCA transform coder does. The
integers of all images are laid out dimension by dimension, so that a dimension's values
sit together, and coded with zlib or LZMA, whichever is smaller.
`step` is the quality knob: a smaller step keeps more of each code and costs more bytes.

Container format, version 1 (all integers little-endian):

    offset  size  field
    0       4     magic b"GLZC"
    4       1     format version (1)
    5       1     coder: 1 = zlib, 2 = LZMA (raw stream, LZMA2 filter, preset 9e)
    6       32    SHA-256 of the model's weights (see model_sha256)
    38      4     N, the number of images (uint32)
    42      2     D, the code dimensions (uint16)
    44      4     step (float32)
    48      1     bytes per quantised value (1: int8, 2: int16)
    49      1     R, the rank of one sample's shape, then R uint16 sizes (C, H, W)
    ..      2     L, then L bytes: the model's location when compressed (as the file system spells it; a hint only)
    ..      4     P, then P bytes: the coded payload
    end-4   4     CRC-32 of every byte before it

Reading checks the magic, the version, the CRC (a damaged file), the model hash (the
wrong model), the shapes, and that the announced codes fit in what the payload can hold
(zlib inflates at most about 1032 times, LZMA about 7000) and in free memory, all before
inflating anything; inflation then stops at the announced size.

Compressing with a run directory keeps a copy of the exact weights used in
RUN/snapshots/<hash>/, so a run trained further later still decodes its older files.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.api import load
from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import write_samples
from genlab.errors import GenlabError
from genlab.files import check_output_path, write_bytes_atomic
from genlab.models.base import WEIGHTS_FILE
from genlab.models.inference import run_batched
from genlab.models.units import is_raw
from genlab.resources import check_fits
from genlab.runs import RunDirectory

logger = logging.getLogger(__name__)

MAGIC = b"GLZC"
VERSION = 1
ZLIB, LZMA = 1, 2
LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
HEADER_BYTES = 50  # magic to rank, inclusive
# the most each coder can inflate: deflate's limit is 1032:1; LZMA2 at preset 9e reaches about 6,900:1 on zeros
MAX_RATIO = {ZLIB: 1100, LZMA: 8000}


@dataclass
class Compressed:
    """A parsed container: what decompress needs besides the model."""

    model_sha256: str
    step: float
    sample_shape: tuple[int, ...]
    quantised: np.ndarray  # (N, D) integers
    model_hint: str


def model_sha256(model) -> str:
    """SHA-256 over the model's parameters and buffers (names, shapes, dtypes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def code_statistics(model) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation that bring the model's codes to about N(0, I)."""
    dims = model.config.latent_dim
    mean = getattr(model, "code_mean", torch.zeros(dims))
    var = getattr(model, "code_var", torch.ones(dims))
    if getattr(model.config, "arch", None) == "linear":
        # A linear autoencoder's decoder is (close to) orthonormal: a unit of any code dimension
        # costs the same squared error, so one step for all is the right allocation (the
        # transform coder's reverse water-filling): low-variance dimensions round to zero and cost
        # almost no bytes. Standardising them would spend as many bits on each as on the largest.
        var = var.mean().expand(dims)
    std = var.clamp_min(1e-12).sqrt()
    return mean.detach().float().cpu(), std.detach().float().cpu()


@torch.no_grad()
def quantise(model, x: torch.Tensor, step: float) -> np.ndarray:
    """Model inputs (N, ...) -> integer codes (N, D)."""
    check_compressible(model)
    if not (math.isfinite(step) and 0 < step < 1e30):
        raise GenlabError(f"step must be a positive number (got {step}); smaller steps give larger, better files")
    mean, std = code_statistics(model)
    codes = run_batched(model.encode, x, device=model.device).float()
    return torch.round((codes - mean) / std / step).to(torch.int64).numpy()


@torch.no_grad()
def dequantise(model, quantised: np.ndarray, step: float) -> torch.Tensor:
    """Integer codes (N, D) -> decoded model-space samples (N, ...)."""
    mean, std = code_statistics(model)
    codes = torch.from_numpy(quantised.astype(np.float32)) * step * std + mean
    return run_batched(model.decode, codes, device=model.device).float()


def compress(model, x, step: float, model_hint: str = "") -> bytes:
    """Model inputs (N, ...), or raw data in its own units (uint8 images, arrays), -> one container holding all N."""
    check_compressible(model)
    if is_raw(x):
        x = model.preprocess(x).cpu()
    quantised = quantise(model, x, step)
    return pack(quantised, step, tuple(model.config.data_shape), model_sha256(model), model_hint)


def decompress(model, blob: bytes, raw: bool = False):
    """A container -> decoded model-space samples (N, ...), or with `raw` the data's own units (as
    model.postprocess gives them); refuses a damaged file or another model."""
    check_compressible(model)
    parsed = unpack(blob, model=model)
    decoded = dequantise(model, parsed.quantised, parsed.step)
    return model.postprocess(decoded) if raw else decoded


def check_model(model, header: Header) -> None:
    """Refuse a container made with other weights, or for another shape, before decoding it."""
    mine = model_sha256(model)
    if header.model_sha256 != mine:
        raise GenlabError(f"this file was compressed with model {header.model_sha256[:12]}... but the given model is "
                          f"{mine[:12]}...; decompress with the run it was made with"
                          + (f" ({header.model_hint})" if header.model_hint else ""))
    if header.sample_shape != tuple(model.config.data_shape) or header.dims != model.config.latent_dim:
        raise GenlabError("the file's image shape or code size does not match the model")
    check_fits(header.count, header.sample_shape, "images in this file", "decompress it on a larger machine")


def lzma_filters(size: int) -> list[dict]:
    """The container's LZMA2 filter with a dictionary no larger than the input needs: the stream is
    byte-identical to preset 9e's and decodes with LZMA_FILTERS, but a small input no longer pays for
    allocating preset 9e's 64 MiB dictionary (about 60 ms per call; 4 ms for one image)."""
    dictionary = max(4096, 1 << max(size - 1, 1).bit_length())
    return [{**LZMA_FILTERS[0], "dict_size": min(dictionary, 64 << 20)}]


def pack(quantised: np.ndarray, step: float, sample_shape: tuple[int, ...], sha256: str, model_hint: str = "") -> bytes:
    count, dims = quantised.shape
    width = 1 if quantised.size == 0 or (quantised.min() >= -128 and quantised.max() <= 127) else 2
    if quantised.size and (quantised.min() < -32768 or quantised.max() > 32767):
        raise GenlabError(f"step {step} is too small for these codes (values beyond 16 bits); use a larger step")
    raw = np.ascontiguousarray(quantised.T.astype("<i1" if width == 1 else "<i2")).tobytes()  # dimension-major
    candidates = {ZLIB: zlib.compress(raw, 9), LZMA: lzma.compress(raw, format=lzma.FORMAT_RAW, filters=lzma_filters(len(raw)))}
    coder = min(candidates, key=lambda c: len(candidates[c]))
    payload = candidates[coder]
    hint = os.fsencode(model_hint)[:65535]  # a path as the file system spells it, UTF-8 or not
    header = MAGIC + struct.pack("<BB32sIHfBB", VERSION, coder, bytes.fromhex(sha256), count, dims, step, width,
                                 len(sample_shape))
    body = header + struct.pack(f"<{len(sample_shape)}H", *sample_shape) + struct.pack("<H", len(hint)) + hint
    body += struct.pack("<I", len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


@dataclass
class Header:
    """A container's fields, read and checked without inflating its payload."""

    coder: int
    model_sha256: str
    count: int
    dims: int
    step: float
    width: int
    sample_shape: tuple[int, ...]
    model_hint: str
    payload: bytes


def read_header(blob: bytes) -> Header:
    """The checked header of a container (magic, CRC, version, sizes), its payload not yet inflated."""
    if len(blob) < 4 or blob[:4] != MAGIC:
        raise GenlabError("not a genlab compressed file (its first bytes are not GLZC)")
    if len(blob) < HEADER_BYTES + 4:
        raise GenlabError("the compressed file is truncated")
    body, (crc,) = blob[:-4], struct.unpack("<I", blob[-4:])
    if zlib.crc32(body) != crc:
        raise GenlabError("the compressed file is damaged (checksum mismatch); nothing was decoded")
    try:
        return _parse_header(body)
    except (struct.error, ValueError, IndexError) as error:  # a header that passed the CRC but does not add up
        raise GenlabError(f"the compressed file's header is inconsistent ({error}); nothing was decoded") from None


def unpack(blob: bytes, model=None) -> Compressed:
    """A container's codes; with `model`, checked to be that model's before anything is inflated."""
    header = read_header(blob)
    if model is not None:
        check_model(model, header)
    expected = header.count * header.dims * header.width
    raw = _decode_payload(header.payload, header.coder, expected)
    if len(raw) != expected:
        raise GenlabError("the compressed file's payload does not hold the codes its header announces")
    quantised = np.frombuffer(raw, dtype="<i1" if header.width == 1 else "<i2").reshape(header.dims, header.count).T
    return Compressed(header.model_sha256, header.step, header.sample_shape, quantised.astype(np.int32),
                      header.model_hint)


def _parse_header(body: bytes) -> Header:
    version, coder, sha, count, dims, step, width, rank = struct.unpack_from("<BB32sIHfBB", body, 4)
    if version != VERSION:
        raise GenlabError(f"compressed file format version {version} is not supported (this genlab reads {VERSION})")
    if coder not in (ZLIB, LZMA) or width not in (1, 2) or not (math.isfinite(step) and step > 0):
        raise GenlabError("the compressed file's header names an unknown coder, value width or step")
    offset = HEADER_BYTES
    shape = struct.unpack_from(f"<{rank}H", body, offset)
    offset += 2 * rank
    (hint_length,) = struct.unpack_from("<H", body, offset)
    hint = os.fsdecode(body[offset + 2 : offset + 2 + hint_length])
    offset += 2 + hint_length
    (payload_length,) = struct.unpack_from("<I", body, offset)
    if offset + 4 + payload_length != len(body):
        raise GenlabError("the compressed file's payload does not end where its header says")
    if count * dims * width > MAX_RATIO[coder] * payload_length + 1024:
        raise GenlabError(f"the compressed file announces {count:,} codes of {dims} values, more than its "
                          f"{payload_length:,}-byte payload can hold; it is damaged or crafted")
    return Header(coder, sha.hex(), count, dims, float(step), width, tuple(shape), hint, body[offset + 4 :])


def _decode_payload(payload: bytes, coder: int, expected: int) -> bytes:
    """Inflate at most `expected` + 1 bytes, so a crafted file cannot make us allocate more than it announced."""
    try:
        if coder == ZLIB:
            return zlib.decompressobj().decompress(payload, expected + 1)
        return lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=LZMA_FILTERS).decompress(payload, max_length=expected + 1)
    except (zlib.error, lzma.LZMAError) as error:
        raise GenlabError(f"the compressed payload cannot be decoded ({error})") from None


def check_compressible(model) -> None:
    model.require("label_free_codes", "compress")


def compress_files(model, inputs, output: str | Path, step: float = 0.1, model_hint: str | Path = "") -> tuple[int, int]:
    """Compress image files, folders or arrays into one file at `output`; return (samples, bytes).

    With `model_hint` a run directory, the exact weights used are kept in the run (RUN/snapshots/)
    so that the file can be decoded after the run is trained further.
    """
    output = check_output_path(output, (Path(output).suffix.lower(),))  # any name; refuses a file in its way
    check_compressible(model)
    x, _ = read_inputs(model, inputs)
    blob = compress(model, x, step, model_hint=str(Path(model_hint).resolve()) if model_hint else "")
    run = RunDirectory.find(model_hint) if model_hint else None
    if run is not None:
        snapshot = run.snapshot_dir(model_sha256(model))
        if not (snapshot / WEIGHTS_FILE).is_file():
            model.save_pretrained(snapshot)
    write_bytes_atomic(output, blob)
    return len(x), len(blob)


def decompress_file(path: str | Path, output: str | Path, run: str | Path | None = None,
                    device: str = "cpu") -> tuple[int, list[Path]]:
    """Decode a file written by compress_files into `output` (a folder of PNGs or an array file)."""
    check_output_path(output, ("", ".npy", ".npz", ".csv"))
    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"{path}: no such file")
    blob = path.read_bytes()
    header = read_header(blob)
    run = run or header.model_hint
    if not run or not Path(run).exists():
        raise GenlabError(f"the model this file was made with ({run or 'unrecorded'}) is not there; give it with --run RUN")
    model = load(run, device=device)
    if model_sha256(model) != header.model_sha256:
        model = _snapshot_model(run, header.model_sha256, device) or model  # the run was trained further since
    decoded = decompress(model, blob)
    names = [f"{path.stem}_{i:05d}" for i in range(len(decoded))]
    return len(decoded), write_samples(model, decoded, output, names)


def _snapshot_model(run: str | Path, digest: str, device: str):
    """The weights a file was compressed with, kept in the run when it was made; None when not kept."""
    directory = RunDirectory.find(run)
    snapshot = directory.snapshot_dir(digest) if directory is not None else None
    if snapshot is None or not (snapshot / WEIGHTS_FILE).is_file():
        return None
    model = load(snapshot, device=device)
    logger.info(f"decoding with the weights this file was made with ({snapshot}); the run was trained further since")
    return model
