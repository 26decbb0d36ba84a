"""Mutation testing: how many planted bugs in the core modules the test suite catches.

Protocol
- Mutants: mutmut (pinned in the bench extras) writes them. Each changes one operator,
  constant, argument or return value in one function. mutmut's instrumented first pass
  records which tests reach which function; its own test phase is not used.
- Modules: CORE below (models, training, eval, apps/anomaly, apps/codec).
- Tests: TEST_SELECTION, the in-process tests that reach the mutant's function (mutmut's first
  pass cannot follow a test into a child process, so those tests are left out of it), then the
  child-process tests named in CHILD_PROCESS_TESTS for the functions they exercise.
- Running a mutant: one pytest process with the mutant switched on (mutmut's
  MUTANT_UNDER_TEST), running the tests that reach its function and stopping at the first
  failure (killed). A mutant that passes them all survived; one that runs past
  MUTANT_LIMIT_S counts as killed and is listed as a timeout (the JSON gives the slowest
  survivor's seconds, a clean run of that many tests, to compare with the limit). A test
  that kills a mutant is run again on the unmutated code: a kill by a test that fails there
  too is not counted.
- Sample: the mutants are tested in the order of a seeded random permutation (`--seed`), so
  whatever number a sitting finishes (`--sample`, or the time given by `--minutes`) is a
  uniform random sample; the score comes with its 95% Wilson interval. Testing all of the
  core's ~9,000 mutants takes days on 2 cores.
- Equivalent mutants (no behaviour a test could observe) are listed in EQUIVALENT with the
  reason; score = killed / (killed + survived), equivalent mutants and mutants that no
  selected test reaches left out (the second are counted beside it).
- The run happens in a scratch copy of the checkout, so the working tree is never mutated;
  with `--keep DIR` the copy and every result stay there, and a rerun tests only the mutants
  not yet tested (survivors again when the tests have changed since).

Run:  python benchmarks/mutation.py [--sample N] [--minutes M] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import machine, write_result

REPO = Path(__file__).resolve().parents[1]
CORE = ["src/genlab/models/*", "src/genlab/training/*", "src/genlab/eval/*", "src/genlab/apps/anomaly.py",
        "src/genlab/apps/codec.py"]
TEST_SELECTION = ["tests/test_models.py", "tests/test_training.py", "tests/test_gan.py", "tests/test_eval.py",
                  "tests/test_quality.py", "tests/test_apps.py", "tests/test_wiring.py", "tests/test_optim.py",
                  "tests/test_conditional.py", "tests/test_integrity.py", "tests/test_damaged_artefacts.py",
                  "tests/test_bounds.py", "tests/test_fuzz_artefacts.py", "tests/test_config.py", "tests/test_own_data.py",
                  "tests/test_cli.py", "tests/test_data.py", "tests/test_report.py",
                  "-k", "not sigkill and not torchrun and not subprocess and not two_process and not example_runs"]
# Tests that run genlab in child processes (which inherit the mutant switched on): the first pass cannot see
# what they reach, so they are named here for the functions they exercise and run after the linked tests.
CHILD_PROCESS_TESTS = {
    ("genlab.training.distributed.", "genlab.training.trainer.xǁTrainerǁ"): [
        "tests/test_training.py::test_two_process_torchrun_on_cpu", "tests/test_training.py::test_two_process_torchrun_trains_a_gan"],
}
TEST_TIMEOUT_S = 900  # one test, in mutmut's first pass (the eval tests' shared fixture trains five models)
MUTANT_LIMIT_S = 900  # one mutant's whole test run

# mutant name -> why no test can tell it from the original
EQUIVALENT: dict[str, str] = {
    "genlab.models.gan.xǁGANǁgradient_penalty__mutmut_6":
        "drops device=real.device from torch.rand: the same tensor on a CPU, where the default device is the data's; "
        "only a run on an accelerator could tell them apart",
    "genlab.eval.groups.classification.x_compute__mutmut_9":
        "passes device=None to run_batched, which then keeps each batch where the data is: the model's device on a "
        "CPU-only machine, so only a run on an accelerator could tell them apart",
    "genlab.models.augment.x_random_cutout__mutmut_32":
        "torch.randint(high, size) is torch.randint(0, high, size): the same call",
    "genlab.models.augment.x_random_cutout__mutmut_46":
        "rows viewed as (height, 1) instead of (1, height, 1): broadcasting against (batch, 1, 1) gives the same mask",
    "genlab.apps.anomaly.x__mixture__mutmut_26":
        "changes only the component count the loaded mixture is constructed with; a loaded mixture is used through "
        "its stored arrays (weights, means, covariances) and the count is read by fit() alone",
}


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


def diff(folder: Path, name: str) -> str:
    shown = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "show", name], cwd=folder,
                           capture_output=True, text=True).stdout
    return "\n".join(line for line in shown.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---")))


def module_of(name: str) -> str:
    return name.split(".x_")[0].split(".xǁ")[0]


def collect_stats(folder: Path, debug: bool) -> None:
    """mutmut writes the mutants and records the tests reaching each function (for new tests too), then stops.

    It is stopped when it reaches its own test phase (it says "Running clean tests").
    """
    process = subprocess.Popen([str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", "1"], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seen = b""
    while chunk := process.stdout.read1(4096):
        seen = (seen + chunk)[-20000:]
        if debug:
            sys.stdout.write(chunk.decode(errors="replace"))
        if b"clean tests" in seen[-300:]:
            os.killpg(process.pid, signal.SIGINT)
            break
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    if b"clean tests" not in seen or not (folder / "mutants" / "mutmut-stats.json").is_file():
        print(seen.decode(errors="replace").replace("\r", "\n")[-3000:])
        sys.exit(f"mutmut stopped (exit {process.returncode}) before recording which tests reach which function")


def mutant_names(folder: Path) -> list[str]:
    names = []
    for meta in sorted((folder / "mutants").rglob("*.meta")):
        names += sorted(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return names


def tests_of(stats: dict, name: str) -> list[str]:
    """The tests reaching the mutant's function, fastest first (a kill comes sooner), then the child-process ones."""
    function = name.replace("__init__.", "").rsplit("__mutmut_", 1)[0]
    durations = stats["duration_by_test"]
    linked = sorted(stats["tests_by_mangled_function_name"].get(function, []), key=lambda t: (durations.get(t, math.inf), t))
    if not linked:
        return []
    return linked + [test for prefixes, tests in CHILD_PROCESS_TESTS.items() if function.startswith(prefixes) for test in tests]


def run_pytest(mutants: Path, mutant: str, tests: list[str], limit_s: float, stop_at_first: bool = True) -> tuple[str, list[str], float]:
    """(status, failing tests, seconds) of one pytest process with `mutant` switched on ("" for none)."""
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(mutants / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "-q", "-rfE", "-p", "no:cacheprovider", "-p", "no:randomly",
               "--timeout", str(TEST_TIMEOUT_S), *(["-x"] if stop_at_first else []), *tests]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=mutants, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace", start_new_session=True)  # a test may print bytes that are not UTF-8
    try:
        output, _ = process.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "timeout", [], time.perf_counter() - started
    failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    status = {0: "survived", 1: "killed"}.get(process.returncode, f"error (pytest exit {process.returncode})")
    if process.returncode not in (0, 1):
        print(output[-2000:], flush=True)
    return status, failing, time.perf_counter() - started


def tests_digest(folder: Path) -> str:
    """The tests and the child-process tests named above: survivors are tested again when either changes."""
    digest = hashlib.sha256(repr(CHILD_PROCESS_TESTS).encode())
    for path in sorted((folder / "tests").rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def wilson(successes: int, total: int, z: float = 1.96) -> list[float]:
    if not total:
        return [0.0, 1.0]
    p = successes / total
    centre, half = p + z * z / (2 * total), z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return [round((centre - half) / (1 + z * z / total), 4), round((centre + half) / (1 + z * z / total), 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=CORE, help="glob patterns of files to mutate (default: the core)")
    parser.add_argument("--sample", type=int, default=600, help="mutants to test, in the seeded random order (0: all)")
    parser.add_argument("--minutes", type=float, help="stop starting mutants after this long (what is done is kept)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the order")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--debug", action="store_true", help="show mutmut's output in its first pass")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (a rerun reuses what was tested)")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="genlab-mutation-"))
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("src", "tests"):
        shutil.copytree(REPO / part, folder / part, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pyproject = (REPO / "pyproject.toml").read_text().split("\n[tool.mutmut]")[0]
    (folder / "pyproject.toml").write_text(pyproject + mutmut_config(args.only, args.debug))

    started = time.perf_counter()
    print("mutmut: writing the mutants and recording which tests reach which function", flush=True)
    collect_stats(folder, args.debug)
    mutants = folder / "mutants"
    shutil.copytree(folder / "tests", mutants / "tests", dirs_exist_ok=True)  # the tests as they are now
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    everything = mutant_names(folder)
    order = random.Random(args.seed).sample(everything, len(everything))
    chosen = order[: args.sample] if args.sample else order

    # results.json: mutant -> its outcome; survivors are tested again when the tests have changed
    record_path, lock = folder / "results.json", threading.Lock()
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    digest = tests_digest(folder)
    todo = [name for name in chosen
            if name not in record or (record[name]["status"] == "survived" and record[name]["tests_sha256"] != digest)]
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else math.inf

    def test_one(name: str) -> None:
        if time.monotonic() > deadline:
            return
        tests = tests_of(stats, name)
        if tests:
            status, failing, seconds = run_pytest(mutants, name, tests, MUTANT_LIMIT_S)
        else:
            status, failing, seconds = "no tests", [], 0.0
        with lock:
            record[name] = {"status": status, "killed_by": failing[:1], "seconds": round(seconds, 1), "tests_sha256": digest}
            record_path.write_text(json.dumps(record, indent=1))
            done = sum(1 for n in chosen if n in record)
            print(f"[{done}/{len(chosen)}] {status:9} {seconds:6.1f} s  {name}", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(test_one, todo))

    # the tests that killed something, run once on the unmutated code: a kill by a test failing there is void
    killers = sorted({test for name in chosen if name in record for test in record[name]["killed_by"]})
    clean_path = folder / "clean.json"
    clean = json.loads(clean_path.read_text()) if clean_path.is_file() else {}
    unchecked = [t for t in killers if clean.get(t, {}).get("tests_sha256") != digest]
    if unchecked:
        print(f"running the {len(unchecked)} killing tests on the unmutated code", flush=True)
        _, failing, _ = run_pytest(mutants, "", unchecked, 4 * MUTANT_LIMIT_S, stop_at_first=False)
        clean.update({t: {"fails_unmutated": t in failing, "tests_sha256": digest} for t in unchecked})
        clean_path.write_text(json.dumps(clean, indent=1))
    seconds = time.perf_counter() - started

    found = {}
    for name in chosen:
        if name not in record:
            continue
        status = record[name]["status"]
        if status == "killed" and any(clean.get(t, {}).get("fails_unmutated") for t in record[name]["killed_by"]):
            status = "killed by a test failing unmutated"
        found[name] = status
    if not found:
        sys.exit("no mutant was tested; see the output above")
    counts, by_module = Counter(found.values()), {}
    for name, status in found.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    killed = counts["killed"] + counts["timeout"]
    equivalent = {name: reason for name, reason in EQUIVALENT.items() if found.get(name) == "survived"}
    survivors = sorted(name for name, status in found.items() if status == "survived" and name not in equivalent)
    scored = killed + len(survivors)
    result = {
        "benchmark": "mutation",
        "protocol": {"selection_protocol": "none: a uniform random sample of the mutants, its seed recorded",
                     "tool": "mutmut (mutants and the tests reaching each function); each mutant in its own pytest process",
                     "files": args.only, "tests": TEST_SELECTION, "test_timeout_s": TEST_TIMEOUT_S,
                     "mutant_limit_s": MUTANT_LIMIT_S,
                     "sample": f"the first {len(found)} of a seeded random order of the {len(everything)} mutants (seed "
                               f"{args.seed}): a uniform sample",
                     "score": "killed (timeouts included) / (killed + survived), equivalent mutants and mutants no "
                              "selected test reaches left out; 95% Wilson interval",
                     "copy": "a scratch copy of src/ and tests/; the working tree is not mutated"},
        "machine": machine(),
        "wall_seconds": round(seconds),
        "mutants_in_core": len(everything),
        "tested": len(found),
        "by_status": dict(counts),
        "killed": killed,
        "timeouts": sorted(name for name, status in found.items() if status == "timeout"),
        "slowest_survivor_s": max((record[n]["seconds"] for n, status in found.items() if status == "survived"), default=None),
        "equivalent": equivalent,
        "not_covered": counts["no tests"],
        "score": round(killed / scored, 4) if scored else None,
        "score_interval": wilson(killed, scored),
        "by_module": {module: dict(c) for module, c in sorted(by_module.items())},
        "survivors": [{"name": name, "diff": diff(folder, name)} for name in survivors],
    }
    write_result("mutation", result)
    print(f"{killed} of {scored} scored mutants killed ({result['score']:.1%}, 95% interval "
          f"{result['score_interval'][0]:.1%} to {result['score_interval'][1]:.1%}); {len(survivors)} survive, "
          f"{len(equivalent)} equivalent, {counts['no tests']} not reached by the selected tests")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
