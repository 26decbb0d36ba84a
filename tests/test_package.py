import subprocess
from pathlib import Path

from conftest import PYTHON, subprocess_env

import genlab

DENORMAL = "float(torch.tensor([1e-39]) * 3.0)"  # 1e-39 is a float32 denormal: 0.0 once denormals are flushed


def test_version_and_public_api():
    assert genlab.__version__.count(".") == 2
    assert callable(genlab.train) and callable(genlab.load) and "vae" in genlab.list_models()


def test_importing_genlab_leaves_the_process_numerics_alone():
    probe = f"import torch, genlab, genlab.models, genlab.api, genlab.eval.runner; print({DENORMAL})"
    result = subprocess.run([PYTHON, "-c", probe], env=subprocess_env(), capture_output=True, text=True, check=True)
    assert float(result.stdout) > 0.0


def test_the_trainer_flushes_denormals_while_it_trains_and_restores_them(tmp_path):
    probe = (
        "import torch, genlab\n"
        "seen = []\n"
        f"monitor = lambda model: seen.append({DENORMAL}) or {{}}\n"
        "genlab.train('ae', 'digits', epochs=1, run_dir='run', progress=False, monitors=[monitor],\n"
        "             overrides={'train.log_every': 5, 'train.tensorboard': False})\n"
        f"print(max(seen), len(seen), {DENORMAL})"
    )
    result = subprocess.run([PYTHON, "-c", probe], env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    during, calls, after = result.stdout.split()
    assert float(during) == 0.0 and int(calls) > 0  # flushed at every monitor call inside fit
    assert float(after) > 0.0  # and the caller's setting back afterwards


def test_the_cli_flushes_denormals_for_its_process():
    probe = f"import torch\nfrom genlab.cli import main\nmain(['models'])\nprint({DENORMAL})"
    result = subprocess.run([PYTHON, "-c", probe], env=subprocess_env(), capture_output=True, text=True, check=True)
    assert float(result.stdout.splitlines()[-1]) == 0.0


def test_genlab_error_is_a_value_error():
    assert issubclass(genlab.GenlabError, ValueError)


def test_console_script_is_installed():
    script = Path(PYTHON).parent / "genlab"
    result = subprocess.run([str(script), "--version"], env=subprocess_env(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"genlab {genlab.__version__}"
