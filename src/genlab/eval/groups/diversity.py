"""diversity: the class histogram of generated samples and its entropy (samplers on labelled data)."""

from __future__ import annotations

import math

from genlab.errors import GenlabError
from genlab.eval import diversity
from genlab.eval.context import EvalContext
from genlab.eval.registry import MetricGroup, register


def compute(context: EvalContext) -> dict:
    space = context.space
    probabilities = space.probabilities(context.generated)
    if probabilities is None:
        raise GenlabError("diversity needs the dataset's reference classifier (genlab eval --prepare-features NAME)")
    shares = diversity.class_histogram(probabilities)
    real_shares = diversity.class_histogram(space.probabilities(context.inputs[0]))
    return {"class_histogram": [round(float(v), 4) for v in shares], "entropy": diversity.entropy(shares),
            "entropy_max": math.log(len(shares)), "largest_class": float(shares.max()),
            "classes_present": int((shares > 0).sum()), "real_entropy": diversity.entropy(real_shares)}


register(MetricGroup("diversity", "class histogram of samples and its entropy (every model that samples, labelled data)",
                     lambda model: model.capabilities.samples and bool(model.config.num_classes), compute))
