"""Mutation testing: how many planted bugs in the core modules the test suite catches.

Protocol
- Tool: mutmut (pinned in the bench extras). Each mutant changes one operator, constant,
  argument or return value in one function; the tests that reach that function (recorded by
  mutmut's first, instrumented pass) run against it, and a failing test kills it.
- Modules: CORE below (models, training, eval, apps/anomaly, apps/codec).
- Tests: TEST_SELECTION, the in-process tests (a test that starts a subprocess imports the
  unmutated package, so it cannot kill anything and is left out); each test at most
  TEST_TIMEOUT_S seconds, a mutant that makes a test time out counts as killed.
- Sample: testing all of the core's ~9,000 mutants takes days on 2 cores (a surviving mutant runs
  every test that reaches its function), so a uniform random sample of `--sample` mutants
  (seed `--seed`) is tested, and the score is given with its 95% Wilson interval; `--sample 0`
  tests them all.
- Equivalent mutants (no behaviour a test could observe) are listed in EQUIVALENT with the
  reason; score = killed / (tested - equivalent - not reached by any selected test), and the
  not-reached count is reported beside it.
- The run happens in a scratch copy of the checkout, so the working tree is never mutated.

Run:  python benchmarks/mutation.py [--sample N] [--only GLOB ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import signal
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


def mutmut_config(only: list[str], debug: bool) -> str:
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
        + ("debug = true\n" if debug else "")
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


def mutmut(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "mutmut"), *args], cwd=folder)


def generate_and_collect_stats(folder: Path, children: int) -> None:
    """Mutants generated and the tests reaching each function recorded (mutmut's first phases), then stopped."""
    stats = folder / "mutants" / "mutmut-stats.json"
    if stats.is_file():
        return
    process = subprocess.Popen([str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(children)],
                               cwd=folder)
    while process.poll() is None and not stats.is_file():
        time.sleep(5)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # stats are saved: stop before it tests every mutant
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
    if not stats.is_file():
        sys.exit(f"mutmut stopped (exit {process.returncode}) before recording which tests reach which function")


def mutant_names(folder: Path) -> list[str]:
    names = []
    for meta in sorted((folder / "mutants").rglob("*.meta")):
        names += sorted(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return names


def wilson(successes: int, total: int, z: float = 1.96) -> list[float]:
    if not total:
        return [0.0, 1.0]
    p = successes / total
    centre, half = p + z * z / (2 * total), z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return [round((centre - half) / (1 + z * z / total), 4), round((centre + half) / (1 + z * z / total), 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=CORE, help="glob patterns of files to mutate (default: the core)")
    parser.add_argument("--sample", type=int, default=600, help="mutants tested, drawn at random (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--debug", action="store_true", help="show the tests mutmut runs and their output")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (a rerun reuses mutmut's results)")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="genlab-mutation-"))
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("src", "tests"):
        shutil.copytree(REPO / part, folder / part, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pyproject = (REPO / "pyproject.toml").read_text().split("\n[tool.mutmut]")[0]
    (folder / "pyproject.toml").write_text(pyproject + mutmut_config(args.only, args.debug))

    started = time.perf_counter()
    generate_and_collect_stats(folder, args.max_children)
    everything = mutant_names(folder)
    chosen = sorted(random.Random(args.seed).sample(everything, args.sample)) if 0 < args.sample < len(everything) else everything
    # mutmut tests the named mutants (all of them when none is named); those a cut-short sitting
    # already tested keep their result
    untested = [name for name, status in statuses(folder).items() if status == "not checked" and name in set(chosen)]
    if untested:
        mutmut(folder, "run", "--max-children", str(args.max_children), *(untested if chosen is not everything else []))
    seconds = time.perf_counter() - started
    found = {name: status for name, status in statuses(folder).items() if name in set(chosen)}
    if not any(status not in ("not checked", "skipped") for status in found.values()):
        sys.exit("mutmut stopped before testing any mutant; see its output above")

    counts, by_module = Counter(found.values()), {}
    for name, status in found.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    killed = counts["killed"] + counts["timeout"]
    survivors = sorted(name for name, status in found.items() if status == "survived" and name not in EQUIVALENT)
    not_covered = counts["no tests"]
    equivalent = {name: reason for name, reason in EQUIVALENT.items() if name in found}
    scored = killed + len(survivors)
    result = {
        "benchmark": "mutation",
        "protocol": {"selection_protocol": "none: a uniform random sample of the mutants, its seed recorded",
                     "tool": "mutmut", "files": args.only, "tests": TEST_SELECTION, "test_timeout_s": TEST_TIMEOUT_S,
                     "sample": f"{len(chosen)} of {len(everything)} mutants, uniform, seed {args.seed}",
                     "score": "killed (timeouts included) / (killed + survived), equivalent mutants and mutants no "
                              "selected test reaches left out; 95% Wilson interval",
                     "copy": "a scratch copy of src/ and tests/; the working tree is not mutated"},
        "machine": machine(),
        "wall_seconds": round(seconds),
        "mutants_in_core": len(everything),
        "tested": len(found),
        "by_status": dict(counts),
        "killed": killed,
        "equivalent": equivalent,
        "not_covered": not_covered,
        "score": round(killed / scored, 4) if scored else None,
        "score_interval": wilson(killed, scored),
        "by_module": {module: dict(c) for module, c in sorted(by_module.items())},
        "survivors": [{"name": name, "diff": diff(folder, name)} for name in survivors],
    }
    write_result("mutation", result)
    print(f"{killed} of {scored} scored mutants killed ({result['score']:.1%}, 95% interval "
          f"{result['score_interval'][0]:.1%} to {result['score_interval'][1]:.1%}); {len(survivors)} survive, "
          f"{len(equivalent)} equivalent, {not_covered} not reached by the selected tests")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
