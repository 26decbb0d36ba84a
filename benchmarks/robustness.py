"""Hostile users: bad inputs against every genlab command and the Python API, and SIGKILLs during training.

Part A (cases): each case writes a hostile input into a fresh folder and runs one genlab
command (or a small Python script against the API, or a request to the explorer through
FastAPI's TestClient) in a child process under a 6 GiB address-space limit and a time
limit. Each case says whether genlab should refuse it or accept it, and gets one outcome:

    clean            refused as documented: exit status 2 (1 for a diverged training), exactly one
                     line starting with "error:" on stderr, no traceback, nothing left behind
    accepted         accepted where acceptance is right, and what it wrote is right
    traceback        a Python traceback instead of a one-line error
    oom              MemoryError, an allocator failure or death by a signal (the address-space limit)
    silent           accepted where it should have been refused (or results of older weights shown)
    leftover         refused, but files were left behind or changed: half-written outputs, *.tmp scratch
                     files, a half-made run directory; or scratch files a restart should have cleaned up
    bad-mode         written files ignore the process umask
    bad-message      refused without exactly one "error:" line, or with another exit status
    wrongly-refused  refused where it should have been accepted
    timeout          still running at the time limit
    setup-error      the case could not be prepared (a preparatory genlab command failed)

Part B (kills): VAE and GAN trainings on digits are SIGKILLed at random moments (seeded),
some at random times, some the moment a checkpoint or model scratch file appears; each is
then resumed with `genlab train --resume` to completion and compared with an uninterrupted
reference run of the same settings and seed: the weights file bytes, the validation lines
of metrics.jsonl (none duplicated), and no *.tmp file left in the run.

    python benchmarks/robustness.py              # everything, about an hour on 2 cores
    python benchmarks/robustness.py --quick      # two cases of each class and 3 kills
    python benchmarks/robustness.py --only memory
    python benchmarks/robustness.py --case memory-npy-huge-shape-train --keep   # one case; its folder is kept
    python benchmarks/robustness.py --list

Only the full run writes benchmarks/results/robustness.json; partial runs write with --output.
The children run a copy of src/genlab taken at the start (its SHA-256 is recorded), so that
edits made to the working tree during the campaign do not mix into one run.
Full-disk cases use a tiny tmpfs when this process may mount one (root), else RLIMIT_FSIZE
(with SIGXFSZ ignored, so the write fails with EFBIG); permission cases drop the
capabilities that let root ignore file modes.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import io
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = "none: each case passes or fails"

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GENLAB_SCRIPT = Path(PYTHON).parent / "genlab"
GENLAB = [str(GENLAB_SCRIPT)] if GENLAB_SCRIPT.is_file() else [PYTHON, "-m", "genlab"]
MEMORY_LIMIT = 6 << 30  # bytes of address space per child
CASE_TIMEOUT = 120  # seconds per case
SEED = 0
HUGE = 2_000_000_000
CLASSES = ("memory", "traceback", "silent", "writers", "stale", "umask", "explorer", "other")
OUTCOMES = ("clean", "accepted", "traceback", "oom", "silent", "leftover", "bad-mode", "bad-message",
            "wrongly-refused", "timeout", "setup-error")
GOOD = ("clean", "accepted")
OOM_MARKERS = ("MemoryError", "Unable to allocate", "Cannot allocate memory", "can't allocate memory",
               "std::bad_alloc", "out of memory", "OutOfMemoryError")
ERROR_LINE = re.compile(r"^(error:|genlab[\w -]*: error:)")
STALE_WORDS = re.compile(r"stale|older weights|earlier weights|out of date|outdated|no longer match|different weights"
                         r"|not (?:for|of) the current", re.IGNORECASE)

# small, fast training settings (digits: 1,280 training images, 20 batches of 64 per epoch)
TINY = ["--set", "train.batch_size=64", "--set", "train.tensorboard=false", "--set", "train.preview_samples=16"]
SMALL_AE = ["--set", "model.hidden=[32]", "--set", "model.latent_dim=4"]
SMALL_GAN = ["--set", "model.width=8", "--set", "model.latent_dim=8", "--set", "model.monitor_samples=0"]

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2
LIBC = ctypes.CDLL(None, use_errno=True)


# ---- child processes ---------------------------------------------------------------------


@dataclass
class Run:
    """One command of a case and how to run and judge it."""

    argv: list[str]
    timeout: float = CASE_TIMEOUT
    umask: int = 0o022
    file_limit: int | None = None  # RLIMIT_FSIZE in bytes: a "full disk" without a filesystem
    no_dac: bool = False  # without root's power to ignore file modes (chmod 000 then means something)
    check: Callable | None = None  # (result, before, after snapshots) -> (outcome, note) to override, or None
    allowed_new: tuple[str, ...] = ()  # paths (relative to the case folder) a refusal may leave or change
    script: str | None = None  # the Python a case runs, kept for the record
    cleanup: list[Callable] = field(default_factory=list)


@dataclass
class Result:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool


def snapshot_source(workspace: Path) -> dict:
    """Copy genlab's source as it is now, so that edits made while the campaign runs do not mix into it."""
    source = REPO / "src" / "genlab"
    target = workspace / "src" / "genlab"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    for path in sorted(target.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(target)).encode() + b"\0" + path.read_bytes())
    status = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True).stdout
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"path": str(target.parent), "head": head, "tree_sha256": digest.hexdigest(),
            "uncommitted_changes_in_src": bool(status.strip()), "taken": time.strftime("%Y-%m-%d %H:%M:%S")}


def child_env(workspace: Path) -> dict:
    env = dict(os.environ)
    if (workspace / "src").is_dir():  # the snapshot comes before the editable install on the path
        env["PYTHONPATH"] = str(workspace / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                "GENLAB_DATA": str(workspace / "genlab-data"), "MPLCONFIGDIR": str(workspace / "matplotlib"),
                "COLUMNS": "200"})
    return env


def limits(umask: int = 0o022, file_limit: int | None = None, no_dac: bool = False) -> Callable[[], None]:
    """What the child sets up before exec: memory and core limits, umask, file size limit, capabilities."""

    def setup() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.umask(umask)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a harness started in the background ignores Ctrl+C, and children inherit that
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
        if no_dac:  # dropped from the bounding set, so the exec'd root process cannot ignore file modes
            for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
                LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)

    return setup


def execute(run: Run, cwd: Path, env: dict) -> Result:
    started = time.perf_counter()
    process = subprocess.Popen(run.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=limits(run.umask, run.file_limit, run.no_dac))
    timed_out = False
    try:
        out, err = process.communicate(timeout=run.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(process)
        out, err = process.communicate()
    return Result(process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  time.perf_counter() - started, timed_out)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---- judging -----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> what it is (a file's digest, 'dir', a link's target); links are never followed."""
    state = {}
    FILE_MODES.clear()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            try:
                info = path.lstat()
            except OSError:
                continue
            FILE_MODES[relative] = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                state[relative] = "link:" + os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                state[relative] = "dir"
            elif not stat.S_ISREG(info.st_mode):
                state[relative] = "special"
            elif info.st_size > 64 << 20 or not os.access(path, os.R_OK) or not info.st_mode & 0o444:
                state[relative] = f"size:{info.st_size}:{info.st_mtime_ns}"
            else:
                state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def is_scratch(relative: str) -> bool:
    return Path(relative).name.endswith(".tmp")


def changes(before: dict, after: dict, allowed: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """New paths and changed files between two snapshots (ignoring the lock file and allowed paths)."""
    def free(relative):  # an allowed entry ending in "/" allows a whole folder
        return Path(relative).name == ".lock" or "__pycache__" in relative or relative in allowed or any(
            a.endswith("/") and (relative == a[:-1] or relative.startswith(a)) for a in allowed)
    new = sorted(p for p in after if p not in before and not free(p))
    changed = sorted(p for p in after if p in before and after[p] != before[p] and not free(p))
    return new, changed


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ERROR_LINE.match(line)]


def classify(expect: str, result: Result, before: dict, after: dict, run: Run) -> tuple[str, str]:
    """The outcome of one case and a note on why."""
    err = result.stderr
    if result.timed_out:
        return "timeout", f"still running after {run.timeout:.0f} s"
    if result.returncode is not None and result.returncode < 0:
        return "oom", f"killed by signal {-result.returncode}"
    traceback = "Traceback (most recent call last)" in err
    if (traceback or not error_lines(err)) and any(marker in err for marker in OOM_MARKERS):
        return "oom", last_line(err)  # a clean error may name memory; a crash that runs out of it is no refusal
    if traceback:
        return "traceback", last_line(err)
    new, changed = changes(before, after, run.allowed_new)
    scratch = [p for p in new if is_scratch(p)]
    if result.returncode == 0:
        outcome, note = ("accepted", "") if expect in ("accept", "either") else ("silent", "exit status 0")
        if scratch:
            outcome, note = "leftover", "scratch files left: " + ", ".join(scratch[:5])
    else:
        lines = error_lines(err)
        if result.returncode not in (1, 2) or len(lines) != 1:
            return "bad-message", f"exit status {result.returncode}, {len(lines)} error lines"
        outcome, note = ("wrongly-refused", "") if expect == "accept" else ("clean", "")
        if result.returncode == 1:  # a diverged training logs the steps it made before stopping
            changed = [p for p in changed if Path(p).name != "metrics.jsonl"]
        if outcome == "clean" and (new or changed):
            outcome = "leftover"
            note = "; ".join(part for part in (
                "left: " + ", ".join(new[:6]) + (f" (+{len(new) - 6})" if len(new) > 6 else "") if new else "",
                "changed: " + ", ".join(changed[:6]) if changed else "") if part)
    if run.check is not None and outcome in ("accepted", "clean", "silent"):
        verdict = run.check(result, before, after)
        if verdict is not None:
            return verdict
    return outcome, note


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


# ---- files a hostile user makes ----------------------------------------------------------


def npy_header(shape: tuple, descr: str = "<f4", data: bytes = b"\0" * 256) -> bytes:
    """A .npy file whose header declares `shape` over a few bytes of data."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data


def zeros_deflated(count: int) -> bytes:
    """zlib stream of `count` zero bytes, made in blocks (about 1 KB per MB)."""
    compressor, block, parts = zlib.compressobj(9), bytes(16 << 20), []
    while count > 0:
        parts.append(compressor.compress(block[:min(count, len(block))]))
        count -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit grey PNG of width x height zero pixels: a few hundred KB for billions of pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = 1 + (width + 7) // 8
    compressor, rows_per_block, parts, left = zlib.compressobj(9), max(1, (8 << 20) // row), [], height
    block = bytes(row * rows_per_block)
    while left > 0:
        count = min(left, rows_per_block)
        parts.append(compressor.compress(block[:count * row]))
        left -= count
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def png(array: np.ndarray, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def glz(sha: bytes, count: int, dims: int, width: int, shape: tuple, payload: bytes, *, coder: int = 1,
        step: float = 0.1, hint: bytes = b"", version: int = 1) -> bytes:
    """A compressed container in the documented version-1 layout (genlab.apps.codec), with a valid CRC."""
    body = b"GLZC" + struct.pack("<BB32sIHfBB", version, coder, sha, count, dims, step, width, len(shape))
    body += struct.pack(f"<{len(shape)}H", *shape) + struct.pack("<H", len(hint)) + hint
    body += struct.pack("<I", len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def read_glz(blob: bytes) -> dict:
    version, coder, sha, count, dims, step, width, rank = struct.unpack_from("<BB32sIHfBB", blob, 4)
    offset = 50
    shape = struct.unpack_from(f"<{rank}H", blob, offset)
    offset += 2 * rank
    (hint_length,) = struct.unpack_from("<H", blob, offset)
    hint = blob[offset + 2:offset + 2 + hint_length]
    offset += 2 + hint_length
    (payload_length,) = struct.unpack_from("<I", blob, offset)
    payload = blob[offset + 4:offset + 4 + payload_length]
    return {"coder": coder, "sha": sha, "count": count, "dims": dims, "step": step, "width": width,
            "shape": shape, "hint": hint, "payload": payload}


def flip_bit(path: Path, offset: int, bit: int = 4) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def safetensors_data_offset(path: Path) -> tuple[int, int]:
    """Where a safetensors file's tensor data starts, and its length."""
    blob = path.read_bytes()
    (header,) = struct.unpack("<Q", blob[:8])
    return 8 + header, len(blob) - 8 - header


def checkpoint_split(blob: bytes) -> tuple[bytes, bytes]:
    """A checkpoint's first line (b"" for a bare torch.save zip) and the torch.save bytes after it."""
    if blob[:2] == b"PK":
        return b"", blob
    line, _, payload = blob.partition(b"\n")
    return line + b"\n", payload


def checkpoint_join(line: bytes, payload: bytes) -> bytes:
    """Put a checkpoint back together; a first line "MAGIC VERSION SHA256" gets the digest of the new payload."""
    fields = line.split()
    if len(fields) == 3:
        line = b" ".join(fields[:2] + [hashlib.sha256(payload).hexdigest().encode()]) + b"\n"
    return line + payload


def zip_record_offset(path: Path, suffix: str) -> tuple[int, int]:
    """Byte offset in the file and size of the stored record ending in `suffix` inside a checkpoint's torch.save zip."""
    line, blob = checkpoint_split(path.read_bytes())
    info = next(i for i in zipfile.ZipFile(io.BytesIO(blob)).infolist() if i.filename.endswith(suffix))
    name_length, extra_length = struct.unpack("<HH", blob[info.header_offset + 26:info.header_offset + 30])
    return len(line) + info.header_offset + 30 + name_length + extra_length, info.file_size


def last_storage(path: Path) -> str:
    _, blob = checkpoint_split(path.read_bytes())
    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    numbers = [int(n.rsplit("/", 1)[1]) for n in names if re.search(r"/data/\d+$", n)]
    return f"/data/{max(numbers)}"


def edit_checkpoint(path: Path, change: Callable[[dict], object], legacy: bool = False) -> None:
    """Rewrite a checkpoint's state as a careful user would: the recorded digest made to match again."""
    import torch

    line, payload = checkpoint_split(path.read_bytes())
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    replaced = change(state)
    buffer = io.BytesIO()
    torch.save(state if replaced is None else replaced, buffer, _use_new_zipfile_serialization=not legacy)
    path.write_bytes(checkpoint_join(line, buffer.getvalue()))


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    replaced = change(data)
    path.write_text(json.dumps(data if replaced is None else replaced, indent=2))


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SetupError(f"{path}: {old!r} not found")
    path.write_text(text.replace(old, new, 1))


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root in a container that allows it)."""
    probe = Path(tempfile.mkdtemp(prefix="genlab-mount-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(probe)],
                                 capture_output=True).returncode == 0
        if mounted:
            subprocess.run(["umount", str(probe)], check=True)
        return mounted
    except OSError:
        return False
    finally:
        probe.rmdir()


# ---- the case folder -----------------------------------------------------------------------


class Ctx:
    """A case's fresh folder, the shared fixtures, and ways to build a command."""

    def __init__(self, folder: Path, fixtures: Path, env: dict, mountable: bool):
        self.dir, self.fix, self.env, self.mountable = folder, fixtures, env, mountable
        self.cleanup: list[Callable] = []

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def npy(self, name: str, array) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array, allow_pickle=True)
        return path

    def npz(self, name: str, **arrays) -> Path:
        path = self.dir / name
        np.savez(path, **arrays)
        return path

    def copy(self, fixture: str, name: str | None = None) -> Path:
        """A private copy of a fixture run or file."""
        source, target = self.fix / fixture, self.dir / (name or Path(fixture).name)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy(source, target)
        return target

    def link(self, fixture: str, name: str) -> Path:
        """A hard link to a (large) fixture file."""
        target = self.dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(self.fix / fixture, target)
        return target

    def setup(self, *args: str, timeout: float = 300) -> None:
        """A preparatory genlab command; it must succeed."""
        done = subprocess.run(GENLAB + [str(a) for a in args], cwd=self.dir, env=self.env, capture_output=True,
                              text=True, timeout=timeout, preexec_fn=limits())
        if done.returncode != 0:
            raise SetupError(f"genlab {' '.join(map(str, args))}: {last_line(done.stderr)}")

    def full_disk(self, name: str = "disk", size: str = "64k", filled: bool = True) -> Path | None:
        """A tmpfs of `size` at `name` (filled up unless `filled` is false); None where mounting is not allowed."""
        if not self.mountable:
            return None
        point = self.dir / name
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(point)], check=True)
        self.cleanup.append(lambda: subprocess.run(["umount", "-l", str(point)], check=False))
        if filled:
            fill(point)
        return point

    def genlab(self, *args, **options) -> Run:
        return Run(GENLAB + [str(a) for a in args], **options)

    def train(self, model: str, *args, data: str | Path = "digits", run_dir: str | Path = "run", epochs: int = 1,
              **options) -> Run:
        small = SMALL_GAN if model in ("gan", "cgan") else SMALL_AE
        return self.genlab("train", model, "--data", data, "--epochs", epochs, "--run-dir", run_dir, *TINY, *small,
                           *args, **options)

    def python(self, body: str, **options) -> Run:
        """A script against the Python API: a GenlabError becomes one "error:" line and exit status 2."""
        script = (
            "import sys\n\nimport numpy as np\n\nimport genlab\nfrom genlab.errors import GenlabError\n\n"
            f"FIX = {str(self.fix)!r}\n\n"
            "def refused(message):\n"
            "    print('error: ' + ' '.join(str(message).split()), file=sys.stderr)\n"
            "    sys.exit(2)\n\n"
            "try:\n" + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
            + "except GenlabError as error:\n    refused(error)\n")
        self.write("case.py", script)
        return Run([PYTHON, "case.py"], script=script, **options)

    def explorer(self, run: str, request: str, prelude: str = "", **options) -> Run:
        """A request to the explorer of fixture `run` through TestClient: 4xx -> refused, 5xx -> a traceback."""
        body = prelude + f"""
from fastapi.testclient import TestClient
from genlab.serve.app import create_app

client = TestClient(create_app(FIX + {'/' + run!r}, "cpu"))
response = {request}
if response.status_code >= 400:
    try:
        detail = response.json()
    except ValueError:
        detail = response.text
    if response.status_code >= 500:
        raise SystemExit(f"server error {{response.status_code}}: {{detail}}")
    refused(f"HTTP {{response.status_code}}: {{detail}}")
"""
        return self.python(body, **options)


class SetupError(RuntimeError):
    pass


@dataclass
class Case:
    id: str
    klass: str
    expect: str  # refuse, accept, or either (any clean behaviour)
    description: str
    build: Callable[[Ctx], Run]


CASES: list[Case] = []


def add(klass: str, name: str, expect: str, description: str, build: Callable[[Ctx], Run]) -> None:
    assert klass in CLASSES and expect in ("refuse", "accept", "either")
    case_id = f"{klass}-{name}"
    assert all(c.id != case_id for c in CASES), case_id
    CASES.append(Case(case_id, klass, expect, description, build))


# ---- checks on what an accepted command wrote ----------------------------------------------


def mode_check(umask: int) -> Callable:
    """Every file and folder the command made or rewrote must have the modes the umask gives."""
    def check(result: Result, before: dict, after: dict):
        if result.returncode != 0:
            return None
        wrong = []
        for relative, what in sorted(after.items()):
            if before.get(relative) == what or what.startswith("link:") or relative == "case.py":
                continue
            mode = FILE_MODES.get(relative)
            want = (0o777 if what == "dir" else 0o666) & ~umask
            if mode is not None and mode != want:
                wrong.append(f"{relative} {mode:04o}")
        if wrong:
            return "bad-mode", f"umask {umask:03o} gives {0o666 & ~umask:04o} files, {0o777 & ~umask:04o} folders; got " \
                + ", ".join(wrong[:8]) + (f" (+{len(wrong) - 8})" if len(wrong) > 8 else "")
        return None
    return check


FILE_MODES: dict[str, int] = {}  # relative path -> permission bits, from the latest snapshot


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unchanged(path: Path, outcome: str, note: str, also: Callable[[Result], bool] = lambda _: True) -> Callable:
    """`outcome` when the command succeeded and left `path` as it was when the case was built."""
    digest = file_digest(path) if path.is_file() else None

    def check(result: Result, before: dict, after: dict):
        if result.returncode == 0 and path.is_file() and file_digest(path) == digest and also(result):
            return outcome, note
        return None
    return check


def gone(paths: list[Path]) -> Callable:
    """Leftover when any of `paths` (planted scratch files) still exists after the command."""
    def check(result: Result, before: dict, after: dict):
        remaining = [p.name for p in paths if p.exists()]
        if remaining:
            return "leftover", "scratch files not cleaned up: " + ", ".join(remaining)
        return None
    return check


def stdout_says(pattern: str, outcome: str) -> Callable:
    """`outcome` with the matching stdout line as its note, when stdout has a line matching `pattern`."""
    def check(result: Result, before: dict, after: dict):
        for line in result.stdout.splitlines():
            if re.search(pattern, line):
                return outcome, line.strip()[:300]
        return None
    return check


# ---- A. the cases -----------------------------------------------------------------------------
# Fixtures ($FIX): runs vae, vae-seed-1, cvae, gan (digits, one epoch) and detector (records.csv, 4 numeric columns);
# inputs.npy (10 digits in the data's units), pngs/ (three 8x8 PNGs), codes.glz (inputs.npy compressed by vae),
# the vae's mixture cache (samplers/gmm-10.npz), and large hostile files made once (PNG and zlib bombs).

def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def huge_label_npz(c: Ctx, value: int, rows: int = 50) -> Path:
    labels = rng().integers(0, 10, rows)
    labels[7] = value
    return c.npz("huge-label.npz", x=rng().random((rows, 64), dtype=np.float32), y=labels)


def huge_npy(c: Ctx, shape: tuple, descr: str = "<f4", name: str = "huge.npy") -> Path:
    return c.write(name, npy_header(shape, descr))


def huge_npz(c: Ctx, shape: tuple) -> Path:
    path = c.path("huge.npz")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", npy_header(shape))
    return path


def vae(c: Ctx) -> str:
    return f"{c.fix}/vae"


def fixture_glz(c: Ctx) -> dict:
    return read_glz((c.fix / "codes.glz").read_bytes())


def crafted_glz(c: Ctx, **changes) -> Path:
    """codes.glz with header fields or payload replaced, its CRC made valid again."""
    fields = {**fixture_glz(c), **changes}
    return c.write("crafted.glz", glz(fields["sha"], fields["count"], fields["dims"], fields["width"], fields["shape"],
                                      fields["payload"], coder=fields["coder"], step=fields["step"],
                                      hint=fields["hint"], version=fields.get("version", 1)))


def images_folder(c: Ctx, files: dict[str, bytes] | None = None, name: str = "images") -> Path:
    folder = c.path(name)
    folder.mkdir(parents=True, exist_ok=True)
    for file, data in (files or {}).items():
        (folder / file).write_bytes(data)
    return folder


def digit_png(index: int = 0) -> bytes:
    return (Path(FIXTURES_HOLDER[0]) / "pngs" / f"digit{index}.png").read_bytes()


FIXTURES_HOLDER: list[Path] = []  # set once the fixtures exist, for builders that read them


def billion_laughs(inner: str = "x") -> str:
    lines = [f'a0: &a0 ["{inner}", "{inner}", "{inner}", "{inner}", "{inner}", "{inner}", "{inner}", "{inner}", "{inner}", "{inner}"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


# memory: tiny files that declare or inflate to huge sizes
add("memory", "npz-huge-label-ae", "either", "a 50-row .npz whose labels y hold one value 10**12 (train ae, which ignores labels)",
    lambda c: c.train("ae", data=huge_label_npz(c, 10**12)))
add("memory", "npz-huge-label-cvae", "refuse", "a 50-row .npz whose labels y hold one value 10**12 (train cvae: one-hot labels)",
    lambda c: c.train("cvae", data=huge_label_npz(c, 10**12)))
add("memory", "npz-huge-label-supervised", "refuse", "a 50-row .npz whose labels hold 10**12 (train supervised-ae)",
    lambda c: c.train("supervised-ae", data=huge_label_npz(c, 10**12)))
add("memory", "npz-label-2e62-cgan", "refuse", "a 50-row .npz whose labels hold 2**62 (train cgan)",
    lambda c: c.train("cgan", data=huge_label_npz(c, 2**62)))
add("memory", "csv-huge-label-cvae", "refuse", "a 50-row CSV whose label column holds one 1e15 (train cvae)",
    lambda c: c.train("cvae", data=c.write("records.csv", "a,b,c,label\n" + "".join(
        f"{i % 7},{i % 5},{i % 3},{10**15 if i == 7 else i % 10}\n" for i in range(50)))))
add("memory", "api-huge-label-cvae", "refuse", "genlab.train('cvae', data=(X, y)) in memory with one label 10**12",
    lambda c: c.python("""
        X = np.random.default_rng(0).random((50, 64), dtype=np.float32)
        y = np.arange(50) % 10
        y[7] = 10**12
        genlab.train("cvae", data=(X, y), epochs=1, run_dir="run", progress=False, overrides={"train.tensorboard": False})
    """))
add("memory", "detect-fit-huge-label", "either", "genlab detect fit on a 50-row .npz whose labels hold 10**12",
    lambda c: c.genlab("detect", "fit", "--data", huge_label_npz(c, 10**12), "--run-dir", "det", "--epochs", "1"))
add("memory", "npy-huge-shape-train", "refuse", ".npy whose header declares shape (10**12, 64) over 256 bytes (train ae)",
    lambda c: c.train("ae", data=huge_npy(c, (10**12, 64))))
add("memory", "npy-huge-uint8-images-train", "refuse", ".npy header declaring (10**9, 1, 8, 8) uint8 (train vae)",
    lambda c: c.train("vae", data=huge_npy(c, (10**9, 1, 8, 8), "|u1")))
add("memory", "npy-shape-overflow-train", "refuse", ".npy header declaring (2**40, 2**40) float32 (train ae)",
    lambda c: c.train("ae", data=huge_npy(c, (2**40, 2**40))))
add("memory", "npz-huge-shape-train", "refuse", ".npz holding x.npy whose header declares (10**12, 64) (train ae)",
    lambda c: c.train("ae", data=huge_npz(c, (10**12, 64))))
add("memory", "npy-huge-shape-compress", "refuse", "compress a .npy whose header declares (10**12, 1, 8, 8)",
    lambda c: c.genlab("compress", vae(c), huge_npy(c, (10**12, 1, 8, 8)), "-o", "out.glz"))
add("memory", "npy-huge-shape-denoise", "refuse", "denoise a .npy whose header declares (10**12, 1, 8, 8)",
    lambda c: c.genlab("denoise", vae(c), huge_npy(c, (10**12, 1, 8, 8)), "-o", "out.npy"))
add("memory", "npy-huge-shape-encode", "refuse", "encode --data a .npy whose header declares (10**12, 1, 8, 8)",
    lambda c: c.genlab("encode", vae(c), "--data", huge_npy(c, (10**12, 1, 8, 8)), "-o", "codes.npy"))
add("memory", "npy-huge-shape-reconstruct", "refuse", "reconstruct --data a .npy whose header declares (10**12, 1, 8, 8)",
    lambda c: c.genlab("reconstruct", vae(c), "--data", huge_npy(c, (10**12, 1, 8, 8)), "-o", "r.png"))
add("memory", "npy-huge-shape-detect-score", "refuse", "detect score a .npy whose header declares (10**12, 4)",
    lambda c: c.genlab("detect", "score", f"{c.fix}/detector", huge_npy(c, (10**12, 4)), "-o", "scores.csv"))
add("memory", "npy-huge-mask-inpaint", "refuse", "inpaint with a --mask .npy whose header declares (10**12, 1, 8, 8)",
    lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", huge_npy(c, (10**12, 1, 8, 8), "|u1", "mask.npy"),
                       "-o", "out.npy", "--steps", "5"))
add("memory", "api-train-huge-npy", "refuse", "genlab.train('ae', data='huge.npy') with a header declaring (10**12, 64)",
    lambda c: (huge_npy(c, (10**12, 64)), c.python("""
        genlab.train("ae", data="huge.npy", epochs=1, run_dir="run", progress=False)
    """))[1])
add("memory", "api-detector-huge-npy", "refuse", "AnomalyDetector(epochs=1).fit('huge.npy') with a header declaring (10**12, 4)",
    lambda c: (huge_npy(c, (10**12, 4)), c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector(epochs=1).fit("huge.npy")
    """))[1])
add("memory", "glz-count-edited", "refuse", "codes.glz with its image count edited to 2**32-1 (CRC recomputed); decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, count=2**32 - 1), "-o", "out"))
add("memory", "glz-count-dims-edited", "refuse", "codes.glz declaring 2**32-1 images of 65535 int16 codes (CRC valid); decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, count=2**32 - 1, dims=65535, width=2), "-o", "out"))
add("memory", "glz-rank-edited", "refuse", "codes.glz declaring a sample shape of rank 255, every size 65535 (CRC valid); decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, shape=(65535,) * 255), "-o", "out.npy"))
add("memory", "glz-zlib-bomb-honest", "refuse",
    "a 1 MB .glz whose header honestly declares 2**30/D images of the model's D int8 codes: 1 GiB of zeros deflated; decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, count=(1 << 30) // fixture_glz(c)["dims"], width=1, coder=1,
                                                 payload=(c.fix / "zeros-1g.zlib").read_bytes()), "-o", "out.npy"))
add("memory", "glz-zlib-bomb-small-header", "refuse",
    "a .glz declaring the real 10 images but whose payload inflates to 1 GiB; decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, payload=(c.fix / "zeros-1g.zlib").read_bytes()), "-o", "out.npy"))
add("memory", "glz-lzma-bomb-honest", "refuse",
    "a .glz (LZMA coder) declaring 2**28/D images of the model's D int8 codes: 256 MiB of zeros; decompress -o out/",
    lambda c: c.genlab("decompress", crafted_glz(c, count=(256 << 20) // fixture_glz(c)["dims"], width=1, coder=2,
                                                 payload=(c.fix / "zeros-256m.lzma").read_bytes()), "-o", "out"))
add("memory", "glz-huge-hint", "refuse", "a .glz whose model location is 65535 bytes of junk (no --run); decompress",
    lambda c: c.genlab("decompress", crafted_glz(c, hint=b"\xff/" * 32767), "-o", "out"))
for output in ("out.npy", "out.png", "out", "out.csv"):
    add("memory", f"sample-2e9-{output.replace('.', '-')}", "refuse", f"genlab sample -n 2000000000 -o {output}",
        lambda c, o=output: c.genlab("sample", vae(c), "-n", HUGE, "-o", o))
add("memory", "sample-2e9-gan", "refuse", "genlab sample of a GAN -n 2000000000 -o out.npy",
    lambda c: c.genlab("sample", f"{c.fix}/gan", "-n", HUGE, "-o", "out.npy"))
add("memory", "api-apps-sample-2e9", "refuse", "genlab.apps.sample(model, 2_000_000_000)",
    lambda c: c.python("genlab.apps.sample(genlab.load(FIX + '/vae'), 2_000_000_000)"))
add("memory", "api-model-sample-2e9", "refuse", "genlab.load(run).sample(2_000_000_000)",
    lambda c: c.python("genlab.load(FIX + '/vae').sample(2_000_000_000)"))
add("memory", "eval-k-2e9", "refuse", "genlab eval --metrics likelihood --k 2000000000 --limit 2 (a time bomb)",
    lambda c: c.genlab("eval", c.copy("vae"), "--metrics", "likelihood", "--k", HUGE, "--limit", "2", "--bootstrap", "0",
                       "-o", "e.json", timeout=60))
add("memory", "eval-bootstrap-2e9", "refuse", "genlab eval --metrics reconstruction --bootstrap 2000000000",
    lambda c: c.genlab("eval", c.copy("vae"), "--metrics", "reconstruction", "--limit", "20", "--bootstrap", HUGE,
                       "-o", "e.json", timeout=60))
add("memory", "gmm-components-2e9", "refuse", "genlab sample --sampler gmm --components 2000000000",
    lambda c: c.genlab("sample", c.copy("vae"), "--sampler", "gmm", "--components", HUGE, "-n", "4", "-o", "s.png"))
add("memory", "latent-interpolate-steps-2e9", "refuse", "genlab latent --plot interpolate --steps 2000000000",
    lambda c: c.genlab("latent", vae(c), "--plot", "interpolate", "--steps", HUGE, "-o", "l.png"))
add("memory", "latent-grid-steps-2e9", "refuse", "genlab latent --plot grid --steps 2000000000 (per side)",
    lambda c: c.genlab("latent", vae(c), "--plot", "grid", "--steps", HUGE, "-o", "l.png"))
add("memory", "reconstruct-n-2e9", "either", "genlab reconstruct -n 2000000000 (more than the split holds)",
    lambda c: c.genlab("reconstruct", vae(c), "-n", HUGE, "-o", "r.png"))
add("memory", "png-bomb-train", "refuse", "an image folder holding one 50000x50000 1-bit PNG (300 KB on disk; train ae)",
    lambda c: (c.link("bomb-50k.png", "images/bomb.png"), c.train("ae", data="images"))[1])
add("memory", "png-bomb-many-train", "refuse",
    "an image folder of 80 copies of a 9000x9000 1-bit PNG (each under Pillow's bomb limit; 6.5 GB decoded; train ae)",
    lambda c: ([c.link("bomb-9k.png", f"images/b{i:02d}.png") for i in range(80)], c.train("ae", data="images"))[1])
add("memory", "png-bomb-resized-train", "refuse",
    "an image folder holding one 50000x50000 PNG, with --set data.image_size=[8,8] (train ae)",
    lambda c: (c.link("bomb-50k.png", "images/bomb.png"), c.train("ae", "--set", "data.image_size=[8,8]", data="images"))[1])
add("memory", "png-bomb-compress", "refuse", "genlab compress a 50000x50000 PNG",
    lambda c: c.genlab("compress", vae(c), c.link("bomb-50k.png", "bomb.png"), "-o", "out.glz"))
add("memory", "png-bomb-denoise-folder", "refuse", "genlab denoise a folder holding a 50000x50000 PNG",
    lambda c: (c.link("bomb-50k.png", "images/bomb.png"), c.genlab("denoise", vae(c), "images", "-o", "out"))[1])
add("memory", "png-bomb-mask", "refuse", "genlab inpaint --mask a 50000x50000 PNG",
    lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.link("bomb-50k.png", "mask.png"),
                       "-o", "out.npy", "--steps", "5"))
add("memory", "png-bomb-detect-score", "refuse", "genlab detect score a 50000x50000 PNG",
    lambda c: c.genlab("detect", "score", f"{c.fix}/detector", c.link("bomb-50k.png", "bomb.png"), "-o", "s.csv"))
add("memory", "png-bomb-api-detector", "refuse", "AnomalyDetector(model='ae').fit('images') on a folder with a 50000x50000 PNG",
    lambda c: (c.link("bomb-50k.png", "images/bomb.png"), c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector(model="ae", epochs=1).fit("images")
    """))[1])
add("memory", "image-size-huge", "refuse", "three 8x8 PNGs with --set data.image_size=[100000,100000] (train ae)",
    lambda c: (images_folder(c, {f"d{i}.png": digit_png(i) for i in range(3)}),
               c.train("ae", "--set", "data.image_size=[100000,100000]", data="images"))[1])
add("memory", "yaml-bomb-config", "refuse", "genlab train --config with a billion-laughs YAML under an unknown key",
    lambda c: c.genlab("train", "ae", "--data", "digits", "--run-dir", "run", "--config",
                       c.write("bomb.yaml", billion_laughs() + "model:\n  latent_dim: 4\nextra: *a9\n"), timeout=60))
add("memory", "yaml-bomb-hidden", "refuse", "genlab train --config whose model.hidden is a billion-laughs list",
    lambda c: c.genlab("train", "ae", "--data", "digits", "--run-dir", "run", "--config",
                       c.write("bomb.yaml", billion_laughs("8") + "model:\n  hidden: *a9\n"), timeout=60))
add("memory", "yaml-bomb-resume", "refuse", "a run's config.yaml with a billion-laughs train.betas; train --resume",
    lambda c: (_bomb_config(c.copy("vae")), c.genlab("train", "--resume", "vae", "--epochs", "2", timeout=60))[1])
add("memory", "iw-samples-1e9", "refuse", "train vae --set model.iw_samples=1000000000",
    lambda c: c.train("vae", "--set", "model.iw_samples=1000000000"))
add("memory", "latent-dim-1e9", "refuse", "train ae --set model.latent_dim=1000000000",
    lambda c: c.train("ae", "--set", "model.latent_dim=1000000000"))
add("memory", "hidden-1e9", "refuse", "train ae --set model.hidden=[1000000000]",
    lambda c: c.train("ae", "--set", "model.hidden=[1000000000]"))
add("memory", "gan-width-1e6", "refuse", "train gan --set model.width=1000000",
    lambda c: c.train("gan", "--set", "model.width=1000000"))
add("memory", "batch-size-1e12", "either", "train ae --set train.batch_size=1000000000000",
    lambda c: c.train("ae", "--set", "train.batch_size=1000000000000"))
add("memory", "config-json-huge-shape", "refuse", "model/config.json data_shape edited to [1, 100000, 100000]; sample",
    lambda c: (edit_json(c.copy("vae") / "model" / "config.json", lambda d: d["config"].update(data_shape=[1, 100000, 100000])),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("memory", "config-json-huge-latent", "refuse", "model/config.json latent_dim edited to 10**9; sample",
    lambda c: (edit_json(c.copy("vae") / "model" / "config.json", lambda d: d["config"].update(latent_dim=10**9)),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("memory", "config-json-huge-hidden", "refuse", "model/config.json hidden edited to [10**9]; sample",
    lambda c: (edit_json(c.copy("vae") / "model" / "config.json", lambda d: d["config"].update(hidden=[10**9])),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("memory", "safetensors-huge-header-length", "refuse", "model.safetensors whose 8-byte header length says 2**60; sample",
    lambda c: (_patch(c.copy("vae") / "model" / "model.safetensors", 0, struct.pack("<Q", 2**60)),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("memory", "safetensors-huge-shape", "refuse", "model.safetensors whose header gives its first tensor shape [10**12]; sample",
    lambda c: (_huge_tensor_header(c.copy("vae") / "model" / "model.safetensors"),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("memory", "detector-json-k-1e9", "refuse", "detector.json with k (importance samples) edited to 10**9; detect score",
    lambda c: (edit_json(c.copy("detector") / "detector.json", lambda d: d.update(k=10**9)),
               c.genlab("detect", "score", "detector", f"{c.fix}/records.csv", "-o", "s.csv", timeout=60))[1])


def _bomb_config(run: Path) -> None:
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(billion_laughs("0.9") + re.sub(r"  betas: .*\n", "  betas: *a9\n", text))


def _patch(path: Path, offset: int, data: bytes) -> None:
    blob = bytearray(path.read_bytes())
    blob[offset:offset + len(data)] = data
    path.write_bytes(bytes(blob))


def _huge_tensor_header(path: Path) -> None:
    """Rewrite the safetensors JSON header so its first tensor claims shape [10**12] (offsets kept)."""
    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    first = next(k for k in header if k != "__metadata__")
    header[first]["shape"] = [10**12]
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + length:])


# traceback: malformed data, settings, seeds, a full disk, damaged run files
def x50() -> np.ndarray:
    return rng().random((50, 64), dtype=np.float32)


NPZ_CASES = {
    "object-x": lambda: {"x": np.array([{"a": 1}] * 50, dtype=object)},
    "object-y": lambda: {"x": x50(), "y": np.array([None] * 50, dtype=object)},
    "structured-x": lambda: {"x": np.zeros((50, 4), dtype=[("a", "f4"), ("b", "f4")])},
    "complex-x": lambda: {"x": x50().astype(np.complex64)},
    "datetime-x": lambda: {"x": np.zeros((50, 4), dtype="datetime64[s]")},
    "string-x": lambda: {"x": np.full((50, 4), "abc")},
    "unknown-keys": lambda: {"a": x50(), "b": x50()},
    "one-dimensional-x": lambda: {"x": np.arange(50, dtype=np.float32)},
    "five-dimensional-x": lambda: {"x": np.zeros((50, 1, 2, 2, 2), dtype=np.float32)},
    "label-count-mismatch": lambda: {"x": x50(), "y": np.arange(49) % 10},
    "labels-nan": lambda: {"x": x50(), "y": np.full(50, np.nan)},
    "labels-negative": lambda: {"x": x50(), "y": -(np.arange(50) % 10)},
    "labels-2d": lambda: {"x": x50(), "y": np.eye(10)[np.arange(50) % 10]},
    "x-test-shape-mismatch": lambda: {"x_train": x50(), "x_test": rng().random((10, 32), dtype=np.float32)},
}
for name, arrays in NPZ_CASES.items():
    add("traceback", f"npz-{name}", "refuse", f".npz with {name.replace('-', ' ')} (train ae)",
        lambda c, a=arrays: c.train("ae", data=c.npz("data.npz", **a())))
add("traceback", "npy-object", "refuse", ".npy of Python objects (train ae)",
    lambda c: c.train("ae", data=c.npy("objects.npy", np.array([{"a": 1}] * 50, dtype=object))))
add("traceback", "npy-object-compress", "refuse", "compress a .npy of Python objects",
    lambda c: c.genlab("compress", vae(c), c.npy("objects.npy", np.array([[1, "a"]] * 5, dtype=object)), "-o", "o.glz"))
add("traceback", "npz-object-detect-score", "refuse", "detect score a .npz whose x holds Python objects",
    lambda c: c.genlab("detect", "score", f"{c.fix}/detector",
                       c.npz("objects.npz", x=np.array([[1, "a", None, 2]] * 5, dtype=object)), "-o", "s.csv"))
add("traceback", "npz-not-a-zip", "refuse", "a .npz that is text, not a zip (train ae)",
    lambda c: c.train("ae", data=c.write("data.npz", "not a zip archive\n" * 10)))
add("traceback", "npz-no-arrays", "refuse", "a .npz holding no arrays (train ae)",
    lambda c: c.train("ae", data=c.npz("data.npz")))
add("traceback", "npy-truncated", "refuse", ".npy whose header declares (50, 64) float32 but holds 256 bytes (train ae)",
    lambda c: c.train("ae", data=huge_npy(c, (50, 64))))
add("traceback", "npy-bad-magic", "refuse", "a .npy starting with the wrong magic bytes (train ae)",
    lambda c: c.train("ae", data=c.write("data.npy", b"\x93NUMPX" + bytes(200))))
add("traceback", "npy-header-not-a-dict", "refuse", "a .npy whose header is not a Python dict literal (train ae)",
    lambda c: c.train("ae", data=c.write("data.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 54) + b"[1, 2, 3]".ljust(53) + b"\n")))
add("traceback", "npy-header-call", "refuse", "a .npy whose header dict holds a function call (train ae)",
    lambda c: c.train("ae", data=c.write("data.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
                                         + b"{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (5, 4), }".ljust(117) + b"\n")))
add("traceback", "npy-big-endian", "either", ".npy of big-endian float32 (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", x50().astype(">f4"))))
add("traceback", "npy-float16", "either", ".npy of float16 (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", x50().astype(np.float16))))
add("traceback", "npy-int64-extremes", "either", ".npy of int64 values near 2**63 (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", (rng().integers(-2**62, 2**62, (50, 8)) * 2).astype(np.int64))))
add("traceback", "npy-float64-extremes", "either", ".npy of float64 values near 1e308 (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", rng().random((50, 8)) * 1e308)))
add("traceback", "npy-inf", "refuse", ".npy holding an infinity (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", np.where(np.arange(400).reshape(50, 8) == 9, np.inf, 1.0))))

CSV_CASES = {
    "latin1": ("refuse", "a,b,café\n" + "1,2,3\n" * 50, "latin-1"),
    "utf16": ("refuse", "a,b,c\n" + "1,2,3\n" * 50, "utf-16"),
    "label-only": ("refuse", "label\n" + "".join(f"{i % 3}\n" for i in range(50)), "utf-8"),
    "header-only": ("refuse", "a,b,c\n", "utf-8"),
    "nul-bytes": ("either", "a,b,c\n" + "1,\x002,3\n" * 50, "utf-8"),
    "huge-field": ("refuse", "a,b\n" + "1," + "9" * 200_000 + "\n" + "1,2\n" * 50, "utf-8"),
    "ragged": ("refuse", "a,b,c\n" + "1,2,3\n" * 20 + "1,2\n" + "1,2,3\n" * 20, "utf-8"),
    "semicolons": ("refuse", "a;b;c\n" + "1;2;3\n" * 50, "utf-8"),
    "labels-nan": ("refuse", "a,b,label\n" + "1,2,nan\n" * 50, "utf-8"),
    "duplicate-columns": ("either", "a,a,b\n" + "".join(f"{i},{i % 3},x{i % 2}\n" for i in range(50)), "utf-8"),
    "empty-header-cell": ("either", ",b,c\n" + "".join(f"{i},{i % 3},{i % 5}\n" for i in range(50)), "utf-8"),
    "text-only": ("either", "colour,size\n" + "".join(f"c{i % 3},s{i % 4}\n" for i in range(50)), "utf-8"),
    "overflowing-number": ("refuse", "a,b\n" + "1,2\n" * 20 + "1e999,2\n" + "1,2\n" * 20, "utf-8"),
    "many-label-names": ("either", "a,b,label\n" + "".join(f"{i},{i % 7},name{i}\n" for i in range(50)), "utf-8"),
    "quote-never-closed": ("refuse", 'a,b\n1,"2\n' + "3,4\n" * 50, "utf-8"),
}
for name, (expect, text, encoding) in CSV_CASES.items():
    add("traceback", f"csv-{name}", expect, f"a CSV with {name.replace('-', ' ')} (train ae)",
        lambda c, t=text, e=encoding: c.train("ae", data=c.write("data.csv", t.encode(e))))
add("traceback", "csv-label-only-detect-fit", "refuse", "genlab detect fit on a CSV with only a label column",
    lambda c: c.genlab("detect", "fit", "--data", c.write("data.csv", "label\n" + "1\n" * 50), "--run-dir", "det", "--epochs", "1"))
add("traceback", "csv-latin1-detect-score", "refuse", "genlab detect score a latin-1 CSV",
    lambda c: c.genlab("detect", "score", f"{c.fix}/detector", c.write("new.csv", "a,b,c,d\n1,2,3,caf\xe9\n".encode("latin-1")),
                       "-o", "s.csv"))

SETTINGS = {
    "lr-nan": "train.lr=nan", "lr-inf": "train.lr=inf", "lr-negative": "train.lr=-1", "lr-text": "train.lr=fast",
    "batch-size-0": "train.batch_size=0", "batch-size-negative": "train.batch_size=-5",
    "batch-size-fraction": "train.batch_size=1.5", "latent-dim-0": "model.latent_dim=0",
    "latent-dim-negative": "model.latent_dim=-3", "latent-dim-1e400": "model.latent_dim=1e400",
    "latent-dim-list": "model.latent_dim=[1,2]", "hidden-empty": "model.hidden=[]", "hidden-zero": "model.hidden=[0]",
    "hidden-negative": "model.hidden=[-4]", "hidden-text": "model.hidden=wide", "grad-clip-nan": "train.grad_clip=nan",
    "grad-clip-negative": "train.grad_clip=-1", "log-every-0": "train.log_every=0",
    "checkpoint-every-negative": "train.checkpoint_every=-1", "beta-nan": "model.beta=nan",
    "beta-negative": "model.beta=-1", "val-fraction-1.5": "data.val_fraction=1.5", "val-fraction-nan": "data.val_fraction=nan",
    "test-fraction-0.99": "data.test_fraction=0.99", "max-minutes-nan": "train.max_minutes=nan",
    "max-minutes-negative": "train.max_minutes=-1", "precision-fp8": "train.precision=fp8",
    "device-cuda-99": "train.device=cuda:99", "optimizer-unknown": "train.optimizer=lbfgs",
    "scheduler-unknown": "train.scheduler=sometimes", "warmup-negative": "train.warmup_steps=-5",
    "betas-out-of-range": "train.betas=[2,2]", "betas-scalar": "train.betas=5", "weight-decay-nan": "train.weight_decay=nan",
    "momentum-text": "train.momentum=high", "step-gamma-nan": "train.step_gamma=nan",
    "kl-warmup-negative": "model.kl_warmup_steps=-1", "activation-unknown": "model.activation=swish2",
    "likelihood-unknown": "model.likelihood=poisson", "normalize-unknown": "data.normalize=sometimes",
    "label-column-missing": "data.label_column=nope", "split-seed-text": "data.split_seed=abc",
    "no-equals": "train.lr", "empty-key": "=5", "section-scalar": "model=5", "unknown-key": "model.nope=1",
    "unknown-section": "nope.lr=1", "seed-text": "seed=abc", "seed-1e400": "seed=1e400", "epochs-text": "train.epochs=many",
    "trim-fraction-1": "model.trim_fraction=1.0", "min-sigma-negative": "model.min_sigma=-1",
}
for name, setting in SETTINGS.items():
    expect = "either" if name in ("test-fraction-0.99",) else "refuse"
    add("traceback", f"set-{name}", expect, f"genlab train vae --set {setting}",
        lambda c, s=setting: c.train("vae", "--set", s))
add("traceback", "epochs-negative", "refuse", "genlab train vae --epochs -1", lambda c: c.train("vae", epochs=-1))

SEED_64 = str(2**64)
add("traceback", "seed-2e64-train", "refuse", "genlab train vae --seed 2**64 (beyond 64 bits)",
    lambda c: c.train("vae", "--seed", SEED_64))
add("traceback", "seed-below-int64-train", "refuse", "genlab train vae --seed -(2**63)-1",
    lambda c: c.train("vae", "--seed", str(-2**63 - 1)))
add("traceback", "seed-negative-train", "either", "genlab train vae --seed -1", lambda c: c.train("vae", "--seed", "-1"))
add("traceback", "seed-2e64-sample", "refuse", "genlab sample --seed 2**64",
    lambda c: c.genlab("sample", vae(c), "-n", "4", "--seed", SEED_64, "-o", "s.png"))
add("traceback", "seed-2e64-eval", "refuse", "genlab eval --metrics reconstruction --seed 2**64",
    lambda c: c.genlab("eval", c.copy("vae"), "--metrics", "reconstruction", "--limit", "20", "--bootstrap", "10",
                       "--seed", SEED_64, "-o", "e.json"))
add("traceback", "seed-2e64-detect-fit", "refuse", "genlab detect fit --seed 2**64",
    lambda c: c.genlab("detect", "fit", "--data", f"{c.fix}/records.csv", "--run-dir", "det", "--epochs", "1",
                       "--seed", SEED_64))
add("traceback", "seed-2e70-api-train", "refuse", "genlab.train(..., overrides={'seed': 2**70})",
    lambda c: c.python("genlab.train('ae', data='digits', epochs=1, run_dir='run', progress=False, overrides={'seed': 2**70})"))
add("traceback", "seed-2e70-api-sample", "refuse", "genlab.apps.sample(model, 4, seed=2**70)",
    lambda c: c.python("genlab.apps.sample(genlab.load(FIX + '/vae'), 4, seed=2**70)"))
add("traceback", "seed-2e70-api-detector", "refuse", "AnomalyDetector(random_state=2**70).fit(X)",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector(model="ae", epochs=1, random_state=2**70).fit(np.random.default_rng(0).random((100, 4)))
    """))


def fill(point: Path) -> None:
    """Fill the filesystem at `point` to the last byte."""
    descriptor = os.open(point / ".filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(descriptor, bytes(4096))
    except OSError:
        pass
    finally:
        os.close(descriptor)


def disk(c: Ctx, tmpfs: bool, limit: int, size: str = "64k") -> tuple[Path, dict]:
    """A full disk: a filled tmpfs (where mounting is allowed and asked for), else a folder under RLIMIT_FSIZE."""
    point = c.full_disk(size=size) if tmpfs else None
    if point is not None:
        return point, {}
    point = c.path("disk")
    point.mkdir(exist_ok=True)
    return point, {"file_limit": limit}


def run_on_full_disk(c: Ctx, tmpfs: bool, limit: int, fixture: str = "vae") -> tuple[Path, dict]:
    """A copy of a fixture run on a disk that is then full (tmpfs), or under RLIMIT_FSIZE."""
    point = c.full_disk(size="1m", filled=False) if tmpfs else None
    if point is None:
        return c.copy(fixture), {"file_limit": limit}
    shutil.copytree(c.fix / fixture, point / fixture)
    fill(point)
    return point / fixture, {}


FULL_DISK = {  # name -> (expect, file size limit for the RLIMIT_FSIZE variant, build(c, folder, options))
    "train-vae": ("refuse", 30000, lambda c, d, o: c.train("vae", run_dir=d / "run", **o)),
    "train-gan": ("refuse", 30000, lambda c, d, o: c.train("gan", run_dir=d / "run", **o)),
    "sample-npy": ("refuse", 100000, lambda c, d, o: c.genlab("sample", vae(c), "-n", "5000", "-o", d / "out.npy", **o)),
    "sample-folder": ("refuse", 100, lambda c, d, o: c.genlab("sample", vae(c), "-n", "200", "-o", d / "out", **o)),
    "encode": ("refuse", 1000, lambda c, d, o: c.genlab("encode", vae(c), "-o", d / "codes.npy", **o)),
    "eval": ("refuse", 300, lambda c, d, o: c.genlab("eval", c.copy("vae"), "--metrics", "reconstruction", "--limit", "20",
                                                     "--bootstrap", "0", "-o", d / "e.json", **o)),
    "report": ("refuse", 5000, lambda c, d, o: c.genlab("report", c.copy("vae"), "-o", d / "r.html", **o)),
    "compress": ("refuse", 50, lambda c, d, o: c.genlab("compress", vae(c), f"{c.fix}/inputs.npy", "-o", d / "c.glz", **o)),
    "decompress": ("refuse", 100, lambda c, d, o: c.genlab("decompress", f"{c.fix}/codes.glz", "-o", d / "out", **o)),
    "denoise": ("refuse", 100, lambda c, d, o: c.genlab("denoise", vae(c), f"{c.fix}/inputs.npy", "-o", d / "out.npy", **o)),
    "detect-fit": ("refuse", 2000, lambda c, d, o: c.genlab("detect", "fit", "--data", f"{c.fix}/records.csv",
                                                            "--run-dir", d / "det", "--epochs", "1", **o)),
    "detect-score": ("refuse", 10, lambda c, d, o: c.genlab("detect", "score", f"{c.fix}/detector", f"{c.fix}/records.csv",
                                                            "-o", d / "s.csv", **o)),
    "latent": ("refuse", 1000, lambda c, d, o: c.genlab("latent", vae(c), "--plot", "grid", "-o", d / "l.png", **o)),
    "api-train": ("refuse", 30000, lambda c, d, o: c.python(
        f"genlab.train('ae', data='digits', epochs=1, run_dir={str(d / 'run')!r}, progress=False, "
        "overrides={'train.tensorboard': False})", **o)),
}
for name, (expect, limit, build) in FULL_DISK.items():
    add("traceback", f"full-disk-{name}", expect, f"{name.replace('-', ' ')} onto a full disk (a filled tmpfs)",
        lambda c, b=build, lim=limit: b(c, *disk(c, True, lim)))
    add("traceback", f"fsize-{name}", expect, f"{name.replace('-', ' ')} under RLIMIT_FSIZE={limit} bytes (EFBIG)",
        lambda c, b=build, lim=limit: b(c, *disk(c, False, lim)))
add("traceback", "full-disk-train-partly", "refuse", "train vae into a 64 KB tmpfs: the config fits, the checkpoint does not",
    lambda c: c.train("vae", run_dir=(c.full_disk(size="64k", filled=False) or c.path(".")) / "run",
                      **({} if c.mountable else {"file_limit": 30000})))
add("traceback", "full-disk-resume", "refuse", "train --resume of a run on a disk that is full",
    lambda c: (lambda run, options: c.genlab("train", "--resume", run, "--epochs", "2", **options))(*run_on_full_disk(c, True, 30000)))
add("traceback", "fsize-resume", "refuse", "train --resume under RLIMIT_FSIZE=30000 (the checkpoint cannot be written)",
    lambda c: (lambda run, options: c.genlab("train", "--resume", run, "--epochs", "2", **options))(*run_on_full_disk(c, False, 30000)))
add("traceback", "full-disk-gmm-cache", "either", "sample --sampler gmm of a run on a full disk (its cache cannot be written)",
    lambda c: (lambda run, options: c.genlab("sample", run, "--sampler", "gmm", "-n", "4", "-o", "s.png", **options))(
        *_without_cache(c, run_on_full_disk(c, True, 1000))))


def _without_cache(c: Ctx, made: tuple[Path, dict]) -> tuple[Path, dict]:
    run, options = made
    if not options:  # on the tmpfs: free the cache's room first, then fill again
        shutil.rmtree(run / "samplers", ignore_errors=True)
        (run.parent / ".filler").unlink(missing_ok=True)
        fill(run.parent)
    else:
        shutil.rmtree(run / "samplers", ignore_errors=True)
    return run, options


def resume(c: Ctx, run: str = "vae", **options) -> Run:
    return c.genlab("train", "--resume", run, "--epochs", "2", **options)


def with_checkpoint(c: Ctx, change: Callable[[dict], object]) -> Run:
    edit_checkpoint(c.copy("vae") / "checkpoints" / "last.pt", change)
    return resume(c)


CHECKPOINT_EDITS = {
    "missing-optimizers": lambda s: s.pop("optimizers"),
    "missing-model": lambda s: s.pop("model"),
    "missing-rng": lambda s: s.pop("rng"),
    "missing-step": lambda s: s.pop("step"),
    "missing-schedulers": lambda s: s.pop("schedulers"),
    "model-is-text": lambda s: s.update(model="weights"),
    "step-is-text": lambda s: s.update(step="abc"),
    "step-negative": lambda s: s.update(step=-100),
    "epoch-is-none": lambda s: s.update(epoch=None),
    "batch-beyond-epoch": lambda s: s.update(batch=10**9),
    "rng-empty": lambda s: s.update(rng={}),
    "rng-list-empty": lambda s: s.update(rng=[]),
    "optimizers-is-list": lambda s: s.update(optimizers=[1, 2]),
    "world-size-text": lambda s: s.update(world_size="two"),
    "format-99": lambda s: s.update(format=99),
    "a-list": lambda s: [1, 2, 3],
    "tensor-wrong-shape": lambda s: s["model"].update({next(iter(s["model"])): __import__("torch").zeros(3)}),
    "tensor-wrong-dtype": lambda s: s["model"].update({k: v.double() for k, v in s["model"].items()}),
    "tensor-nan": lambda s: [v.fill_(float("nan")) for v in s["model"].values() if v.is_floating_point()] and None,
    "format-1-with-digest": lambda s: s.update(format=1),
}
for name, change in CHECKPOINT_EDITS.items():
    add("traceback", f"checkpoint-{name}", "refuse", f"checkpoints/last.pt rewritten with {name.replace('-', ' ')}; train --resume",
        lambda c, f=change: with_checkpoint(c, f))
add("traceback", "checkpoint-truncated", "refuse", "checkpoints/last.pt cut to half its bytes; train --resume",
    lambda c: (_truncate(c.copy("vae") / "checkpoints" / "last.pt"), resume(c))[1])
add("traceback", "checkpoint-empty", "refuse", "checkpoints/last.pt empty; train --resume",
    lambda c: (c.copy("vae"), c.write("vae/checkpoints/last.pt", b""), resume(c))[2])
add("traceback", "checkpoint-directory", "refuse", "checkpoints/last.pt is a folder; train --resume",
    lambda c: (c.copy("vae"), (c.path("vae/checkpoints/last.pt").unlink(), c.path("vae/checkpoints/last.pt").mkdir()), resume(c))[2])
add("traceback", "checkpoint-random-bytes", "refuse", "checkpoints/last.pt is 4 KB of random bytes; train --resume",
    lambda c: (c.copy("vae"), c.write("vae/checkpoints/last.pt", rng().bytes(4096)), resume(c))[2])
add("traceback", "checkpoint-unsafe-global", "refuse", "checkpoints/last.pt pickles a fractions.Fraction; train --resume",
    lambda c: with_checkpoint(c, lambda s: s.update(step=__import__("fractions").Fraction(1, 2))))
add("traceback", "checkpoint-legacy-format", "either", "checkpoints/last.pt saved in torch's legacy (non-zip) format; train --resume",
    lambda c: (_legacy(c.copy("vae") / "checkpoints" / "last.pt"), resume(c))[1])
add("traceback", "checkpoint-bare-zip-missing-optimizers", "refuse",
    "checkpoints/last.pt as a bare torch.save zip (no digest line) without 'optimizers'; train --resume",
    lambda c: (_bare_zip(c.copy("vae") / "checkpoints" / "last.pt", lambda s: s.pop("optimizers")), resume(c))[1])
add("traceback", "checkpoint-bare-zip-tensor-wrong-shape", "refuse",
    "checkpoints/last.pt as a bare torch.save zip whose first model tensor has the wrong shape; train --resume",
    lambda c: (_bare_zip(c.copy("vae") / "checkpoints" / "last.pt", CHECKPOINT_EDITS["tensor-wrong-shape"]), resume(c))[1])
add("traceback", "checkpoint-missing-resume", "either", "a run without checkpoints/last.pt (deleted); train --resume",
    lambda c: (c.copy("vae"), c.path("vae/checkpoints/last.pt").unlink(), resume(c))[2])


def _bare_zip(path: Path, change: Callable[[dict], object]) -> None:
    """The checkpoint as a bare torch.save zip (no digest line), its state changed."""
    edit_checkpoint(path, change)
    path.write_bytes(checkpoint_split(path.read_bytes())[1])


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _legacy(path: Path) -> None:
    edit_checkpoint(path, lambda state: None, legacy=True)


def with_model_config(c: Ctx, change: Callable[[dict], object], command: str = "sample") -> Run:
    edit_json(c.copy("vae") / "model" / "config.json", change)
    if command == "api":
        return c.python("genlab.load('vae')")
    return c.genlab("sample", "vae", "-n", "4", "-o", "s.png")


MODEL_CONFIG_EDITS = {
    "latent-dim-text": lambda d: d["config"].update(latent_dim="four"),
    "latent-dim-negative": lambda d: d["config"].update(latent_dim=-4),
    "latent-dim-fraction": lambda d: d["config"].update(latent_dim=4.5),
    "data-shape-text": lambda d: d["config"].update(data_shape="8x8"),
    "data-shape-empty": lambda d: d["config"].update(data_shape=[]),
    "data-shape-negative": lambda d: d["config"].update(data_shape=[1, -8, 8]),
    "data-shape-nested": lambda d: d["config"].update(data_shape=[[1], [8], [8]]),
    "hidden-text": lambda d: d["config"].update(hidden="wide"),
    "hidden-negative": lambda d: d["config"].update(hidden=[-32]),
    "config-is-list": lambda d: d.update(config=[1, 2]),
    "config-is-null": lambda d: d.update(config=None),
    "model-key-missing": lambda d: d.pop("model"),
    "model-unknown": lambda d: d.update(model="transformer"),
    "model-is-number": lambda d: d.update(model=5),
    "class-name-mismatch": lambda d: d.update(_class_name="GAN"),
    "num-classes-text": lambda d: d["config"].update(num_classes="ten"),
    "value-range-number": lambda d: d["config"].update(value_range=5),
    "value-range-unknown": lambda d: d["config"].update(value_range="cubic"),
    "preprocessing-list": lambda d: d["config"].update(preprocessing=[1, 2]),
    "preprocessing-scale-length": lambda d: d["config"]["preprocessing"].update(scale=[1.0, 2.0, 3.0]),
    "preprocessing-scale-nan": lambda d: d["config"]["preprocessing"].update(scale=[None]),
    "class-names-number": lambda d: d["config"].update(class_names=7),
    "table-text": lambda d: d["config"].update(table="columns"),
    "networks-list": lambda d: d["config"].update(networks=[1]),
    "networks-os-system": lambda d: d["config"].update(networks={"encoder": {"class": "os:system", "config": {"command": "true"}}}),
    "activation-unknown": lambda d: d["config"].update(activation="swish2"),
    "likelihood-unknown": lambda d: d["config"].update(likelihood="poisson"),
    "unknown-field": lambda d: d["config"].update(colour="blue"),
    "whole-file-list": lambda d: [1, 2, 3],
}
for name, change in MODEL_CONFIG_EDITS.items():
    add("traceback", f"model-config-{name}", "either" if name == "class-name-mismatch" else "refuse", f"model/config.json edited: {name.replace('-', ' ')}; genlab sample",
        lambda c, f=change: with_model_config(c, f))
add("traceback", "model-config-future-version", "either", "model/config.json genlab_version 99.0; genlab sample",
    lambda c: with_model_config(c, lambda d: d.update(genlab_version="99.0")))
add("traceback", "model-config-invalid-json", "refuse", "model/config.json is not JSON; genlab sample",
    lambda c: (c.copy("vae"), c.write("vae/model/config.json", "{nope"), c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[2])
add("traceback", "model-config-empty", "refuse", "model/config.json empty; genlab.load",
    lambda c: (c.copy("vae"), c.write("vae/model/config.json", ""), c.python("genlab.load('vae')"))[2])
add("traceback", "model-config-latent-text-api", "refuse", "model/config.json latent_dim 'four'; genlab.load",
    lambda c: with_model_config(c, lambda d: d["config"].update(latent_dim="four"), "api"))
add("traceback", "model-config-non-utf8", "refuse", "model/config.json holds bytes that are not UTF-8; genlab sample",
    lambda c: (c.copy("vae"), c.write("vae/model/config.json", b'{"model": "vae\xff\xfe"}'),
               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[2])


def with_gmm(c: Ctx, data: bytes | None = None, arrays: Callable[[dict], dict] | None = None) -> Run:
    """The run's mixture cache replaced by `data`, or by its own arrays changed by `arrays` (digest kept)."""
    run = c.copy("vae")
    cache = run / "samplers" / "gmm-10.npz"
    if arrays is not None:
        with np.load(cache) as stored:
            values = {key: stored[key] for key in stored.files}
        np.savez(cache, **arrays(values))
    elif data is not None:
        cache.write_bytes(data)
    return c.genlab("sample", "vae", "--sampler", "gmm", "-n", "4", "-o", "s.png")


add("traceback", "gmm-cache-garbage", "either", "samplers/gmm-10.npz is random bytes; sample --sampler gmm (refit or refuse)",
    lambda c: with_gmm(c, rng().bytes(2048)))
add("traceback", "gmm-cache-empty", "either", "samplers/gmm-10.npz is empty; sample --sampler gmm",
    lambda c: with_gmm(c, b""))
add("traceback", "gmm-cache-missing-keys", "either", "samplers/gmm-10.npz holds only 'weights'; sample --sampler gmm",
    lambda c: with_gmm(c, arrays=lambda v: {"weights": v["weights"]}))
add("traceback", "gmm-cache-object-arrays", "either", "samplers/gmm-10.npz whose means are Python objects; sample --sampler gmm",
    lambda c: with_gmm(c, arrays=lambda v: {**v, "means": np.array([None] * 10, dtype=object)}))
add("traceback", "gmm-cache-wrong-shapes", "either", "samplers/gmm-10.npz (digest kept) whose means have 3 columns for a 4-D code",
    lambda c: with_gmm(c, arrays=lambda v: {**v, "means": v["means"][:, :3]}))
add("traceback", "gmm-cache-not-positive-definite", "either", "samplers/gmm-10.npz (digest kept) whose covariances are -I",
    lambda c: with_gmm(c, arrays=lambda v: {**v, "covariances": -np.broadcast_to(np.eye(v["means"].shape[1]), v["covariances"].shape).copy()}))
add("traceback", "gmm-cache-nan", "either", "samplers/gmm-10.npz (digest kept) whose weights are NaN",
    lambda c: with_gmm(c, arrays=lambda v: {**v, "weights": np.full_like(v["weights"], np.nan)}))
add("traceback", "gmm-cache-directory", "either", "samplers/gmm-10.npz is a folder; sample --sampler gmm",
    lambda c: (c.copy("vae"), c.path("vae/samplers/gmm-10.npz").unlink(), c.path("vae/samplers/gmm-10.npz").mkdir(),
               c.genlab("sample", "vae", "--sampler", "gmm", "-n", "4", "-o", "s.png"))[3])

EVAL_FILES = {
    "invalid-json": "{nope", "a-list": "[1, 2]", "metrics-text": '{"metrics": "good", "protocol": {}}',
    "group-number": '{"metrics": {"reconstruction": 5}, "protocol": {}}',
    "value-text": '{"metrics": {"reconstruction": {"mse": "low"}}, "protocol": {}}',
    "protocol-list": '{"metrics": {"reconstruction": {"mse": 0.1}}, "protocol": [1]}',
    "value-nested-deep": '{"metrics": {"reconstruction": {"mse": ' + "[" * 5000 + "]" * 5000 + '}}, "protocol": {}}',
    "empty": "", "non-utf8": b"\xff\xfe{\x00",
}
for name, content in EVAL_FILES.items():
    add("traceback", f"eval-json-{name}", "refuse", f"RUN/eval.json {name.replace('-', ' ')}; genlab report",
        lambda c, t=content: (c.copy("vae"), c.write("vae/eval.json", t), c.genlab("report", "vae", "-o", "r.html"))[2])

DETECTOR_FILES = {
    "invalid-json": lambda d: "{nope", "empty": lambda d: "", "a-list": lambda d: "[]",
    "threshold-text": lambda d: {**d, "threshold": "high"}, "threshold-nan": lambda d: {**d, "threshold": float("nan")},
    "score-missing": lambda d: {k: v for k, v in d.items() if k != "score"},
    "score-unknown": lambda d: {**d, "score": "vibes"}, "k-text": lambda d: {**d, "k": "many"},
    "k-zero": lambda d: {**d, "k": 0}, "draws-negative": lambda d: {**d, "draws": -1},
    "contamination-text": lambda d: {**d, "contamination": "some"},
    "residual-variance-wrong": lambda d: {**d, "score": "weighted-reconstruction", "residual_variance": [1.0, 2.0]},
    "mixture-missing": lambda d: {**d, "score": "latent"},
    "mixture-wrong-shapes": lambda d: {**d, "score": "latent", "mixture": {"weights": [1.0], "means": [[0.0]],
                                                                          "covariances": [[[1.0]]]}},
}
for name, change in DETECTOR_FILES.items():
    add("traceback", f"detector-json-{name}", "refuse", f"RUN/detector.json {name.replace('-', ' ')}; genlab detect score",
        lambda c, f=change: (_detector_json(c.copy("detector") / "detector.json", f),
                             c.genlab("detect", "score", "detector", f"{c.fix}/records.csv", "-o", "s.csv"))[1])


def _detector_json(path: Path, change: Callable[[dict], object]) -> None:
    new = change(json.loads(path.read_text()))
    path.write_text(new if isinstance(new, str) else json.dumps(new))


CONFIG_YAML = {  # name -> (text or edit of the run's config.yaml, command)
    "invalid-resume": ("model: [unclosed\n", "resume"), "a-list-resume": ("- 1\n- 2\n", "resume"),
    "python-tag-resume": ("!!python/object/apply:os.system ['true']\n", "resume"),
    "model-scalar-resume": (lambda t: re.sub(r"model:\n(  .*\n)+", "model: 5\n", t), "resume"),
    "model-no-name-resume": (lambda t: t.replace("  name: vae\n", ""), "resume"),
    "train-scalar-resume": (lambda t: re.sub(r"train:\n(  .*\n)+", "train: 5\n", t), "resume"),
    "epochs-text-resume": (lambda t: re.sub(r"  epochs: \d+", "  epochs: many", t), "resume-as-configured"),
    "seed-text-resume": (lambda t: re.sub(r"^seed: \d+", "seed: abc", t, flags=re.M), "resume"),
    "unknown-key-resume": (lambda t: t + "colour: blue\n", "resume"), "empty-resume": ("", "resume"),
    "data-string-encode": (lambda t: re.sub(r"data:\n(  .*\n)+", "data: digits\n", t), "encode"),
    "invalid-info": ("model: [unclosed\n", "info"), "binary-info": (b"\xff\xfe\x00garbage", "info"),
    "invalid-report": ("model: [unclosed\n", "report"), "invalid-encode": ("model: [unclosed\n", "encode"),
    "fingerprint-text-resume": (lambda t: re.sub(r"  fingerprint:\n(    .*\n)+", "  fingerprint: yes\n", t), "resume"),
}
COMMAND_NAMES = {"resume": "train --resume RUN --epochs 2", "resume-as-configured": "train --resume RUN", "info": "info RUN",
                 "report": "report RUN", "encode": "encode RUN"}
COMMANDS = {
    "resume": lambda c: resume(c), "resume-as-configured": lambda c: c.genlab("train", "--resume", "vae"),
    "info": lambda c: c.genlab("info", "vae"),
    "report": lambda c: c.genlab("report", "vae", "-o", "r.html"), "encode": lambda c: c.genlab("encode", "vae", "-o", "codes.npy"),
}
for name, (content, command) in CONFIG_YAML.items():
    add("traceback", f"config-yaml-{name}", "refuse",
        f"RUN/config.yaml {name.rsplit('-', 1)[0].replace('-', ' ')}; genlab {COMMAND_NAMES[command]}",
        lambda c, t=content, cmd=command: (_config_yaml(c.copy("vae") / "config.yaml", t), COMMANDS[cmd](c))[1])


def _config_yaml(path: Path, content) -> None:
    if callable(content):
        text = path.read_text()
        new = content(text)
        if new == text:
            raise SetupError(f"{path}: the edit changed nothing")
        path.write_text(new)
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)


# silent: damage or nonsense that must not pass unnoticed
def flipped_weights(c: Ctx, where: str = "data") -> Path:
    run = c.copy("vae")
    weights = run / "model" / "model.safetensors"
    start, length = safetensors_data_offset(weights)
    if where == "data":
        flip_bit(weights, start + length // 2)
    else:  # the last digit of the first tensor's data_offsets: the header then points at other bytes
        header = weights.read_bytes()[:start]
        digits = re.search(rb'"data_offsets":\[\d+,(\d+)\]', header)
        flip_bit(weights, digits.end(1) - 1, bit=0)
    return run


def flipped_checkpoint(c: Ctx, record: str | None = None) -> Path:
    run = c.copy("vae")
    checkpoint = run / "checkpoints" / "last.pt"
    offset, size = zip_record_offset(checkpoint, record or "/data/0")
    flip_bit(checkpoint, offset + size // 2)
    return run


add("silent", "weights-bit-flip-sample", "refuse", "one bit flipped in model/model.safetensors tensor data; genlab sample",
    lambda c: (flipped_weights(c), c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("silent", "weights-bit-flip-encode", "refuse", "one bit flipped in model/model.safetensors tensor data; genlab encode",
    lambda c: (flipped_weights(c), c.genlab("encode", "vae", "-o", "codes.npy"))[1])
add("silent", "weights-bit-flip-api-load", "refuse", "one bit flipped in model/model.safetensors tensor data; genlab.load",
    lambda c: (flipped_weights(c), c.python("genlab.load('vae')"))[1])
add("silent", "weights-bit-flip-detect-score", "refuse", "one bit flipped in a detector run's weights; detect score",
    lambda c: (_flip_detector(c), c.genlab("detect", "score", "detector", f"{c.fix}/records.csv", "-o", "s.csv"))[1])
add("silent", "weights-header-bit-flip", "refuse",
    "one bit flipped in model/model.safetensors JSON header (a digit of the first tensor's data_offsets); genlab sample",
    lambda c: (flipped_weights(c, "header"), c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1])
add("silent", "checkpoint-bit-flip-model", "refuse", "one bit flipped in the first tensor of checkpoints/last.pt; train --resume",
    lambda c: (flipped_checkpoint(c), resume(c))[1])
add("silent", "checkpoint-bit-flip-last-tensor", "refuse",
    "one bit flipped in the last stored tensor of checkpoints/last.pt (optimizer or RNG state); train --resume",
    lambda c: (flipped_checkpoint(c, last_storage(c.fix / "vae" / "checkpoints" / "last.pt")), resume(c))[1])
add("silent", "checkpoint-bit-flip-pickle", "refuse", "one bit flipped in data.pkl of checkpoints/last.pt; train --resume",
    lambda c: (flipped_checkpoint(c, "/data.pkl"), resume(c))[1])
add("silent", "glz-bit-flip", "refuse", "one bit flipped in the payload of codes.glz; decompress",
    lambda c: (c.copy("codes.glz"), flip_bit(c.path("codes.glz"), 60), c.genlab("decompress", "codes.glz", "-o", "out"))[2])


def _flip_detector(c: Ctx) -> None:
    weights = c.copy("detector") / "model" / "model.safetensors"
    start, length = safetensors_data_offset(weights)
    flip_bit(weights, start + length // 3)


CONFIG_RESUME_EDITS = {  # a setting edited in RUN/config.yaml, then train --resume
    "latent-dim": ("  latent_dim: 4\n", "  latent_dim: 5\n"), "beta": ("  beta: 1.0\n", "  beta: 4.0\n"),
    "activation": ("  activation: relu\n", "  activation: tanh\n"), "hidden": ("  hidden: [32]\n", "  hidden: [33]\n"),
    "likelihood": ("  likelihood: bernoulli\n", "  likelihood: gaussian\n"),
    "model-name": ("  name: vae\n", "  name: ae\n"), "seed": ("seed: 0\n", "seed: 5\n"),
    "split-seed": ("  split_seed: 0\n", "  split_seed: 1\n"), "val-fraction": ("  val_fraction: 0.1\n", "  val_fraction: 0.2\n"),
    "binarize": ("  binarize: none\n", "  binarize: dynamic\n"),
    "data-name": ("  name: digits\n", "  name: iris\n"),
}
for name, (old, new) in CONFIG_RESUME_EDITS.items():
    add("silent", f"config-edit-{name}-resume", "refuse",
        f"RUN/config.yaml edited ({old.strip()} -> {new.strip()}), then train --resume",
        lambda c, o=old, n=new: (edit_text(c.copy("vae") / "config.yaml", o, n), resume(c))[1])
add("silent", "config-edit-fingerprint-rows-resume", "either",
    "RUN/config.yaml data fingerprint edited (rows: 1797 -> 1796; the data itself unchanged), then train --resume",
    lambda c: (edit_text(c.copy("vae") / "config.yaml", "    rows: 1797\n", "    rows: 1796\n"), resume(c))[1])
add("silent", "resume-set-model", "refuse", "train --resume RUN --set model.beta=2",
    lambda c: c.genlab("train", "--resume", c.copy("vae"), "--epochs", "2", "--set", "model.beta=2"))

add("silent", "npy-n-by-0-train", "refuse", "a (50, 0) float32 .npy (train ae)",
    lambda c: c.train("ae", data=c.npy("empty-rows.npy", np.zeros((50, 0), np.float32))))
add("silent", "npz-n-by-0-train", "refuse", "a .npz whose x is (50, 0) (train vae)",
    lambda c: c.train("vae", data=c.npz("data.npz", x=np.zeros((50, 0), np.float32), y=np.arange(50) % 2)))
add("silent", "npy-n-by-0-by-8-train", "refuse", "a (50, 0, 8) .npy (images of height 0; train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", np.zeros((50, 0, 8), np.float32))))
add("silent", "npy-0-rows-train", "refuse", "a (0, 64) .npy (train ae)",
    lambda c: c.train("ae", data=c.npy("data.npy", np.zeros((0, 64), np.float32))))
add("silent", "api-n-by-0-train", "refuse", "genlab.train('ae', data=np.zeros((50, 0)))",
    lambda c: c.python("genlab.train('ae', data=np.zeros((50, 0), np.float32), epochs=1, run_dir='run', progress=False)"))
add("silent", "api-n-by-0-detector", "refuse", "AnomalyDetector().fit(np.zeros((50, 0)))",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector(epochs=1).fit(np.zeros((50, 0)))
    """))
add("silent", "compress-n-by-0", "refuse", "compress a (5, 0) .npy with an 8x8 image model",
    lambda c: c.genlab("compress", vae(c), c.npy("data.npy", np.zeros((5, 0), np.float32)), "-o", "o.glz"))
add("silent", "csv-no-columns", "refuse", "a CSV of 50 empty lines below an empty header (train ae)",
    lambda c: c.train("ae", data=c.write("data.csv", "\n" * 51)))
add("silent", "npy-1-row-train", "refuse", "a 1-sample (1, 64) .npy (train ae)",
    lambda c: c.train("ae", data=c.npy("one.npy", x50()[:1])))
add("silent", "npz-1-row-train-vae", "refuse", "a 1-sample .npz with a label (train vae)",
    lambda c: c.train("vae", data=c.npz("one.npz", x=x50()[:1], y=np.array([3]))))
add("silent", "csv-1-row-train", "refuse", "a CSV with a header and one record (train ae)",
    lambda c: c.train("ae", data=c.write("one.csv", "a,b,c\n1,2,3\n")))
add("silent", "api-1-row-train", "refuse", "genlab.train('ae', data=X) with X of shape (1, 5)",
    lambda c: c.python("genlab.train('ae', data=np.ones((1, 5), np.float32), epochs=1, run_dir='run', progress=False)"))
add("silent", "api-1-row-detector", "refuse", "AnomalyDetector().fit(X) with one record",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector(epochs=1).fit(np.ones((1, 5)))
    """))
add("silent", "detect-fit-1-row", "refuse", "genlab detect fit on a one-record CSV",
    lambda c: c.genlab("detect", "fit", "--data", c.write("one.csv", "a,b,c\n1,2,3\n"), "--run-dir", "det", "--epochs", "1"))
add("silent", "npy-2-rows-train", "either", "a 2-sample .npy (train ae)",
    lambda c: c.train("ae", data=c.npy("two.npy", x50()[:2])))
add("silent", "npy-constant-train", "either", "50 identical rows (train ae)",
    lambda c: c.train("ae", data=c.npy("same.npy", np.ones((50, 8), np.float32))))
add("silent", "epochs-0", "refuse", "genlab train vae --epochs 0", lambda c: c.train("vae", epochs=0))
add("silent", "api-epochs-0", "refuse", "genlab.train('vae', data='digits', epochs=0)",
    lambda c: c.python("genlab.train('vae', data='digits', epochs=0, run_dir='run', progress=False)"))
add("silent", "image-size-on-digits", "refuse", "train vae --data digits --set data.image_size=[16,16] (not an image folder)",
    lambda c: c.train("vae", "--set", "data.image_size=[16,16]"))
add("silent", "resume-fewer-epochs", "either", "train --resume --epochs 1 of a run that has done 1 epoch (nothing to do)",
    lambda c: c.genlab("train", "--resume", c.copy("vae"), "--epochs", "1"))

NAN_INPUT = np.where(np.arange(10 * 64).reshape(10, 1, 8, 8) == 100, np.nan, 0.5).astype(np.float32)
add("silent", "denoise-nan-input", "refuse", "denoise a .npy holding a NaN",
    lambda c: c.genlab("denoise", vae(c), c.npy("nan.npy", NAN_INPUT), "-o", "out.npy"))
add("silent", "compress-nan-input", "refuse", "compress a .npy holding a NaN",
    lambda c: c.genlab("compress", vae(c), c.npy("nan.npy", NAN_INPUT), "-o", "o.glz"))
add("silent", "encode-nan-input", "refuse", "encode --data a .npy holding a NaN",
    lambda c: c.genlab("encode", vae(c), "--data", c.npy("nan.npy", NAN_INPUT), "-o", "codes.npy"))
add("silent", "inpaint-nan-input", "refuse", "inpaint a .npy holding a NaN outside the mask",
    lambda c: c.genlab("inpaint", vae(c), c.npy("nan.npy", NAN_INPUT), "--mask", c.npy("mask.npy", np.zeros((1, 8, 8), np.uint8)),
                       "-o", "out.npy", "--steps", "5"))
add("silent", "detect-score-inf-input", "refuse", "detect score a CSV holding inf",
    lambda c: c.genlab("detect", "score", f"{c.fix}/detector", c.write("new.csv", "a,b,c,d\n1,2,inf,4\n"), "-o", "s.csv"))
add("silent", "api-decision-function-nan", "refuse", "AnomalyDetector.decision_function on a record with NaN",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        X = np.random.default_rng(0).random((200, 4))
        detector = AnomalyDetector(model="ae", epochs=1).fit(X)
        X[0, 1] = np.nan
        print(detector.decision_function(X[:3]))
    """))
add("silent", "api-decision-function-wrong-width", "refuse", "AnomalyDetector fitted on 4 features scores 7",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        detector = AnomalyDetector(model="ae", epochs=1).fit(np.random.default_rng(0).random((200, 4)))
        print(detector.decision_function(np.zeros((3, 7))))
    """))
add("silent", "api-decision-function-unfitted", "refuse", "AnomalyDetector().decision_function before fit",
    lambda c: c.python("""
        from genlab.apps import AnomalyDetector
        AnomalyDetector().decision_function(np.zeros((3, 4)))
    """))
add("silent", "api-encode-wrong-shape", "refuse", "genlab.apps.encode(model, np.zeros((3, 10))) for an 8x8 image model",
    lambda c: c.python("genlab.apps.encode(genlab.load(FIX + '/vae'), np.zeros((3, 10), np.float32))"))
add("silent", "api-decode-wrong-width", "refuse", "genlab.apps.decode(model, codes of width 7) for a 4-D code",
    lambda c: c.python("genlab.apps.decode(genlab.load(FIX + '/vae'), np.zeros((3, 7)))"))
add("silent", "api-reconstruct-nan", "refuse", "genlab.apps.reconstruct(model, images with a NaN)",
    lambda c: c.python("genlab.apps.reconstruct(genlab.load(FIX + '/vae'), np.full((2, 1, 8, 8), np.nan, np.float32))"))
add("silent", "api-sample-count-fraction", "refuse", "genlab.apps.sample(model, 3.5)",
    lambda c: c.python("genlab.apps.sample(genlab.load(FIX + '/vae'), 3.5)"))
add("silent", "api-sample-count-bool", "refuse", "genlab.apps.sample(model, True)",
    lambda c: c.python("genlab.apps.sample(genlab.load(FIX + '/vae'), True)"))
add("silent", "api-load-a-file", "refuse", "genlab.load('inputs.npy') (a file, not a run)",
    lambda c: c.python("genlab.load(FIX + '/inputs.npy')"))
for step in ("nan", "0", "-1", "inf", "1e-30"):
    add("silent", f"compress-step-{step}", "refuse", f"genlab compress --step {step}",
        lambda c, s=step: c.genlab("compress", vae(c), f"{c.fix}/inputs.npy", "-o", "o.glz", "--step", s))
add("silent", "decompress-run-gan", "refuse", "decompress codes.glz --run a GAN (no encoder)",
    lambda c: c.genlab("decompress", f"{c.fix}/codes.glz", "-o", "out", "--run", f"{c.fix}/gan"))
add("silent", "decompress-run-other-model", "refuse", "decompress codes.glz --run another vae of the same shapes (seed 1)",
    lambda c: c.genlab("decompress", f"{c.fix}/codes.glz", "-o", "out", "--run", f"{c.fix}/vae-seed-1"))
add("silent", "decompress-run-cvae", "refuse", "decompress codes.glz --run a cvae (codes that need class labels)",
    lambda c: c.genlab("decompress", f"{c.fix}/codes.glz", "-o", "out", "--run", f"{c.fix}/cvae"))
for label, run in (("1000000000000000000000000000000", "cvae"), ("-1", "cvae"), ("10", "cvae"), ("3", "vae"),
                   ("seven", "cvae"), ("3.5", "cvae")):
    add("silent", f"sample-class-{label[:8]}-{run}", "refuse", f"genlab sample {run} --class {label}",
        lambda c, lab=label, r=run: c.genlab("sample", f"{c.fix}/{r}", "-n", "4", "--class", lab, "-o", "s.png"))
for value in ("nan", "-0.1", "1", "0"):
    add("silent", f"detect-fit-contamination-{value}", "refuse", f"genlab detect fit --contamination {value}",
        lambda c, v=value: c.genlab("detect", "fit", "--data", f"{c.fix}/records.csv", "--run-dir", "det", "--epochs", "1",
                                    "--contamination", v))
for value in ("0", "-1"):
    add("silent", f"eval-limit-{value}", "refuse", f"genlab eval --limit {value}",
        lambda c, v=value: c.genlab("eval", c.copy("vae"), "--metrics", "reconstruction", "--limit", v, "--bootstrap", "0",
                                    "-o", "e.json"))
for value in ("1000000000", "-1"):
    add("silent", f"latent-index-{value}", "refuse", f"genlab latent --plot interpolate --index {value} 0",
        lambda c, v=value: c.genlab("latent", vae(c), "--plot", "interpolate", "--index", v, "0", "-o", "l.png"))
add("silent", "inpaint-steps-0", "refuse", "genlab inpaint --steps 0",
    lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.npy("mask.npy", HALF_MASK),
                       "-o", "out.npy", "--steps", "0"))
add("silent", "inpaint-mask-wrong-shape", "refuse", "genlab inpaint with a 5x5 mask for 8x8 images",
    lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.npy("mask.npy", np.ones((5, 5), np.uint8)),
                       "-o", "out.npy", "--steps", "5"))
add("silent", "inpaint-mask-values-7", "refuse", "genlab inpaint with a mask of 7s (not 0/1)",
    lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.npy("mask.npy", np.full((1, 8, 8), 7, np.uint8)),
                       "-o", "out.npy", "--steps", "5"))


# writers: two trainings on one run directory
def first_then_second(c: Ctx, second: list[str], first_epochs: int = 60) -> Run:
    """Start a long training on run/, wait until it holds the lock, then run the command `second` and pass on its result."""
    first = ["train", "vae", "--data", "digits", "--epochs", str(first_epochs), "--run-dir", "run", "-q", *TINY, *SMALL_AE]
    return c.python(f"""
        import pathlib, subprocess, time
        GENLAB = {GENLAB!r}
        first = subprocess.Popen(GENLAB + {first!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock, config = pathlib.Path("run/.lock"), pathlib.Path("run/config.yaml")
        deadline = time.time() + 90
        while time.time() < deadline and not (lock.is_file() and lock.read_text().strip() and config.is_file()):
            time.sleep(0.05)
        if first.poll() is not None:
            raise SystemExit("the first training ended before the second started")
        second = subprocess.run({second!r}, capture_output=True, text=True)
        first.kill()
        first.wait()
        sys.stdout.write(second.stdout)
        sys.stderr.write(second.stderr)
        sys.exit(second.returncode)
    """, allowed_new=("run/",), timeout=180)


SECOND_NEW = GENLAB + ["train", "vae", "--data", "digits", "--epochs", "1", "--run-dir", "run", *TINY, *SMALL_AE]
add("writers", "second-new-training", "refuse", "genlab train --run-dir run while another genlab train writes run",
    lambda c: first_then_second(c, SECOND_NEW))
add("writers", "second-resume", "refuse", "genlab train --resume run while another genlab train writes run",
    lambda c: first_then_second(c, GENLAB + ["train", "--resume", "run", "--epochs", "70"]))
add("writers", "second-resume-run-dir-flag", "refuse", "genlab train --resume --run-dir run while another training writes run",
    lambda c: first_then_second(c, GENLAB + ["train", "--resume", "--run-dir", "run", "--epochs", "70"]))
add("writers", "second-detect-fit", "refuse", "genlab detect fit --run-dir run while a training writes run",
    lambda c: first_then_second(c, GENLAB + ["detect", "fit", "--data", "digits", "--run-dir", "run", "--epochs", "1"]))
add("writers", "second-api-train", "refuse", "genlab.train(run_dir='run', resume=True) while a training writes run",
    lambda c: first_then_second(c, [PYTHON, "-c", "import sys, genlab\nfrom genlab.errors import GenlabError\ntry:\n"
                                    "    genlab.train(run_dir='run', resume=True, epochs=70, progress=False)\n"
                                    "except GenlabError as e:\n    print('error:', e, file=sys.stderr); sys.exit(2)"]))
add("writers", "reader-during-training", "either", "genlab sample run while a training writes run (a reader needs no lock)",
    lambda c: first_then_second(c, GENLAB + ["sample", "run", "-n", "4", "-o", "s.png"]))
add("writers", "two-resumes", "refuse", "two genlab train --resume of one run, the second while the first trains",
    lambda c: (c.copy("vae", "run"), c.python(f"""
        import pathlib, subprocess, time
        GENLAB = {GENLAB!r}
        first = subprocess.Popen(GENLAB + ["train", "--resume", "run", "--epochs", "60", "-q"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = pathlib.Path("run/.lock")
        deadline = time.time() + 90
        while time.time() < deadline and not (lock.is_file() and lock.read_text().strip().isdigit()
                                              and int(lock.read_text()) == first.pid):
            time.sleep(0.05)
        second = subprocess.run(GENLAB + ["train", "--resume", "run", "--epochs", "60"], capture_output=True, text=True)
        first.kill()
        first.wait()
        sys.stderr.write(second.stderr)
        sys.exit(second.returncode)
    """, allowed_new=("run/",), timeout=180))[1])
add("writers", "simultaneous-start", "refuse", "two genlab train --run-dir run started at the same instant: one must be refused",
    lambda c: c.python(f"""
        import subprocess
        GENLAB = {GENLAB!r}
        args = GENLAB + {["train", "vae", "--data", "digits", "--epochs", "2", "--run-dir", "run", *TINY, *SMALL_AE]!r}
        processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.communicate(), p.returncode) for p in processes]
        refused = [(err, code) for (_, err), code in results if code != 0]
        if not refused:
            print("both trainings finished writing the same run")
            sys.exit(0)
        for err, _ in refused:
            sys.stderr.write(err)
        sys.exit(refused[0][1] if len(refused) == 1 else 3)
    """, allowed_new=("run/",), timeout=180))
add("writers", "stale-lock-dead-pid", "accept", "train --resume of a run whose .lock names a dead process (no lock held)",
    lambda c: (c.copy("vae"), c.write("vae/.lock", "999999\n"), resume(c))[2])
add("writers", "lock-is-directory", "refuse", "train --resume of a run whose .lock is a folder",
    lambda c: (c.copy("vae"), c.path("vae/.lock").unlink(missing_ok=True), c.path("vae/.lock").mkdir(), resume(c))[3])


# stale: results, caches and scratch files from older weights or killed writers
def resumed_copy(c: Ctx, fixture: str = "vae", before: Callable[[Path], None] | None = None) -> Path:
    run = c.copy(fixture)
    if before is not None:
        before(run)
    c.setup("train", "--resume", run, "--epochs", "2", "-q")
    return run


def report_is_stale(run: Path, report: Path) -> Callable:
    evaluation = run / "eval.json"
    digest = file_digest(evaluation)

    def check(result: Result, before: dict, after: dict):
        if result.returncode != 0 or not report.is_file():
            return None
        if file_digest(evaluation) == digest and not STALE_WORDS.search(report.read_text(errors="replace")):
            return "silent", "the report shows eval.json of the weights before the resume, without saying so"
        return None
    return check


def _report_after_resume(c: Ctx) -> Run:
    run = c.copy("vae")
    c.setup("eval", run, "--metrics", "reconstruction", "--limit", "50", "--bootstrap", "0", "-q")
    c.setup("train", "--resume", run, "--epochs", "2", "-q")
    return c.genlab("report", run, "-o", "report.html", check=report_is_stale(run, c.path("report.html")))


add("stale", "report-after-resume", "either", "genlab eval, then train --resume, then genlab report (eval.json is of older weights)",
    _report_after_resume)
add("stale", "detector-after-resume", "either",
    "genlab detect fit, train --resume of the detector's run, then detect score (threshold of older weights)",
    lambda c: (lambda run: c.genlab("detect", "score", run, f"{c.fix}/records.csv", "-o", "s.csv",
                                    check=unchanged(run / "detector.json", "silent",
                                                    "scored with detector.json calibrated on the weights before the resume")))(
        resumed_copy(c, "detector")))
add("stale", "gmm-cache-after-resume", "either", "sample --sampler gmm after train --resume (the cached mixture is of older codes)",
    lambda c: (lambda run: c.genlab("sample", run, "--sampler", "gmm", "-n", "4", "-o", "s.png",
                                    check=unchanged(run / "samplers" / "gmm-10.npz", "silent",
                                                    "sampled from the mixture fitted to the codes of older weights")))(
        resumed_copy(c)))
add("stale", "compressed-before-resume", "either",
    "genlab compress, then train --resume of that run, then decompress (must work or name the snapshot it needs)",
    lambda c: (resumed_copy(c, before=lambda run: c.setup("compress", run, f"{c.fix}/inputs.npy", "-o", c.path("c.glz"))),
               c.genlab("decompress", "c.glz", "-o", "out"))[1])
add("stale", "compressed-before-resume-run-flag", "either",
    "genlab compress, train --resume, then decompress --run RUN", lambda c: (
        resumed_copy(c, before=lambda run: c.setup("compress", run, f"{c.fix}/inputs.npy", "-o", c.path("c.glz"))),
        c.genlab("decompress", "c.glz", "-o", "out", "--run", "vae"))[1])


def planted(c: Ctx, names: list[str]) -> Run:
    run = c.copy("vae")
    paths = []
    for name in names:
        path = run / name
        path.write_bytes((run / "checkpoints" / "last.pt").read_bytes()[:5000])  # what a kill mid-write leaves
        paths.append(path)
    return resume(c, check=gone(paths))


add("stale", "scratch-checkpoint-after-kill", "accept", "checkpoints/.last.pt.k1lL3d.tmp left by a kill mid-write; train --resume",
    lambda c: planted(c, ["checkpoints/.last.pt.k1lL3d.tmp"]))
add("stale", "scratch-model-after-kill", "accept", "model/.model.safetensors.x9q2.tmp left by a kill mid-write; train --resume",
    lambda c: planted(c, ["model/.model.safetensors.x9q2.tmp", "model/.config.json.a1b2.tmp"]))
add("stale", "scratch-run-files-after-kill", "accept", ".config.yaml.*.tmp and .metrics.jsonl.*.tmp left by a kill; train --resume",
    lambda c: planted(c, [".config.yaml.zz01.tmp", ".metrics.jsonl.zz02.tmp"]))
add("stale", "scratch-gmm-after-kill", "accept", "samplers/.gmm-10.npz.*.tmp left by a kill 20 minutes ago; sample --sampler gmm",
    lambda c: (lambda run: (_killed_long_ago(run / "samplers/.gmm-10.npz.q7.tmp", b"PK\x03\x04"),
                            c.genlab("sample", run, "--sampler", "gmm", "-n", "4", "-o", "s.png",
                                     check=gone([run / "samplers/.gmm-10.npz.q7.tmp"])))[1])(c.copy("vae")))


def _killed_long_ago(path: Path, data: bytes) -> None:
    # sampling holds no lock on the run, so genlab spares a scratch file younger than runs.SCRATCH_AGE_S
    # (another process's write may be under way); one from a kill 20 minutes ago is past that and must go
    path.write_bytes(data)
    old = time.time() - 20 * 60
    os.utime(path, (old, old))


add("stale", "failed-start-no-device", "refuse", "train --device cuda on a machine without one: no run directory may remain",
    lambda c: c.train("vae", "--device", "cuda"))
add("stale", "failed-start-diverged", "refuse", "train with --set train.lr=1e30 (diverges in the first epoch): no run directory",
    lambda c: c.train("vae", "--set", "train.lr=1e30"))
add("stale", "failed-start-gan-diverged", "refuse", "train gan with --set train.lr=1e30 (diverges): no run directory",
    lambda c: c.train("gan", "--set", "model.lr_generator=1e30", "--set", "model.lr_discriminator=1e30"))
add("stale", "failed-start-missing-data", "refuse", "train --data missing.npy: no run directory",
    lambda c: c.train("vae", data="missing.npy"))
add("stale", "failed-start-user-folder", "refuse", "train into the user's own empty folder, diverging: the folder stays empty",
    lambda c: (c.path("run").mkdir(), c.train("vae", "--set", "train.lr=1e30"))[1])
add("stale", "failed-start-nested-run-dir", "refuse", "train --run-dir a/b/run, diverging: no run directory",
    lambda c: c.train("vae", "--set", "train.lr=1e30", run_dir="a/b/run", allowed_new=("a", "a/b")))
add("stale", "failed-start-interrupted", "refuse",
    "Ctrl+C (SIGINT) during the first epoch: no run directory, or one a plain retry accepts", lambda c: c.python(f"""
        import pathlib, signal, subprocess, time
        GENLAB = {GENLAB!r}
        args = GENLAB + ["train", "ae", "--data", "digits", "--epochs", "1", "--run-dir", "run", "-q",
                         "--set", "train.batch_size=1", "--set", "train.tensorboard=false", "--set", "model.hidden=[32]"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not pathlib.Path("run/config.yaml").is_file():
            time.sleep(0.05)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate()
        if process.returncode == 0:
            raise SystemExit("the training finished before it could be interrupted")
        run = pathlib.Path("run")
        if run.exists() and any(p.name != ".lock" for p in run.iterdir()):
            retry = subprocess.run(args + ["--set", "train.batch_size=64"], capture_output=True, text=True)
            if retry.returncode != 0:
                print("LEFTOVER: a plain retry is refused: " + " ".join(retry.stderr.split())[-200:])
        print("error: interrupted (exit status " + str(process.returncode) + ")", file=sys.stderr)
        sys.exit(2)
    """, allowed_new=("run/",), check=stdout_says("^LEFTOVER", "leftover"), timeout=180))


# umask: what genlab writes must honour the process umask
HALF_MASK = np.concatenate([np.ones((1, 4, 8), np.uint8), np.zeros((1, 4, 8), np.uint8)], axis=1)  # top half missing
UMASK_CASES = {
    "train": lambda c, o: c.train("vae", **o),
    "train-gan": lambda c, o: c.train("gan", **o),
    "resume": lambda c, o: (c.copy("vae"), resume(c, **o))[1],
    "sample-png": lambda c, o: c.genlab("sample", vae(c), "-n", "4", "-o", "out/s.png", **o),
    "sample-folder": lambda c, o: c.genlab("sample", vae(c), "-n", "3", "-o", "out", **o),
    "sample-npy": lambda c, o: c.genlab("sample", vae(c), "-n", "4", "-o", "s.npy", **o),
    "encode-npz": lambda c, o: c.genlab("encode", vae(c), "-o", "codes.npz", **o),
    "reconstruct": lambda c, o: c.genlab("reconstruct", vae(c), "-n", "4", "-o", "r.png", **o),
    "eval": lambda c, o: c.genlab("eval", c.copy("vae"), "--metrics", "reconstruction", "--limit", "20", "--bootstrap", "0",
                                  "-o", "e.json", **o),
    "report": lambda c, o: c.genlab("report", c.copy("vae"), **o),
    "compress": lambda c, o: c.genlab("compress", vae(c), f"{c.fix}/inputs.npy", "-o", "c.glz", **o),
    "decompress": lambda c, o: c.genlab("decompress", f"{c.fix}/codes.glz", "-o", "out", **o),
    "denoise": lambda c, o: c.genlab("denoise", vae(c), f"{c.fix}/inputs.npy", "-o", "d.npy", **o),
    "inpaint": lambda c, o: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.npy("mask.npy", HALF_MASK),
                                     "-o", "i.npy", "--steps", "5", **o),
    "latent": lambda c, o: c.genlab("latent", vae(c), "--plot", "grid", "-o", "l.png", **o),
    "gmm-cache": lambda c, o: (shutil.rmtree(c.copy("vae") / "samplers"),
                               c.genlab("sample", "vae", "--sampler", "gmm", "-n", "4", "-o", "s.png", **o))[1],
    "detect-fit": lambda c, o: c.genlab("detect", "fit", "--data", f"{c.fix}/records.csv", "--run-dir", "det",
                                        "--epochs", "1", **o),
    "detect-score": lambda c, o: c.genlab("detect", "score", f"{c.fix}/detector", f"{c.fix}/records.csv", "-o", "s.csv", **o),
    "api-train": lambda c, o: c.python("genlab.train('ae', data='digits', epochs=1, run_dir='run', progress=False, "
                                       "overrides={'train.tensorboard': False})", **o),
}
for name, build in UMASK_CASES.items():
    add("umask", f"{name}-022", "accept", f"{name.replace('-', ' ')} under umask 022: files 0644, folders 0755",
        lambda c, b=build: b(c, {"umask": 0o022, "check": mode_check(0o022)}))
add("umask", "train-077", "accept", "train under umask 077: files 0600, folders 0700",
    lambda c: c.train("vae", umask=0o077, check=mode_check(0o077)))
add("umask", "train-002", "accept", "train under umask 002: files 0664, folders 0775",
    lambda c: c.train("vae", umask=0o002, check=mode_check(0o002)))
add("umask", "sample-002", "accept", "sample -o out/s.png under umask 002",
    lambda c: c.genlab("sample", vae(c), "-n", "4", "-o", "out/s.png", umask=0o002, check=mode_check(0o002)))


# explorer: requests to genlab serve's API (TestClient), and the command's own flags
def post(path: str, payload) -> str:
    return f"client.post({path!r}, json={payload!r})"


def post_raw(path: str, body: bytes, kind: str = "application/json") -> str:
    return f"client.post({path!r}, content={body!r}, headers={{'content-type': {kind!r}}})"


EXPLORER = {  # name -> (expect, fixture run, request)
    "sample-ok": ("accept", "vae", post("/api/sample", {"count": 4, "seed": 1})),
    "sample-label-1e30": ("refuse", "cvae", post("/api/sample", {"count": 4, "label": 10**30})),
    "sample-label-negative": ("refuse", "cvae", post("/api/sample", {"count": 4, "label": -1})),
    "sample-label-10": ("refuse", "cvae", post("/api/sample", {"count": 4, "label": 10})),
    "sample-label-unconditional": ("refuse", "vae", post("/api/sample", {"count": 4, "label": 3})),
    "sample-count-0": ("refuse", "vae", post("/api/sample", {"count": 0})),
    "sample-count-1e30": ("refuse", "vae", post("/api/sample", {"count": 10**30})),
    "sample-count-text": ("refuse", "vae", post("/api/sample", {"count": "many"})),
    "sample-seed-2e70": ("refuse", "vae", post("/api/sample", {"count": 4, "seed": 2**70})),
    "sample-body-list": ("refuse", "vae", post("/api/sample", [1, 2])),
    "sample-body-not-json": ("refuse", "vae", post_raw("/api/sample", b"{nope")),
    "map-decode-1e308": ("refuse", "vae", post("/api/map/decode", {"x": 1e308, "y": 0})),
    "map-decode-nan": ("refuse", "vae", post_raw("/api/map/decode", b'{"x": NaN, "y": 0}')),
    "map-decode-infinity": ("refuse", "vae", post_raw("/api/map/decode", b'{"x": Infinity, "y": 0}')),
    "map-decode-text": ("refuse", "vae", post("/api/map/decode", {"x": "left", "y": 0})),
    "map-decode-missing-y": ("refuse", "vae", post("/api/map/decode", {"x": 0})),
    "map-on-gan": ("refuse", "gan", "client.get('/api/map')"),
    "decode-nan-code": ("refuse", "vae", post_raw("/api/decode", b'{"code": [NaN, 0, 0, 0]}')),
    "decode-1e308-code": ("refuse", "vae", post("/api/decode", {"code": [1e308, 0, 0, 0]})),
    "decode-wrong-length": ("refuse", "vae", post("/api/decode", {"code": [0, 0]})),
    "decode-empty": ("refuse", "vae", post("/api/decode", {"code": []})),
    "decode-too-long": ("refuse", "vae", post("/api/decode", {"code": [0] * 5000})),
    "decode-strings": ("refuse", "vae", post("/api/decode", {"code": ["a", "b", "c", "d"]})),
    "decode-nested": ("refuse", "vae", post("/api/decode", {"code": [[0, 0], [0, 0]]})),
    "decode-label-1e30": ("refuse", "cvae", post("/api/decode", {"code": [0, 0, 0, 0], "label": 10**30})),
    "decode-label-unconditional": ("refuse", "vae", post("/api/decode", {"code": [0, 0, 0, 0], "label": 3})),
    "example-negative": ("refuse", "vae", "client.get('/api/example/-1')"),
    "example-1e30": ("refuse", "vae", f"client.get('/api/example/{10**30}')"),
    "example-text": ("refuse", "vae", "client.get('/api/example/abc')"),
    "interpolate-index-1e30": ("refuse", "vae", post("/api/interpolate", {"first": 10**30, "second": 0})),
    "interpolate-steps-1000": ("refuse", "vae", post("/api/interpolate", {"first": 0, "second": 1, "steps": 1000})),
    "interpolate-same-image": ("either", "vae", post("/api/interpolate", {"first": 0, "second": 0})),
    "analyze-ok": ("accept", "vae", "ANALYZE(DIGIT)"),
    "analyze-oversized": ("refuse", "vae", "ANALYZE(bytes(3 * 1024 * 1024))"),
    "analyze-oversized-chunked": ("refuse", "vae", "client.post('/api/analyze', content=iter([bytes(1 << 20)] * 3), "
                                                   "headers={'content-type': 'image/png'})"),
    "analyze-wrong-type": ("refuse", "vae", "ANALYZE(DIGIT, 'text/plain')"),
    "analyze-empty": ("refuse", "vae", "ANALYZE(b'')"),
    "analyze-png-bomb": ("refuse", "vae", "ANALYZE(BOMB)"),
    "analyze-5000-square": ("refuse", "vae", "ANALYZE(pathlib.Path(FIX + '/big-5000.png').read_bytes())"),
    "analyze-truncated": ("refuse", "vae", "ANALYZE(DIGIT[:len(DIGIT) // 2])"),
    "analyze-gif-as-png": ("refuse", "vae", "ANALYZE(pathlib.Path(FIX + '/digit.gif').read_bytes())"),
    "analyze-16-bit": ("accept", "vae", "ANALYZE(pathlib.Path(FIX + '/digit16.png').read_bytes())"),
    "analyze-palette-alpha": ("accept", "vae", "ANALYZE(pathlib.Path(FIX + '/palette.png').read_bytes())"),
    "analyze-cmyk-jpeg": ("accept", "vae", "ANALYZE(pathlib.Path(FIX + '/cmyk.jpg').read_bytes(), 'image/jpeg')"),
    "analyze-on-gan": ("refuse", "gan", "ANALYZE(DIGIT)"),
}
EXPLORER_HELPERS = """
import pathlib
DIGIT = pathlib.Path(FIX + '/pngs/digit0.png').read_bytes()
BOMB = pathlib.Path(FIX + '/bomb-50k.png').read_bytes()

def ANALYZE(body, kind='image/png'):
    return client.post('/api/analyze', content=body, headers={'content-type': kind})
"""
for name, (expect, run, request) in EXPLORER.items():
    add("explorer", name, expect, f"explorer of {run}: {request}"[:200],
        lambda c, r=run, q=request: c.explorer(r, "_answer()", prelude=EXPLORER_HELPERS + f"\ndef _answer():\n    return {q}\n"))


def busy_port(c: Ctx) -> int:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    c.cleanup.append(holder.close)
    return holder.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


add("explorer", "serve-busy-port", "refuse", "genlab serve RUN --port P while another program listens on P",
    lambda c: c.genlab("serve", vae(c), "--port", busy_port(c), "--device", "cpu", timeout=45))
add("explorer", "serve-port-99999", "refuse", "genlab serve RUN --port 99999",
    lambda c: c.genlab("serve", vae(c), "--port", "99999", "--device", "cpu", timeout=45))
add("explorer", "serve-port-negative", "refuse", "genlab serve RUN --port -1",
    lambda c: c.genlab("serve", vae(c), "--port", "-1", "--device", "cpu", timeout=45))
add("explorer", "serve-host-invalid", "refuse", "genlab serve RUN --host 999.1.1.1",
    lambda c: c.genlab("serve", vae(c), "--host", "999.1.1.1", "--port", free_port(), "--device", "cpu", timeout=45))
add("explorer", "serve-vector-run", "refuse", "genlab serve of a run on table records (nothing to show)",
    lambda c: c.genlab("serve", f"{c.fix}/detector", "--port", free_port(), "--device", "cpu", timeout=45))
add("explorer", "serve-missing-run", "refuse", "genlab serve of a folder that does not exist",
    lambda c: c.genlab("serve", "nowhere", "--device", "cpu", timeout=45))


# other: links, folders where files belong, permissions, odd names, empty files, devices
def sample_into(c: Ctx, output, **options) -> Run:
    return c.genlab("sample", vae(c), "-n", "4", "-o", output, **options)


def symlink(c: Ctx, name: str, target: str | Path) -> Path:
    path = c.path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def unwritable(c: Ctx, *names: str) -> None:
    for name in names:
        os.chmod(c.path(name), 0o555)


def run_with(c: Ctx, relative: str, target: str) -> Path:
    """A copy of the vae run whose file `relative` is replaced by a link to `target` (a device, say)."""
    run = c.copy("vae")
    (run / relative).unlink(missing_ok=True)
    (run / relative).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, run / relative)
    return run


OTHER = {  # name -> (expect, build)
    "symlink-loop-data": ("refuse", lambda c: (symlink(c, "a.npy", "b.npy"), symlink(c, "b.npy", "a.npy"),
                                               c.train("ae", data="a.npy"))[2]),
    "dangling-symlink-data": ("refuse", lambda c: (symlink(c, "a.npy", "gone.npy"), c.train("ae", data="a.npy"))[1]),
    "data-folder-named-npy": ("refuse", lambda c: (c.path("x.npy").mkdir(), c.train("ae", data="x.npy"))[1]),
    "data-dev-zero-csv": ("refuse", lambda c: (symlink(c, "x.csv", "/dev/zero"), c.train("ae", data="x.csv", timeout=60))[1]),
    "data-dev-zero-npy": ("refuse", lambda c: (symlink(c, "x.npy", "/dev/zero"), c.train("ae", data="x.npy", timeout=60))[1]),
    "data-dev-urandom-npz": ("refuse", lambda c: (symlink(c, "x.npz", "/dev/urandom"), c.train("ae", data="x.npz", timeout=60))[1]),
    "data-fifo": ("refuse", lambda c: (os.mkfifo(c.path("x.npy")), c.train("ae", data="x.npy", timeout=30))[1]),
    "inputs-fifo-compress": ("refuse", lambda c: (os.mkfifo(c.path("x.npy")),
                                                  c.genlab("compress", vae(c), "x.npy", "-o", "o.glz", timeout=30))[1]),
    "inputs-dev-zero-png": ("refuse", lambda c: (symlink(c, "x.png", "/dev/zero"),
                                                 c.genlab("compress", vae(c), "x.png", "-o", "o.glz", timeout=60))[1]),
    "glz-dev-zero": ("refuse", lambda c: (symlink(c, "x.glz", "/dev/zero"),
                                          c.genlab("decompress", "x.glz", "-o", "out", timeout=60))[1]),
    "metrics-dev-zero-info": ("either", lambda c: (run_with(c, "metrics.jsonl", "/dev/zero"), c.genlab("info", "vae", timeout=60))[1]),
    "metrics-dev-zero-report": ("either", lambda c: (run_with(c, "metrics.jsonl", "/dev/zero"),
                                                     c.genlab("report", "vae", "-o", "r.html", timeout=60))[1]),
    "eval-json-dev-zero": ("either", lambda c: (run_with(c, "eval.json", "/dev/zero"),
                                                c.genlab("report", "vae", "-o", "r.html", timeout=60))[1]),
    "config-yaml-dev-zero": ("either", lambda c: (run_with(c, "config.yaml", "/dev/zero"), c.genlab("info", "vae", timeout=60))[1]),
    "config-json-dev-zero": ("refuse", lambda c: (run_with(c, "model/config.json", "/dev/zero"),
                                                  c.genlab("sample", "vae", "-n", "4", "-o", "s.png", timeout=60))[1]),
    "weights-dev-zero": ("refuse", lambda c: (run_with(c, "model/model.safetensors", "/dev/zero"),
                                              c.genlab("sample", "vae", "-n", "4", "-o", "s.png", timeout=60))[1]),
    "checkpoint-dev-zero": ("refuse", lambda c: (run_with(c, "checkpoints/last.pt", "/dev/zero"), resume(c, timeout=60))[1]),
    "detector-json-dev-zero": ("refuse", lambda c: (c.copy("detector"), os.unlink(c.path("detector/detector.json")),
                                                    os.symlink("/dev/zero", c.path("detector/detector.json")),
                                                    c.genlab("detect", "score", "detector", f"{c.fix}/records.csv", "-o", "s.csv",
                                                             timeout=60))[3]),
    "config-option-dev-zero": ("refuse", lambda c: (symlink(c, "c.yaml", "/dev/zero"),
                                                    c.train("ae", "--config", "c.yaml", timeout=60))[1]),
    "data-unreadable": ("refuse", lambda c: (c.npy("x.npy", x50()), os.chmod(c.path("x.npy"), 0),
                                             c.train("ae", data="x.npy", no_dac=True))[2]),
    "weights-unreadable": ("refuse", lambda c: (c.copy("vae"), os.chmod(c.path("vae/model/model.safetensors"), 0),
                                                c.genlab("sample", "vae", "-n", "4", "-o", "s.png", no_dac=True))[2]),
    "run-unreadable": ("refuse", lambda c: (c.copy("vae"), os.chmod(c.path("vae"), 0),
                                            c.genlab("sample", "vae", "-n", "4", "-o", "s.png", no_dac=True))[2]),
    "config-yaml-unreadable": ("refuse", lambda c: (c.copy("vae"), os.chmod(c.path("vae/config.yaml"), 0),
                                                    c.genlab("info", "vae", no_dac=True))[2]),
    "glz-unreadable": ("refuse", lambda c: (c.copy("codes.glz"), os.chmod(c.path("codes.glz"), 0),
                                            c.genlab("decompress", "codes.glz", "-o", "out", no_dac=True))[2]),
    "output-folder-unwritable": ("refuse", lambda c: (c.path("ro").mkdir(), unwritable(c, "ro"),
                                                      sample_into(c, "ro/s.png", no_dac=True))[2]),
    "compress-output-unwritable": ("refuse", lambda c: (c.path("ro").mkdir(), unwritable(c, "ro"),
                                                        c.genlab("compress", vae(c), f"{c.fix}/inputs.npy", "-o", "ro/c.glz",
                                                                 no_dac=True))[2]),
    "run-dir-parent-unwritable": ("refuse", lambda c: (c.path("ro").mkdir(), unwritable(c, "ro"),
                                                       c.train("vae", run_dir="ro/run", no_dac=True))[2]),
    "resume-run-unwritable": ("refuse", lambda c: (c.copy("vae"), [os.chmod(p, 0o555) for p in c.path("vae").rglob("*") if p.is_dir()],
                                                   os.chmod(c.path("vae"), 0o555), resume(c, no_dac=True))[3]),
    "eval-run-unwritable": ("refuse", lambda c: (c.copy("vae"), os.chmod(c.path("vae"), 0o555),
                                                 c.genlab("eval", "vae", "--metrics", "reconstruction", "--limit", "20",
                                                          "--bootstrap", "0", no_dac=True))[2]),
    "run-dir-spaces": ("accept", lambda c: c.train("vae", run_dir="my run")),
    "run-dir-unicode": ("accept", lambda c: c.train("vae", run_dir="rün-数字")),
    "run-dir-newline": ("accept", lambda c: c.train("vae", run_dir="run\nname")),
    "run-dir-dash": ("accept", lambda c: c.genlab("train", "vae", "--data", "digits", "--epochs", "1", "--run-dir=-r",
                                                  *TINY, *SMALL_AE)),
    "run-dir-not-utf8-compress": ("accept", lambda c: (c.copy("vae", os.fsdecode(b"run\xff")),
                                                       c.genlab("compress", os.fsdecode(b"run\xff"), f"{c.fix}/inputs.npy",
                                                                "-o", "c.glz"))[1]),
    "run-dir-not-utf8-train": ("accept", lambda c: c.train("vae", run_dir=os.fsdecode(b"run\xfe"))),
    "output-not-utf8": ("accept", lambda c: sample_into(c, os.fsdecode(b"s\xff.png"))),
    "data-name-not-utf8": ("accept", lambda c: c.train("ae", data=c.npy(os.fsdecode(b"x\xff.npy"), x50()))),
    "output-existing-folder-npy": ("refuse", lambda c: (c.path("out.npy").mkdir(), sample_into(c, "out.npy"))[1]),
    "output-parent-is-file": ("refuse", lambda c: (c.write("f", "x"), sample_into(c, "f/s.png"))[1]),
    "output-trailing-slash": ("either", lambda c: sample_into(c, "s.png/")),
    "output-deep-parents": ("accept", lambda c: sample_into(c, "a/b/c/s.png")),
    "output-unknown-suffix": ("refuse", lambda c: sample_into(c, "s.txt")),
    "output-name-too-long": ("refuse", lambda c: sample_into(c, "x" * 300 + ".png")),
    "output-symlink-dev-full": ("either", lambda c: (symlink(c, "s.npy", "/dev/full"), sample_into(c, "s.npy"))[1]),
    "config-option-folder": ("refuse", lambda c: (c.path("cfg.yaml").mkdir(), c.train("ae", "--config", "cfg.yaml"))[1]),
    "config-option-missing": ("refuse", lambda c: c.train("ae", "--config", "missing.yaml")),
    "config-option-empty": ("either", lambda c: c.train("ae", "--config", c.write("c.yaml", ""))),
    "config-option-list": ("refuse", lambda c: c.train("ae", "--config", c.write("c.yaml", "- 1\n- 2\n"))),
    "empty-npy": ("refuse", lambda c: c.train("ae", data=c.write("x.npy", b""))),
    "empty-npz": ("refuse", lambda c: c.train("ae", data=c.write("x.npz", b""))),
    "empty-csv": ("refuse", lambda c: c.train("ae", data=c.write("x.csv", b""))),
    "empty-png-in-folder": ("refuse", lambda c: (images_folder(c, {"a.png": digit_png(0), "b.png": b""}),
                                                 c.train("ae", data="images"))[1]),
    "empty-glz": ("refuse", lambda c: c.genlab("decompress", c.write("x.glz", b""), "-o", "out")),
    "empty-weights": ("refuse", lambda c: (c.copy("vae"), c.write("vae/model/model.safetensors", b""),
                                           c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[2]),
    "empty-mask": ("refuse", lambda c: c.genlab("inpaint", vae(c), f"{c.fix}/inputs.npy", "--mask", c.write("m.npy", b""),
                                                "-o", "out.npy", "--steps", "5")),
    "empty-metrics-info": ("either", lambda c: (c.copy("vae"), c.write("vae/metrics.jsonl", b""), c.genlab("info", "vae"))[2]),
    "binary-metrics-info": ("either", lambda c: (c.copy("vae"), c.write("vae/metrics.jsonl", rng().bytes(3000)),
                                                 c.genlab("info", "vae"))[2]),
    "run-is-a-file": ("refuse", lambda c: c.genlab("sample", f"{c.fix}/inputs.npy", "-n", "4", "-o", "s.png")),
    "run-dir-is-a-file": ("refuse", lambda c: c.train("vae", run_dir=c.write("taken", "x"))),
    "run-symlink": ("accept", lambda c: (symlink(c, "link", c.fix / "vae"), c.genlab("sample", "link", "-n", "4", "-o", "s.png"))[1]),
    "model-folder-given": ("accept", lambda c: c.genlab("sample", f"{c.fix}/vae/model", "-n", "4", "-o", "s.png")),
    "run-without-model": ("refuse", lambda c: (shutil.rmtree(c.copy("vae") / "model"),
                                               c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1]),
    "run-without-config-yaml": ("either", lambda c: (os.unlink(c.copy("vae") / "config.yaml"),
                                                     c.genlab("sample", "vae", "-n", "4", "-o", "s.png"))[1]),
    "root-as-run": ("refuse", lambda c: c.genlab("sample", "/", "-n", "4", "-o", "s.png")),
    "png-is-text": ("refuse", lambda c: c.genlab("compress", vae(c), c.write("fake.png", "not an image\n"), "-o", "o.glz")),
    "png-is-jpeg": ("either", lambda c: c.genlab("compress", vae(c), c.write("x.png", png(np.zeros((8, 8), np.uint8), format="JPEG")),
                                                 "-o", "o.glz")),
    "png-rgba": ("either", lambda c: c.genlab("compress", vae(c), c.write("x.png", png(np.zeros((8, 8, 4), np.uint8))), "-o", "o.glz")),
    "png-wrong-size": ("either", lambda c: c.genlab("compress", vae(c), c.write("x.png", png(np.zeros((100, 100), np.uint8))),
                                                    "-o", "o.glz")),
    "inputs-differ-in-size": ("refuse", lambda c: c.genlab("compress", vae(c), c.write("a.png", png(np.zeros((8, 8), np.uint8))),
                                                           c.write("b.png", png(np.zeros((9, 9), np.uint8))), "-o", "o.glz")),
    "unknown-command": ("refuse", lambda c: c.genlab("frobnicate")),
    "unknown-model": ("refuse", lambda c: c.genlab("train", "transformer", "--data", "digits", "--run-dir", "run")),
    "unknown-dataset": ("refuse", lambda c: c.train("ae", data="imagenet-22k")),
    "models-unknown": ("refuse", lambda c: c.genlab("models", "transformer")),
    "data-verify-unknown": ("refuse", lambda c: c.genlab("data", "verify", "imagenet-22k")),
    "data-fetch-empty-mirror": ("refuse", lambda c: (c.path("mirror").mkdir(),
                                                     c.genlab("data", "fetch", "mnist", "--mirror", "mirror", "--root", "cache",
                                                              timeout=60))[1]),
    "data-fetch-root-is-file": ("refuse", lambda c: c.genlab("data", "fetch", "mnist", "--root", c.write("cache", "x"), timeout=60)),
    "device-banana": ("refuse", lambda c: c.genlab("sample", vae(c), "-n", "4", "-o", "s.png", "--device", "banana")),
    "device-cuda": ("refuse", lambda c: c.genlab("sample", vae(c), "-n", "4", "-o", "s.png", "--device", "cuda")),
    "device-mps": ("refuse", lambda c: c.genlab("sample", vae(c), "-n", "4", "-o", "s.png", "--device", "mps")),
    "device-cuda-negative": ("refuse", lambda c: c.genlab("sample", vae(c), "-n", "4", "-o", "s.png", "--device", "cuda:-1")),
    "info-json-nan-metric": ("either", lambda c: (c.copy("vae"), open(c.path("vae/metrics.jsonl"), "a").write(
        '{"split": "val", "step": 40, "epoch": 2, "loss": NaN}\n'), c.genlab("info", "vae", "--json", check=strict_json))[2]),
    "sample-negative-count": ("refuse", lambda c: c.genlab("sample", vae(c), "-n", "-4", "-o", "s.png")),
    "denoise-no-inputs-folder-empty": ("refuse", lambda c: (c.path("empty").mkdir(),
                                                             c.genlab("denoise", vae(c), "empty", "-o", "out"))[1]),
}


def strict_json(result: Result, before: dict, after: dict):
    """`genlab info --json` must print JSON that strict parsers read (no NaN or Infinity)."""
    if result.returncode != 0:
        return None

    def refuse_constant(name):
        raise ValueError(name)
    try:
        json.loads(result.stdout, parse_constant=refuse_constant)
    except ValueError as error:
        return "silent", f"printed invalid JSON ({error})"
    return None


for name, (expect, build) in OTHER.items():
    add("other", name, expect, name.replace("-", " "), build)


# ---- fixtures --------------------------------------------------------------------------------


def build_fixtures(folder: Path, env: dict) -> None:
    """The runs and files the cases start from, made once."""
    import lzma

    from PIL import Image
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True)

    def genlab(*args) -> None:
        done = subprocess.run(GENLAB + [str(a) for a in args], cwd=folder, env=env, capture_output=True, text=True,
                              preexec_fn=limits())
        if done.returncode != 0:
            raise RuntimeError(f"fixture: genlab {' '.join(map(str, args))} failed: {done.stderr[-2000:]}")

    genlab("train", "vae", "--data", "digits", "--epochs", "1", "--run-dir", "vae", "-q", *TINY, *SMALL_AE)
    genlab("train", "vae", "--data", "digits", "--epochs", "1", "--run-dir", "vae-seed-1", "--seed", "1", "-q", *TINY, *SMALL_AE)
    genlab("train", "cvae", "--data", "digits", "--epochs", "1", "--run-dir", "cvae", "-q", *TINY, *SMALL_AE)
    genlab("train", "gan", "--data", "digits", "--epochs", "1", "--run-dir", "gan", "-q", *TINY, *SMALL_GAN)
    records = rng().normal(size=(200, 4))
    (folder / "records.csv").write_text("a,b,c,d\n" + "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in records))
    genlab("detect", "fit", "--data", folder / "records.csv", "--run-dir", "detector", "--epochs", "1", "--latent-dim", "2", "-q", *TINY)
    genlab("sample", "vae", "-n", "10", "--seed", "1", "-o", "inputs.npy")
    genlab("compress", "vae", "inputs.npy", "-o", "codes.glz")
    genlab("sample", "vae", "--sampler", "gmm", "-n", "4", "-o", "gmm.png")  # leaves vae/samplers/gmm-10.npz

    digits = (load_digits().images * 255 / 16).astype(np.uint8)
    (folder / "pngs").mkdir()
    for index in range(3):
        (folder / "pngs" / f"digit{index}.png").write_bytes(png(digits[index]))
    Image.fromarray(digits[0]).save(folder / "digit.gif")
    Image.fromarray(digits[0].astype(np.uint16) * 257).save(folder / "digit16.png")
    palette = Image.fromarray(digits[0]).convert("P")
    palette.info["transparency"] = 0
    palette.save(folder / "palette.png", transparency=0)
    Image.new("CMYK", (8, 8), (0, 0, 0, 128)).save(folder / "cmyk.jpg")

    (folder / "bomb-50k.png").write_bytes(png_bomb(50000, 50000))
    (folder / "bomb-9k.png").write_bytes(png_bomb(9000, 9000))
    (folder / "big-5000.png").write_bytes(png_bomb(5000, 5000))
    (folder / "zeros-1g.zlib").write_bytes(zeros_deflated(1 << 30))
    compressor = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 0}])
    block, parts = bytes(16 << 20), []
    for _ in range(16):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    (folder / "zeros-256m.lzma").write_bytes(b"".join(parts))


# ---- running the cases -------------------------------------------------------------------------


def shown(argv: list[str], folder: Path, fixtures: Path) -> str:
    """A command as a user would type it in the case folder ($FIX: the fixtures)."""
    words = []
    for index, word in enumerate(argv):
        if index == 0 and word == GENLAB[0]:
            word = "genlab"
        elif index == 0 and word == PYTHON:
            word = "python"
        elif index == 1 and argv[:2] == [PYTHON, "-m"]:
            continue
        word = word.replace(str(folder) + "/", "").replace(str(fixtures), "$FIX")
        words.append(word)
    if argv[:3] == [PYTHON, "-m", "genlab"]:
        words = ["genlab"] + words[2:]
    return shlex.join(words)


def run_case(case: Case, workspace: Path, fixtures: Path, env: dict, mountable: bool, keep: bool) -> dict:
    folder = workspace / "cases" / case.id
    folder.mkdir(parents=True)
    ctx = Ctx(folder, fixtures, env, mountable)
    record = {"id": case.id, "class": case.klass, "description": case.description, "expectation": case.expect}
    started = time.perf_counter()
    run = None
    try:
        run = case.build(ctx)
        before = snapshot(folder)
        result = execute(run, folder, env)
        after = snapshot(folder)
        outcome, note = classify(case.expect, result, before, after, run)
        stderr_lines = [line for line in result.stderr.splitlines() if line.strip()]
        record.update({"command": shown(run.argv, folder, fixtures), "outcome": outcome, "note": note,
                       "exit_code": result.returncode, "stderr_first_line": stderr_lines[0][:400] if stderr_lines else "",
                       "error_line": next(iter(error_lines(result.stderr)), "")[:400],
                       "stderr_last_line": last_line(result.stderr), "seconds": round(result.seconds, 2)})
        if run.script is not None:
            record["script"] = run.script.replace(str(fixtures), "$FIX").replace(str(folder) + "/", "")
        limits_used = {key: value for key, value in (("umask", f"{run.umask:03o}"), ("file_size_limit", run.file_limit),
                                                     ("without_dac_override", run.no_dac or None)) if value is not None}
        record["limits"] = limits_used
    except Exception as error:  # noqa: BLE001 - a case that cannot be prepared is reported, not fatal
        record.update({"command": "", "outcome": "setup-error", "note": f"{type(error).__name__}: {error}"[:400],
                       "exit_code": None, "stderr_first_line": "", "error_line": "", "stderr_last_line": "",
                       "seconds": round(time.perf_counter() - started, 2)})
    finally:
        for undo in ctx.cleanup + (run.cleanup if run is not None else []):
            try:
                undo()
            except Exception:  # noqa: BLE001
                pass
        if not keep:
            remove(folder)
    return record


def remove(folder: Path) -> None:
    """Delete a case folder, whatever modes the case left on it."""
    subprocess.run(["chmod", "-R", "u+rwx", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


# ---- B. SIGKILL and resume -------------------------------------------------------------------------

KILL_EPOCHS, STEPS_PER_EPOCH, CHECKPOINT_EVERY = 3, 20, 7  # digits: 1,280 training images in batches of 64
KILL_CONFIGS = {
    "vae": ["train", "vae", "--data", "digits", "--epochs", str(KILL_EPOCHS), *TINY, *SMALL_AE],
    f"vae-checkpoint-every-{CHECKPOINT_EVERY}": ["train", "vae", "--data", "digits", "--epochs", str(KILL_EPOCHS), *TINY,
                                                 *SMALL_AE, "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}"],
    "gan": ["train", "gan", "--data", "digits", "--epochs", str(KILL_EPOCHS), *TINY, *SMALL_GAN],
    f"gan-checkpoint-every-{CHECKPOINT_EVERY}": ["train", "gan", "--data", "digits", "--epochs", str(KILL_EPOCHS), *TINY,
                                                 *SMALL_GAN, "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}"],
}
# where each kill is aimed: a random moment, or the moment a checkpoint or model scratch file appears
AIMS = ("random", "checkpoint", "random", "model", "checkpoint", "random")
SCRATCH_PREFIX = {"checkpoint": ("checkpoints", ".last.pt."), "model": ("model", ".model.safetensors.")}


def val_lines(run: Path) -> list[dict]:
    lines = []
    for text in (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []:
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            continue
        if record.get("split") == "val":
            lines.append(record)
    return lines


def compare_weights(first: Path, second: Path) -> tuple[bool, float | None]:
    """Whether two weights files hold bit-identical tensors, and the largest absolute difference."""
    from safetensors.numpy import load_file

    try:
        a, b = load_file(str(first)), load_file(str(second))
    except Exception:  # noqa: BLE001 - a damaged file is simply not identical
        return False, None
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape or a[k].dtype != b[k].dtype for k in a):
        return False, None
    identical = all(a[k].tobytes() == b[k].tobytes() for k in a)
    difference = max((float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0)
                     for k in a)
    return identical, difference


def start_training(args: list[str], run: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(GENLAB + args + ["--run-dir", str(run), "-q"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=limits())


def kill_at(process: subprocess.Popen, run: Path, aim: str, draw: random.Random, reference_seconds: float,
            config: str) -> str:
    """Let the training run until the aimed moment, then SIGKILL it; say what the moment was."""
    started = time.perf_counter()
    if aim == "random":
        wait = draw.uniform(0.1, reference_seconds)
        while time.perf_counter() - started < wait and process.poll() is None:
            time.sleep(0.002)
        detail = f"{wait:.2f} s after start"
    else:
        folder, prefix = SCRATCH_PREFIX[aim]
        every = CHECKPOINT_EVERY if "checkpoint-every" in config else 0
        writes = KILL_EPOCHS + (KILL_EPOCHS * STEPS_PER_EPOCH // every if every else 0) if aim == "checkpoint" else KILL_EPOCHS
        target, seen = draw.randint(1, writes), set()
        while process.poll() is None and len(seen) < target:  # busy polling: a checkpoint write lasts milliseconds
            try:
                names = os.listdir(run / folder)
            except OSError:
                continue
            seen.update(n for n in names if n.startswith(prefix) and n.endswith(".tmp"))
        detail = f"while writing {folder}/{prefix}*.tmp (write {target} of {writes})"
    kill_group(process)
    process.wait()
    return detail + f", killed at {time.perf_counter() - started:.2f} s"


def one_kill(index: int, config: str, aim: str, draw: random.Random, reference: dict, folder: Path, env: dict) -> dict:
    args = KILL_CONFIGS[config]
    for attempt in range(4):  # a training that finished before its kill is started again with another draw
        run = folder / f"kill-{index:03d}"
        shutil.rmtree(run, ignore_errors=True)
        process = start_training(args, run, env)
        detail = kill_at(process, run, aim if attempt < 2 else "random", draw, reference["seconds"], config)
        if process.returncode == -signal.SIGKILL:
            break
    record = {"index": index, "config": config, "aim": aim, "moment": detail, "killed": process.returncode == -signal.SIGKILL,
              "attempts": attempt + 1, "run_dir_existed": run.is_dir(),
              "checkpoint_existed": (run / "checkpoints" / "last.pt").is_file(),
              "scratch_at_kill": sorted(str(p.relative_to(run)) for p in run.rglob("*.tmp")) if run.is_dir() else []}
    resumed = subprocess.run(GENLAB + ["train", "--resume", str(run), "-q"], env=env, capture_output=True, text=True,
                             timeout=600, preexec_fn=limits())
    record["continued_with"] = "train --resume"
    if resumed.returncode != 0 and not (run / "config.yaml").is_file():
        # killed before the run held its settings: the user's next step is the same command again
        shutil.rmtree(run, ignore_errors=True) if run.is_dir() and not any(run.iterdir()) else None
        resumed = subprocess.run(GENLAB + args + ["--run-dir", str(run), "-q"], env=env, capture_output=True, text=True,
                                 timeout=600, preexec_fn=limits())
        record["continued_with"] = "the same train command (no run to resume yet)"
    record.update({"resume_exit_code": resumed.returncode,
                   "resume_error": next(iter(error_lines(resumed.stderr)), last_line(resumed.stderr))[:300]})
    weights = run / "model" / "model.safetensors"
    reference_weights = reference["run"] / "model" / "model.safetensors"
    record["identical_file_bytes"] = weights.is_file() and weights.read_bytes() == reference_weights.read_bytes()
    record["identical_weights"], record["max_abs_difference"] = (compare_weights(weights, reference_weights)
                                                                 if weights.is_file() else (False, None))
    val = val_lines(run)
    steps = Counter(line.get("step") for line in val)
    record["duplicate_val_steps"] = sorted(step for step, count in steps.items() if count > 1)
    record["val_lines_match_reference"] = val == reference["val"]
    record["scratch_left"] = sorted(str(p.relative_to(run)) for p in run.rglob("*.tmp")) if run.is_dir() else []
    record["ok"] = bool(record["killed"] and resumed.returncode == 0 and record["identical_weights"]
                        and not record["duplicate_val_steps"] and not record["scratch_left"]
                        and record["val_lines_match_reference"])
    shutil.rmtree(run, ignore_errors=True)
    return record


def kill_campaign(workspace: Path, env: dict, kills: int) -> dict:
    folder = workspace / "kills"
    folder.mkdir()
    draw = random.Random(SEED)
    references = {}
    for config, args in KILL_CONFIGS.items():
        run = folder / f"reference-{config}"
        started = time.perf_counter()
        done = subprocess.run(GENLAB + args + ["--run-dir", str(run), "-q"], env=env, capture_output=True, text=True,
                              preexec_fn=limits())
        if done.returncode != 0:
            raise RuntimeError(f"reference run {config} failed: {done.stderr[-2000:]}")
        references[config] = {"run": run, "seconds": time.perf_counter() - started, "val": val_lines(run)}
        print(f"reference {config}: {references[config]['seconds']:.1f} s", flush=True)
    records = []
    names = list(KILL_CONFIGS)
    for index in range(kills):
        config, aim = names[index % len(names)], AIMS[(index // len(names)) % len(AIMS)]
        started = time.perf_counter()
        record = one_kill(index, config, aim, draw, references[config], folder, env)
        record["seconds"] = round(time.perf_counter() - started, 2)
        records.append(record)
        problems = [text for text, bad in (
            ("not killed", not record["killed"]), (f"resume failed: {record['resume_error']}", record["resume_exit_code"] != 0),
            (f"weights differ (max {record['max_abs_difference']})", not record["identical_weights"]),
            (f"duplicated val steps {record['duplicate_val_steps']}", record["duplicate_val_steps"]),
            ("val lines differ from the reference", not record["val_lines_match_reference"]),
            (f"scratch left {record['scratch_left']}", record["scratch_left"])) if bad]
        print(f"kill {index + 1:3d}/{kills} {config:<26} {aim:<10} {'ok' if record['ok'] else 'FAILED'}  {record['moment']}"
              + (f"  [{'; '.join(problems)}]" if problems else ""), flush=True)
    summary = {
        "kills": sum(r["killed"] for r in records),
        "identical_resumes": sum(r["killed"] and r["identical_weights"] for r in records),
        "identical_file_bytes": sum(r["killed"] and r["identical_file_bytes"] for r in records),
        "resume_failed": sum(r["resume_exit_code"] != 0 for r in records),
        "duplicate_val_lines": sum(bool(r["duplicate_val_steps"]) for r in records),
        "val_lines_differ": sum(not r["val_lines_match_reference"] for r in records),
        "scratch_left": sum(bool(r["scratch_left"]) for r in records),
        "all_ok": sum(r["ok"] for r in records),
        "by_aim": {aim: sum(r["aim"] == aim for r in records) for aim in sorted(set(AIMS))},
    }
    reference_info = {config: {"command": "genlab " + shlex.join(args) + " --run-dir RUN -q",
                               "seconds": round(ref["seconds"], 2), "val_lines": len(ref["val"])}
                      for config, ref in references.items() for args in [KILL_CONFIGS[config]]}
    return {"references": reference_info, "summary": summary, "runs": records}


# ---- report --------------------------------------------------------------------------------------


def summarise(records: list[dict]) -> dict:
    by_class = {klass: dict(Counter(r["outcome"] for r in records if r["class"] == klass)) for klass in CLASSES
                if any(r["class"] == klass for r in records)}
    return {"cases": len(records), "as_expected": sum(r["outcome"] in GOOD for r in records),
            "not_as_expected": sum(r["outcome"] not in GOOD for r in records),
            "by_outcome": dict(Counter(r["outcome"] for r in records)), "by_class": by_class}


def print_summary(records: list[dict], kills: dict | None) -> None:
    if records:
        outcomes = [o for o in OUTCOMES if any(r["outcome"] == o for r in records)]
        width = max(len(o) for o in outcomes) + 1
        print("\n" + "class".ljust(10) + "".join(o.rjust(width) for o in outcomes) + "total".rjust(7))
        for klass in CLASSES:
            rows = [r for r in records if r["class"] == klass]
            if rows:
                counts = Counter(r["outcome"] for r in rows)
                print(klass.ljust(10) + "".join(str(counts.get(o, "")).rjust(width) for o in outcomes) + str(len(rows)).rjust(7))
        counts = Counter(r["outcome"] for r in records)
        print("all".ljust(10) + "".join(str(counts.get(o, "")).rjust(width) for o in outcomes) + str(len(records)).rjust(7))
        failures = [r for r in records if r["outcome"] not in GOOD]
        if failures:
            print(f"\n{len(failures)} cases not as expected:")
            for r in failures:
                said = r["error_line"] or r["stderr_last_line"] or r["note"]
                note = f"\n      ({r['note'][:200]})" if r["note"] and r["note"] != said else ""
                print(f"  [{r['outcome']}] {r['id']}: {r['command'][:300]}\n      {said[:200]}" + note)
    if kills:
        s = kills["summary"]
        print(f"\nSIGKILL: {s['kills']} kills, {s['identical_resumes']} resumed to identical weights, "
              f"{s['resume_failed']} resumes failed, {s['duplicate_val_lines']} with duplicated validation lines, "
              f"{s['scratch_left']} with scratch files left, {s['all_ok']} fully as expected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cases of each class and 3 kills")
    parser.add_argument("--only", choices=[*CLASSES, "sigkill"], help="one class of cases, or only the kills")
    parser.add_argument("--case", action="append", default=[], help="run this case (repeatable; no kills)")
    parser.add_argument("--kills", type=int, default=52, help="SIGKILLs in part B (default 52)")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (fixtures and case folders)")
    parser.add_argument("--live-source", action="store_true",
                        help="run against src/ as it changes, not a copy taken at the start")
    parser.add_argument("--output", help="JSON to write (default: results/robustness.json for a full run, none otherwise)")
    args = parser.parse_args()
    if args.list:
        for case in CASES:
            print(f"{case.id:<50} {case.expect:<7} {case.description}")
        print(f"{len(CASES)} cases")
        return
    selected = [c for c in CASES if (not args.only or c.klass == args.only) and (not args.case or c.id in args.case)]
    if args.only == "sigkill":
        selected = []
    if args.quick:
        selected = [c for klass in CLASSES for c in [c for c in selected if c.klass == klass][:2]]
    unknown = set(args.case) - {c.id for c in CASES}
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    kills = 0 if args.case or (args.only and args.only != "sigkill") else 3 if args.quick else args.kills
    full = not (args.quick or args.only or args.case) and kills == 52

    workspace = Path(tempfile.mkdtemp(prefix="genlab-robustness-"))
    source = {"live": True} if args.live_source else snapshot_source(workspace)
    env = child_env(workspace)
    (workspace / "genlab-data").mkdir()
    (workspace / "matplotlib").mkdir()
    mountable = can_mount()
    started = time.perf_counter()
    records, kill_results = [], None
    try:
        if selected:
            fixtures = workspace / "fixtures"
            print(f"fixtures in {fixtures} ...", flush=True)
            build_fixtures(fixtures, env)
            FIXTURES_HOLDER.append(fixtures)
            print(f"fixtures ready after {time.perf_counter() - started:.0f} s; {len(selected)} cases", flush=True)
            for number, case in enumerate(selected, 1):
                record = run_case(case, workspace, fixtures, env, mountable, args.keep)
                records.append(record)
                print(f"{number:3d}/{len(selected)} {record['outcome']:<15} {case.id:<48} {record['seconds']:6.1f} s  "
                      f"{(record['error_line'] or record['stderr_last_line'] or record['note'])[:90]}", flush=True)
        if kills:
            kill_results = kill_campaign(workspace, env, kills)
    finally:
        if args.keep:
            print(f"work folder kept: {workspace}")
        else:
            remove(workspace)
    payload = {
        "benchmark": "robustness",
        "protocol": {
            "selection_protocol": SELECTION,
            "cases": "each case in a fresh folder; one child process with RLIMIT_AS "
                     f"{MEMORY_LIMIT >> 30} GiB, no core files, umask 022 unless the case sets another, "
                     f"a {CASE_TIMEOUT} s time limit unless the case sets a shorter one, OMP_NUM_THREADS=1",
            "clean": "exit status 2 (1 for a diverged training), exactly one stderr line starting with 'error:' "
                     "(argparse's 'genlab ...: error:' counts), no traceback, and no file left or changed in the case folder",
            "full_disk": ("a filled tmpfs (mounted for the case) and, separately, RLIMIT_FSIZE with SIGXFSZ ignored"
                          if mountable else "RLIMIT_FSIZE with SIGXFSZ ignored (no tmpfs could be mounted)"),
            "permissions": "chmod cases drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the child's bounding set",
            "explorer": "fastapi.testclient.TestClient on genlab.serve.app.create_app; a 4xx answer counts as a refusal, "
                        "a server exception as a traceback",
            "fixtures": "vae (seeds 0 and 1), cvae and gan runs on digits (1 epoch; " + " ".join(TINY + SMALL_AE) + "; gan: "
                        + " ".join(SMALL_GAN) + "), a vae detector on a 200x4 CSV, 10 sampled inputs and their .glz",
            "kills": f"{kills} SIGKILLs over {', '.join(KILL_CONFIGS)} ({KILL_EPOCHS} epochs of {STEPS_PER_EPOCH} steps); "
                     f"aims cycle {list(AIMS)}; random moments uniform in (0.1 s, the reference run's wall time); "
                     "each killed run continued with `genlab train --resume RUN` and compared with one uninterrupted "
                     "reference run per config (same seed 0)",
            "seed": SEED,
            "selection": "full" if full else {"quick": args.quick, "only": args.only, "cases": args.case},
        },
        "machine": machine(),
        "source": {key: value for key, value in source.items() if key != "path"},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "summary": summarise(records),
        "cases": records,
        "kills": kill_results,
    }
    if args.output:
        path = Path(args.output)
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path}")
    elif full:
        write_result("robustness", payload)
    print_summary(records, kill_results)


if __name__ == "__main__":
    main()
