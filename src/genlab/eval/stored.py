"""Evaluation results kept in a run directory (RUN/eval.json), where reports and comparisons find them."""

from __future__ import annotations

import json
from pathlib import Path

from genlab.errors import GenlabError
from genlab.eval.formatting import as_json_ready
from genlab.files import write_text_atomic
from genlab.models.base import weights_sha256
from genlab.runs import RunDirectory, model_dir_of


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
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GenlabError(f"{file} is not valid JSON; run genlab eval again") from None
    if (not isinstance(results, dict) or not isinstance(results.get("metrics"), dict)
            or not isinstance(results.get("protocol", {}), dict)):
        raise GenlabError(f"{file} does not hold genlab eval results; run genlab eval again")
    results.setdefault("protocol", {})
    if current and path.is_dir() and stale(path, results):
        return None
    return results


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
