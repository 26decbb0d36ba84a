"""Evaluation results as text for the terminal, and as plain JSON types for files."""

from __future__ import annotations

import numpy as np


def format_results(results: dict) -> str:
    """A readable table of the numbers, then the protocol's key facts."""
    lines = []
    protocol = results["protocol"]
    lines.append(f"{protocol['model']} on {protocol['data']} ({protocol['split']} split, {protocol['examples']} examples)")
    for group, values in results["metrics"].items():
        lines.append(f"  {group}")
        for name, value in _flatten(values):
            if name.endswith("_interval") or name.endswith("_std") or name.endswith("std_error"):
                continue
            spread = _spread(values, name)
            lines.append(f"    {name:<24} {_format_number(value)}{spread}")
    if "feature_space" in protocol:
        space = protocol["feature_space"]
        lines.append(f"  feature space: {space['name']}" + (f" (sha256 {space['sha256'][:12]}…)" if "sha256" in space else ""))
    if "likelihood" in protocol:
        lines.append(f"  likelihood: k={protocol['likelihood']['k']}, {protocol['likelihood']['inputs']}")
    lines.append(f"  seconds: {', '.join(f'{k} {v}' for k, v in protocol['seconds'].items())}")
    for group, reason in protocol.get("skipped", {}).items():
        lines.append(f"  skipped {group}: {reason}")
    return "\n".join(lines)


def _flatten(values: dict, prefix: str = ""):
    for name, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _spread(values: dict, name: str) -> str:
    if f"{name}_interval" in values:
        low, high = values[f"{name}_interval"]
        return f"  [{_format_number(low)}, {_format_number(high)}]"
    for suffix in ("_std", "_std_error"):
        if f"{name}{suffix}" in values:
            return f"  ± {_format_number(values[f'{name}{suffix}'])}"
    return ""


def _format_number(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_format_number(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"
    return str(value)


def as_json_ready(value):
    """numpy scalars and tuples turned into plain JSON types."""
    if isinstance(value, dict):
        return {key: as_json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
