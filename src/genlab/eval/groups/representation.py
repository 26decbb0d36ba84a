"""representation: logistic and kNN probes on the codes, against PCA and raw inputs (labelled data)."""

from __future__ import annotations

from genlab.eval.context import EvalContext
from genlab.eval.probes import KNN_NEIGHBOURS, LOGISTIC_ITERATIONS, representation_metrics
from genlab.eval.registry import MetricGroup, register


def compute(context: EvalContext) -> dict:
    train_x, train_y = context.split_inputs("train", context.probe_train_size)
    context.protocol["representation"] = {
        "probe_train_examples": len(train_x), "probe_train_split": "train (first N)", "codes": "encoder means",
        "knn_neighbours": KNN_NEIGHBOURS, "logistic": f"standardised, lbfgs, {LOGISTIC_ITERATIONS} iterations"}
    x, y = context.inputs
    return representation_metrics(context.model, train_x, train_y, x, y, seed=context.seed)


register(MetricGroup("representation", "logistic and kNN probes on codes; PCA and raw pixels (autoencoders, VAEs, labelled data)",
                     lambda model: model.capabilities.codes and bool(model.config.num_classes), compute))
