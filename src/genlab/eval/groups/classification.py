"""classification: test accuracy of models that predict labels (classifier, supervised-ae)."""

from __future__ import annotations

from genlab.errors import GenlabError
from genlab.eval.context import EvalContext
from genlab.eval.registry import MetricGroup, register
from genlab.models.inference import run_batched


def compute(context: EvalContext) -> dict:
    x, y = context.inputs
    if y is None:
        raise GenlabError("classification needs labelled data")
    predictions = run_batched(context.model.predict, x, device=context.model.device)
    return {"accuracy": float((predictions == y).double().mean())}


register(MetricGroup("classification", "test accuracy (classifier, supervised-ae)",
                     lambda model: model.capabilities.predicts, compute))
