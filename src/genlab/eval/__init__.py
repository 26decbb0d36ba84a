"""Evaluation: `genlab.eval.evaluate(run, ...)`, its metrics, and the reference feature extractors.

The runner is imported on first use, so that `genlab.eval.features` stays light.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("evaluate", "format_results", "METRIC_GROUPS", "applicable_metrics"):
        from genlab.eval import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'genlab.eval' has no attribute '{name}'")
