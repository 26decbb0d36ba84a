"""The run directory: the one artefact a training run leaves, and everything else reads.

    RUN/
      config.yaml          fully resolved; `genlab train --config RUN/config.yaml` reruns it
      model/               config.json + model.safetensors (genlab.load reads this)
      checkpoints/last.pt  model, optimizers, schedulers, data position, RNG states
      metrics.jsonl        one JSON line per log interval and per validation
      samples/             epoch_NNN_samples.png, epoch_NNN_reconstructions.png
      curves.png           losses against the step
      tensorboard/         when TensorBoard is installed
      eval.json            the latest results of `genlab eval`
      samplers/            ex-post samplers fitted to the model's codes (gmm-K.npz)
      detector.json        an anomaly detector's score and threshold (`genlab detect fit`)
      snapshots/<hash>/    weights that compressed files were made with, kept when the run trains further
      report.html          `genlab report`
      .lock                held by the one training that writes the run (its PID inside)

`RunDirectory` is the only code that spells these names; everything else asks it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per run is then the user's to keep
    fcntl = None

from genlab.errors import GenlabError
from genlab.files import disk_error, remove_scratch, write_bytes_atomic, write_text_atomic
from genlab.models.base import CONFIG_FILE as MODEL_DESCRIPTION  # what makes a folder a saved model
from genlab.settings import dump_yaml, read_config_file

CONFIG_FILE = "config.yaml"
MODEL_FOLDER = "model"
LOCK_FILE = ".lock"
SCRATCH_AGE_S = 600  # a scratch file untouched this long belongs to no write under way


class RunDirectory:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._lock = None  # the open lock file while this process is the run's writer
        self._made = False  # whether this process created the folder (so a failed start may remove it)

    config_path = property(lambda self: self.root / CONFIG_FILE)
    model_dir = property(lambda self: self.root / MODEL_FOLDER)
    checkpoint_path = property(lambda self: self.root / "checkpoints" / "last.pt")
    metrics_path = property(lambda self: self.root / "metrics.jsonl")
    samples_dir = property(lambda self: self.root / "samples")
    curves_path = property(lambda self: self.root / "curves.png")
    tensorboard_dir = property(lambda self: self.root / "tensorboard")
    eval_path = property(lambda self: self.root / "eval.json")
    detector_path = property(lambda self: self.root / "detector.json")
    report_path = property(lambda self: self.root / "report.html")

    def preview_path(self, epoch: int, name: str) -> Path:
        """The grid of `name` (samples, reconstructions) drawn at the end of `epoch`."""
        return self.samples_dir / f"epoch_{epoch:03d}_{name}.png"

    def sampler_path(self, name: str, components: int) -> Path:
        """An ex-post sampler fitted to the model's codes, e.g. gmm with 10 components."""
        return self.root / "samplers" / f"{name}-{components}.npz"

    def snapshot_dir(self, digest: str) -> Path:
        """A copy of the model as it was when a file was compressed with it (digest: genlab.apps.codec.model_sha256)."""
        return self.root / "snapshots" / digest[:16]

    @classmethod
    def create(cls, root: str | Path, config_tree: dict) -> RunDirectory:
        """A new run directory holding config.yaml, locked for this writer; refuses to reuse a non-empty one."""
        run = cls(root)
        if run.root.exists() and not run.root.is_dir():
            raise GenlabError(f"run directory '{run.root}' is a file; choose another --run-dir")
        run._refuse_if_used()  # before touching anything
        try:
            run.root.mkdir(parents=True)
            run._made = True
        except FileExistsError:
            pass  # the user's own empty folder, or one another process has just made
        try:
            run.lock()
        except OSError as error:  # a full disk cannot take the lock file's PID
            if run._made:
                shutil.rmtree(run.root, ignore_errors=True)
            raise disk_error(error, run.root / LOCK_FILE) from None
        try:
            run._refuse_if_used()  # another process may have started it meanwhile
        except GenlabError:
            run.unlock()
            raise
        try:
            run.write_config(config_tree)
        except BaseException as error:
            run.discard_failed_start()
            raise disk_error(error, run.config_path) if isinstance(error, OSError) else error from None
        return run

    def _refuse_if_used(self) -> None:
        if self.root.is_dir() and any(path.name != LOCK_FILE for path in self.root.iterdir()):
            holder = self.writer()
            if holder is not None:
                raise self._busy(holder)
            raise GenlabError(
                f"run directory '{self.root}' already exists; continue it with --resume or choose another --run-dir"
            )

    def writer(self) -> str | None:
        """The PID of the training that holds this run's lock, or None; looks without writing anything."""
        if fcntl is None or self._lock is not None or not (self.root / LOCK_FILE).is_file():
            return None
        with open(self.root / LOCK_FILE) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return handle.read().strip() or "?"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def refuse_if_busy(self) -> None:
        """A one-line error when another training writes this run (checked early, before any work)."""
        holder = self.writer()
        if holder is not None:
            raise self._busy(holder)

    def _busy(self, holder: str) -> GenlabError:
        return GenlabError(f"run directory '{self.root}' is being written by another training (process {holder}); "
                           "wait for it to finish, or choose another --run-dir")

    def lock(self) -> None:
        """Become the run's one writer (an exclusive lock on RUN/.lock, held until unlock or exit)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if fcntl is None or self._lock is not None:
            return
        handle = open(self.root / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise self._busy(holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle
        self.remove_scratch()

    def remove_scratch(self) -> None:
        """Scratch files of writes a killed process left: the training's own at once, others' once surely stale
        (`genlab eval` and the applications write into a run without its lock)."""
        for folder in (self.checkpoint_path.parent, self.model_dir, self.samples_dir):
            remove_scratch(folder)
        for name in (CONFIG_FILE, "metrics.jsonl", "curves.png"):  # the training's own files at the top
            remove_scratch(self.root, prefix=f".{name}.")
        remove_scratch(self.root, older_than=SCRATCH_AGE_S)

    def unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def discard_failed_start(self) -> None:
        """After a new run failed before saving a checkpoint to continue from, leave no directory behind (a plain
        retry then works); a run with a checkpoint is kept."""
        if self.checkpoint_path.exists():
            return
        self.unlock()
        if self._made:
            shutil.rmtree(self.root, ignore_errors=True)
        else:  # the user's own empty folder: empty it again
            for path in self.root.iterdir():
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def attempt(self) -> dict:
        """What a resumed training may change before its first new checkpoint, as it is now (see roll_back)."""
        def read(path: Path) -> bytes | None:
            return path.read_bytes() if path.is_file() else None
        return {"checkpoint": _signature(self.checkpoint_path), "config": read(self.config_path),
                "metrics": read(self.metrics_path)}

    def roll_back(self, attempt: dict) -> None:
        """After a resumed training failed before completing a checkpoint, put back config.yaml and metrics.jsonl
        as they were (a retry, or the next reader, then sees the run the last checkpoint describes)."""
        if _signature(self.checkpoint_path) != attempt["checkpoint"]:
            return  # it saved progress: what it wrote describes that progress
        for path, content in ((self.config_path, attempt["config"]), (self.metrics_path, attempt["metrics"])):
            with contextlib.suppress(OSError, GenlabError):  # best effort: the failure itself is what gets reported
                if content is None:
                    path.unlink(missing_ok=True)
                elif not path.is_file() or path.read_bytes() != content:
                    write_bytes_atomic(path, content)

    @classmethod
    def open(cls, root: str | Path) -> RunDirectory:
        """An existing run directory (it must hold config.yaml)."""
        run = cls(root)
        if not run.root.is_dir():
            raise GenlabError(f"run directory '{run.root}' not found")
        if not run.config_path.is_file():
            raise GenlabError(f"'{run.root}' is not a genlab run directory (no {CONFIG_FILE})")
        return run

    @classmethod
    def find(cls, path: str | Path) -> RunDirectory | None:
        """The run directory at `path`, or None when `path` is something else (such as a bare model folder)."""
        run = cls(path)
        return run if run.config_path.is_file() else None

    def write_config(self, config_tree: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config_path, dump_yaml(config_tree))

    def read_config(self) -> dict:
        """config.yaml, read with the bounds of every config file (size, UTF-8, depth, aliases)."""
        return read_config_file(self.config_path)

def _signature(path: Path) -> tuple | None:
    """Identity and time of a file, to tell whether it was replaced; None when absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def default_run_dir(model_name: str, data_name: str, parent: str | Path = "runs") -> Path:
    """runs/<model>-<data>-<date>-<time>, made unique if a run started in the same second."""
    stem = Path(data_name).stem if ("/" in data_name or "." in data_name) else data_name
    base = Path(parent) / f"{model_name}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, suffix = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{suffix}")
        suffix += 1
    return candidate


def model_dir_of(path: str | Path) -> Path:
    """The model folder of a run directory, or `path` itself when it is a model folder."""
    path = Path(path)
    if not path.exists():
        raise GenlabError(f"run directory '{path}' not found")
    run = RunDirectory(path)
    if (run.model_dir / MODEL_DESCRIPTION).is_file():
        return run.model_dir
    if (path / MODEL_DESCRIPTION).is_file():
        return path
    if run.config_path.is_file():
        raise GenlabError(f"run '{path}' has no saved model yet ({MODEL_FOLDER}/ is written at the end of each epoch)")
    raise GenlabError(f"'{path}' is neither a genlab run directory nor a model folder")
