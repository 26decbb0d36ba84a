"""The architecture holds: one-way imports, one owner of the run layout, small files, an instant --help.

These read the source; they fail when a change closes an import cycle, spells a path
inside a run directory outside genlab.runs, grows a file past the limit, or makes the
CLI import torch before a command runs.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, subprocess_env

SOURCE = REPO / "src" / "genlab"
LINT_IMPORTS = Path(PYTHON).parent / "lint-imports"
# file names inside a run directory: only genlab.runs may spell them
RUN_LAYOUT_NAMES = {"config.yaml", "model", "checkpoints", "last.pt", "metrics.jsonl", "samples", "curves.png",
                    "tensorboard", "eval.json", "samplers", "detector.json", "report.html"}
HEAVY_OR_OPTIONAL = ("sklearn", "matplotlib", "fastapi", "pydantic", "uvicorn", "starlette", "torch.utils.tensorboard", "pandas",
                     "soundfile", "scipy")


def python_files() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts (pyproject.toml) over the genlab package found under `root`."""
    env = subprocess_env(PYTHONPATH=str(root / "src"))
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("importer, line", [
    ("models/gan.py", "from genlab.eval import runner"),  # a model reaching up to evaluation
    ("models/base.py", "from genlab.models import gan"),  # a cycle inside the models package
])
def test_import_contracts_catch_an_upward_import_or_a_cycle(tmp_path, importer, line):
    shutil.copytree(SOURCE, tmp_path / "src" / "genlab")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "genlab" / importer
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout[-2000:]


def test_only_genlab_runs_spells_the_run_directory_layout():
    found = []
    for path in python_files():
        if path == SOURCE / "runs.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            # a layout name joined onto a path (run / "model"), or a run file named on its own ("eval.json")
            joined = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
            value = node.right.value if joined else node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value in RUN_LAYOUT_NAMES and (joined or "." in value):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno} {value!r}")
    assert not found, "run-directory paths spelled outside genlab/runs.py (ask RunDirectory): " + ", ".join(found)


def test_function_local_imports_are_only_heavy_or_optional_dependencies_with_a_reason():
    problems = []
    for path in python_files():
        text = path.read_text()
        lines = text.splitlines()
        for function in ast.walk(ast.parse(text)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                where = f"{path.relative_to(SOURCE)}:{node.lineno}"
                if not (module or "").startswith(HEAVY_OR_OPTIONAL):
                    problems.append(f"{where} imports {module} inside a function")
                    continue
                before = [lines[i].strip() for i in range(node.lineno - 2, -1, -1)]
                block = next(i for i, line in enumerate(before) if not line.startswith(("from ", "import ", "try:")))
                if not before[block].startswith("#") and "#" not in lines[node.lineno - 1]:
                    problems.append(f"{where} imports {module} inside a function without a comment saying why")
    assert not problems, "; ".join(problems)


def test_no_file_is_too_long_and_the_cli_is_a_thin_dispatcher():
    lengths = {path.relative_to(SOURCE).as_posix(): len(path.read_text().splitlines()) for path in python_files()}
    assert lengths["cli.py"] < 100
    assert max(lengths.values()) <= 400, {name: n for name, n in lengths.items() if n > 400}
    commands = {name: n for name, n in lengths.items() if name.startswith("commands/")}
    assert commands and max(commands.values()) <= 150, commands


def test_help_answers_without_importing_torch():
    probe = ("import sys\nfrom genlab.cli import main\n"
             "for argv in (['--help'], ['train', '--help'], ['eval', '--help'], ['detect', 'fit', '--help']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print('torch' in sys.modules, 'genlab.models' in sys.modules)")
    result = subprocess.run([PYTHON, "-c", probe], env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"
    assert "genlab train vae --data digits" in result.stdout  # the help itself was printed


def test_every_module_imports_on_its_own():
    # a fresh interpreter per package layer: an import cycle that only shows in some order fails here
    entries = ["genlab.cli", "genlab.api", "genlab.eval.runner", "genlab.apps.anomaly", "genlab.report.compare",
               "genlab.serve.app", "genlab.training.trainer", "genlab.models", "genlab.data.dataset", "genlab.samplers"]
    probe = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    for name in entries:
        result = subprocess.run([PYTHON, "-c", probe, name], env=subprocess_env(), capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"{name}: {result.stderr[-1500:]}"
