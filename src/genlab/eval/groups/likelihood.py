"""likelihood: ELBO, importance-weighted NLL and bits per dimension (VAEs)."""

from __future__ import annotations

from genlab.eval.context import EvalContext
from genlab.eval.likelihood import likelihood_metrics
from genlab.eval.registry import MetricGroup, register
from genlab.models.base import GenerativeModel


def compute(context: EvalContext) -> dict:
    # A Bernoulli decoder is scored on binary data: one fixed draw of the split when the
    # model was trained on dynamically binarised inputs.
    binary_x, _ = context.split_inputs(context.split, context.limit, binarize_seed=context.seed)
    return likelihood_metrics(context.model, binary_x, context.labels, k=context.k, seed=context.seed,
                              progress=context.progress)


def protocol(context: EvalContext) -> dict:
    model = context.model
    binarize = bool(model.config.preprocessing and model.config.preprocessing.get("binarize"))
    return {"k": context.k,
            "inputs": "one Bernoulli draw of the split's pixel intensities (fixed by the seed)" if binarize
            else "the split as stored (statically binarised data stays as it is)",
            "bits_per_dim_units": "binary pixels" if model.config.likelihood == "bernoulli" else "stored data units"}


def applies(model: GenerativeModel) -> bool:
    return model.capabilities.likelihood


register(MetricGroup("likelihood", "ELBO, importance-weighted NLL, bits/dim (vae, cvae)", applies, compute, protocol))
