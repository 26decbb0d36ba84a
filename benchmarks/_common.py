"""Shared by the benchmark scripts: the machine description and result files."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
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


def code_version(script: str | Path) -> dict:
    """SHA-256 of a benchmark script and of the genlab package source: results cached by other code are redone."""
    import genlab

    package = Path(genlab.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return {"script_sha256": hashlib.sha256(Path(script).read_bytes()).hexdigest(), "genlab_sha256": digest.hexdigest()}


def mean_sd(values: list[float | None]) -> dict | None:
    """Mean and sample standard deviation of the values given (None ones left out), and their number."""
    import statistics

    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 3), "sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
            "n": len(values)}
