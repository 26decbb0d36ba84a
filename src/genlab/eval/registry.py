"""The registry of metric groups: what applies to which model, how to compute it, what to record.

A group is registered once (genlab.eval.groups holds one file per group) and the runner
asks the registry; adding a metric means adding a file, not a branch in the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genlab.errors import GenlabError

if TYPE_CHECKING:  # for annotations only: the context module imports this one
    from genlab.eval.context import EvalContext
    from genlab.models.base import GenerativeModel


@dataclass(frozen=True)
class MetricGroup:
    name: str
    summary: str  # one line: what it measures and for which models
    applies: Callable[[GenerativeModel], bool]  # whether the numbers mean something for this model
    compute: Callable[[EvalContext], dict]  # the numbers; may add to context.protocol
    protocol: Callable[[EvalContext], dict] | None = None  # how they were measured, recorded beside them


GROUPS: dict[str, MetricGroup] = {}


def register(group: MetricGroup) -> MetricGroup:
    GROUPS[group.name] = group
    return group


def get_group(name: str) -> MetricGroup:
    try:
        return GROUPS[name]
    except KeyError:
        raise GenlabError(f"unknown metric group '{name}' (choose from {', '.join(GROUPS)})") from None


def applicable_metrics(model) -> list[str]:
    """The metric groups that mean something for this model, in the registry's order."""
    return [name for name, group in GROUPS.items() if group.applies(model)]
