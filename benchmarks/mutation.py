"""Mutation testing: how many planted bugs in the core modules the test suite catches.

Protocol
- Tool: mutmut (pinned in the bench extras). Each mutant changes one operator, constant,
  argument or return value in one function; the tests that reach that function (recorded by
  mutmut's first, instrumented pass) run against it, and a failing test kills it.
- Modules: CORE below (models, training, eval, apps/anomaly, apps/codec).
- Tests: TEST_SELECTION, the in-process tests (a test that starts a subprocess imports the
  unmutated package, so it cannot kill anything and is left out); each test at most
  TEST_TIMEOUT_S seconds, a mutant that makes a test time out counts as killed.
- Equivalent mutants (no behaviour a test could observe) are listed in EQUIVALENT with the
  reason; score = killed / (mutants - equivalent - not covered by any selected test), and the
  not-covered count is reported beside it.
- The run happens in a scratch copy of the checkout, so the working tree is never mutated.

Run:  python benchmarks/mutation.py [--only GLOB ...] [--max-children N]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import machine, write_result

REPO = Path(__file__).resolve().parents[1]
CORE = ["src/genlab/models/*", "src/genlab/training/*", "src/genlab/eval/*", "src/genlab/apps/anomaly.py",
        "src/genlab/apps/codec.py"]
TEST_SELECTION = ["tests/test_models.py", "tests/test_training.py", "tests/test_gan.py", "tests/test_eval.py",
                  "tests/test_quality.py", "tests/test_apps.py", "tests/test_wiring.py", "tests/test_optim.py",
                  "tests/test_conditional.py", "tests/test_integrity.py", "tests/test_damaged_artefacts.py",
                  "tests/test_bounds.py", "tests/test_fuzz_artefacts.py", "tests/test_config.py",
                  "-k", "not sigkill and not torchrun and not subprocess and not two_process"]
TEST_TIMEOUT_S = 900  # the eval tests' shared fixture trains five models, slower under mutmut's instrumentation

# mutant name -> why no test can tell it from the original
EQUIVALENT: dict[str, str] = {}


def mutmut_config(only: list[str], children: int) -> str:
    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"

    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = {toml_list(only)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(TEST_SELECTION)}\n"
        f'pytest_add_cli_args = ["-p", "no:cacheprovider", "--timeout", "{TEST_TIMEOUT_S}", "-q"]\n'
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
    )


def statuses(folder: Path) -> dict[str, str]:
    """mutant name -> status, from `mutmut results --all true`."""
    output = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "results", "--all", "true"], cwd=folder,
                            capture_output=True, text=True, check=True).stdout
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s*([\w.]+__mutmut_\d+): (.+)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def diff(folder: Path, name: str) -> str:
    shown = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "show", name], cwd=folder,
                           capture_output=True, text=True).stdout
    return "\n".join(line for line in shown.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---")))


def module_of(name: str) -> str:
    return name.split(".x_")[0].split(".xǁ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=CORE, help="glob patterns of files to mutate (default: the core)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (reruns reuse mutmut's results)")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="genlab-mutation-"))
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("src", "tests"):
        shutil.copytree(REPO / part, folder / part, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pyproject = (REPO / "pyproject.toml").read_text().split("\n[tool.mutmut]")[0]
    (folder / "pyproject.toml").write_text(pyproject + mutmut_config(args.only, args.max_children))

    started = time.perf_counter()
    run = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(args.max_children)],
                         cwd=folder)
    seconds = time.perf_counter() - started
    found = statuses(folder)
    if not any(status not in ("not checked", "skipped") for status in found.values()):
        sys.exit(f"mutmut stopped (exit {run.returncode}) before testing any mutant; see its output above")

    counts, by_module = Counter(found.values()), {}
    for name, status in found.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    killed = counts["killed"] + counts["timeout"]
    survivors = sorted(name for name, status in found.items() if status == "survived" and name not in EQUIVALENT)
    not_covered = counts["no tests"]
    scored = len(found) - not_covered - sum(1 for name in EQUIVALENT if name in found) - counts["skipped"]
    result = {
        "benchmark": "mutation",
        "protocol": {"tool": "mutmut", "files": args.only, "tests": TEST_SELECTION, "test_timeout_s": TEST_TIMEOUT_S,
                     "score": "killed (timeouts included) / (mutants - equivalent - not covered by a selected test - skipped)",
                     "copy": "a scratch copy of src/ and tests/; the working tree is not mutated"},
        "machine": machine(),
        "wall_seconds": round(seconds),
        "mutants": len(found),
        "by_status": dict(counts),
        "killed": killed,
        "equivalent": {name: reason for name, reason in EQUIVALENT.items() if name in found},
        "not_covered": not_covered,
        "score": round(killed / scored, 4) if scored else None,
        "by_module": {module: dict(c) for module, c in sorted(by_module.items())},
        "survivors": [{"name": name, "diff": diff(folder, name)} for name in survivors],
    }
    write_result("mutation", result)
    print(f"{killed} of {scored} scored mutants killed ({result['score']:.1%}); {len(survivors)} survive, "
          f"{not_covered} not reached by the selected tests")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
