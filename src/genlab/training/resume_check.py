"""What a resumed run must find unchanged: its model, data and seed, as recorded in every checkpoint.

A run can be continued with more epochs or other train settings, but a checkpoint taken
under one model, dataset or seed cannot continue under another: the result would be a
model that no configuration describes. The settings travel inside the checkpoint, so the
check holds however they were changed (an edited config.yaml, other data with its
fingerprint cleared).
"""

from __future__ import annotations

import json
from typing import Any

from genlab.errors import GenlabError


def check_unchanged(recorded: dict | None, settings: dict) -> None:
    """Refuse `settings` that differ from the `recorded` ones (None: a checkpoint from before they were kept)."""
    if recorded is None:
        return
    changed = first_difference(recorded, json.loads(json.dumps(settings)))  # tuples compare as the lists stored
    if changed is None:
        return
    key, before, now = changed
    if key.startswith("data.fingerprint"):
        raise GenlabError("this run was trained on other data than it is given now (its recorded fingerprint "
                          "differs); resume it on the data it was trained on, or start a new run")
    raise GenlabError(f"this run was trained with {key}={_short(before)} and is now given {key}={_short(now)}; "
                      "a resumed run keeps its model, data and seed: restore its config.yaml, or start a new run")


def first_difference(before: Any, now: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted key where two config trees differ, with both values; None when they agree."""
    if isinstance(before, dict) and isinstance(now, dict):
        for key in sorted(set(before) | set(now), key=str):
            found = first_difference(before.get(key), now.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if before == now else (prefix.rstrip("."), before, now)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
