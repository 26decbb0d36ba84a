"""Shared by the benchmark scripts: the machine description and result files."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

CPU_FEATURES = {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile"}
RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATASETS = Path(os.environ.get("GENLAB_SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def machine() -> dict:
    """What the numbers were measured on."""
    cpu, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            if cpu != "unknown" and flags:
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # bf16 speed depends on these: with AVX512-BF16 or AMX a bf16 matmul beats fp32, without them it may not
        "cpu_features": sorted(flags & CPU_FEATURES),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "genlab_commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def mirror_for(name: str) -> str | None:
    """A local copy of a dataset's published files, when this checkout sits beside one."""
    folder = SHARED_DATASETS / name
    return str(folder) if folder.is_dir() else None


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(payload, indent=2) + "\n")
    scratch.replace(path)
    print(f"wrote {path}")
    return path


def trained_run(run: Path, model: str, data: str, overrides: dict, seed: int = 0) -> Path:
    """`run` trained with these settings; a finished model already there is reused, an unfinished run redone."""
    import shutil

    import genlab

    if not (run / "model" / "model.safetensors").is_file():
        if run.exists():
            shutil.rmtree(run)
        genlab.train(model, data, run_dir=run, config={"seed": seed},
                     overrides={"train.tensorboard": False, **overrides}, progress=False)
    return run


def train_minutes(run: Path) -> float:
    """The Trainer's wall time of a finished run (its metrics' end record), whether trained now or reused."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return round(sum(r["train_seconds"] for r in records if r.get("event") == "end") / 60, 2)


def settings_tag(settings: dict) -> str:
    """A short, stable tag of training settings, for run folders that `trained_run` reuses only when it matches."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def code_version(script: str | Path) -> dict:
    """SHA-256 of a benchmark script and of the genlab modules loaded so far (the code its results came from).

    Called when results are saved, the modules loaded by then are those the work ran; `code_matches` later
    hashes the same modules again, so a change elsewhere in genlab keeps the cached results.
    """
    modules = sorted(name for name, module in list(sys.modules.items())
                     if (name == "genlab" or name.startswith("genlab.")) and getattr(module, "__file__", None))
    return {"script_sha256": _sha256_of({"script": Path(script)}), "genlab_modules": modules,
            "genlab_sha256": _sha256_of(_module_files(modules))}


def code_matches(recorded: dict | None, script: str | Path) -> bool:
    """Whether the script and the genlab modules that made `recorded` (a `code_version`) are unchanged."""
    return (genlab_matches(recorded) and isinstance(recorded, dict)
            and recorded.get("script_sha256") == _sha256_of({"script": Path(script)}))


def genlab_matches(recorded: dict | None) -> bool:
    """Whether the genlab modules that made `recorded` (a `code_version`) are unchanged, whatever the script."""
    if not isinstance(recorded, dict) or "genlab_modules" not in recorded:
        return False
    try:
        files = _module_files(recorded["genlab_modules"])
    except (ImportError, ValueError):  # a module that no longer exists
        return False
    return recorded.get("genlab_sha256") == _sha256_of(files)


def source_sha256(*functions) -> str:
    """SHA-256 of the source of some functions: what a benchmark's cells that need no genlab code depend on."""
    import inspect

    return hashlib.sha256("\n".join(inspect.getsource(f) for f in functions).encode()).hexdigest()


def _module_files(modules: list[str]) -> dict[str, Path]:
    import importlib.util

    files = {}
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(name)
        files[name] = Path(spec.origin)
    return files


def _sha256_of(files: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def mean_sd(values: list[float | None]) -> dict | None:
    """Mean and sample standard deviation of the values given (None ones left out), and their number."""
    import statistics

    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 3), "sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
            "n": len(values)}
