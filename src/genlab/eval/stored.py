"""Evaluation results kept in a run directory (RUN/eval.json), where reports and comparisons find them."""

from __future__ import annotations

import json
from pathlib import Path

from genlab.errors import GenlabError
from genlab.eval.formatting import as_json_ready
from genlab.files import write_text_atomic
from genlab.models.base import weights_sha256
from genlab.runs import RunDirectory, model_dir_of
from genlab.settings import shown

PROTOCOL_OBJECTS = ("generation", "feature_space", "likelihood", "seconds", "skipped")  # read as objects by the reports
MAX_DEPTH = 8  # objects within objects, far beyond what genlab eval writes


def read_eval(path: str | Path, current: bool = True) -> dict | None:
    """The results `genlab eval` stored in a run directory (or a given JSON file), if any.

    With `current`, a run's stored results of other weights than its model's now (it was
    resumed since) count as none: they describe a model that no longer exists.
    """
    path = Path(path)
    file = RunDirectory(path).eval_path if path.is_dir() else path
    if not file.is_file():
        return None
    try:
        results = json.loads(file.read_text())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        raise GenlabError(f"{file} is not valid JSON; run `genlab eval` again to store fresh results") from None
    problem = results_problem(results)
    if problem is not None:
        raise GenlabError(f"{file} does not hold genlab eval results ({problem}); run `genlab eval` again")
    results.setdefault("protocol", {})
    if current and path.is_dir() and stale(path, results):
        return None
    return results


def results_problem(results) -> str | None:
    """What keeps `results` from being what genlab eval stores, or None.

    metrics: {group: {name: value}}, a value being a number (null for NaN), a list of numbers
    (an interval, a histogram) or a small object of them (a probe's scores); protocol: an object
    whose parts that readers look into are objects.
    """
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        return "no metrics object"
    protocol = results.get("protocol", {})
    if not isinstance(protocol, dict):
        return "the protocol is not an object"
    for key in PROTOCOL_OBJECTS:
        if not isinstance(protocol.get(key, {}), dict):
            return f"protocol {key} is not an object"
    if not isinstance(protocol.get("model_sha256", ""), str):
        return "protocol model_sha256 is not text"
    if _depth(protocol) > MAX_DEPTH:
        return "the protocol is nested too deeply"
    for group, values in results["metrics"].items():
        if not isinstance(values, dict):
            return f"metric group {shown(group)!r} is not an object"
        for name, value in values.items():
            if not _metric_value(value, MAX_DEPTH):
                return f"metric {shown(group)}.{shown(name)} is not a number"
    return None


def _metric_value(value, depth: int) -> bool:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return True
    if isinstance(value, list):
        return all(_metric_value(item, 0) for item in value)  # lists hold numbers only
    if isinstance(value, dict) and depth > 0:
        return all(_metric_value(item, depth - 1) for item in value.values())
    return False


def _depth(value) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # past the bound the answer is known
                pending += [(child, level + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def stale(run: str | Path, results: dict) -> bool:
    """Whether stored results were computed for other weights than the run's model has now."""
    recorded = results.get("protocol", {}).get("model_sha256")
    try:
        return recorded != weights_sha256(model_dir_of(run))
    except (GenlabError, OSError):
        return True


def results_json(results: dict) -> str:
    return json.dumps(as_json_ready(results), indent=2) + "\n"


def store_eval(run: str | Path, results: dict) -> Path | None:
    """Keep `results` as the run's latest evaluation; a bare model folder keeps nothing (returns None)."""
    directory = RunDirectory.find(run)
    if directory is None:
        return None
    write_text_atomic(directory.eval_path, results_json(results))
    return directory.eval_path
