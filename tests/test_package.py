import subprocess
from pathlib import Path

import torch
from conftest import PYTHON, subprocess_env

import genlab

TINY = "import genlab, torch; print(float(torch.tensor([1e-39]) * 3.0))"  # 1e-39 is a float32 denormal


def test_version_and_public_api():
    assert genlab.__version__.count(".") == 2
    assert callable(genlab.train) and callable(genlab.load) and "vae" in genlab.list_models()


def test_denormals_are_flushed_after_import_unless_asked_not_to():
    assert float(torch.tensor([1e-39]) * 3.0) == 0.0
    kept = subprocess.run([PYTHON, "-c", TINY], env=subprocess_env(GENLAB_KEEP_DENORMALS="1"),
                          capture_output=True, text=True, check=True)
    assert float(kept.stdout) > 0.0


def test_console_script_is_installed():
    script = Path(PYTHON).parent / "genlab"
    result = subprocess.run([str(script), "--version"], env=subprocess_env(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"genlab {genlab.__version__}"
