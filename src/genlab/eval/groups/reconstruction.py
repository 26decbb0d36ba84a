"""reconstruction: MSE, and PSNR and SSIM for images (models with a code space)."""

from __future__ import annotations

from genlab.eval.context import EvalContext
from genlab.eval.reconstruction import reconstruction_metrics
from genlab.eval.registry import MetricGroup, register


def compute(context: EvalContext) -> dict:
    return reconstruction_metrics(context.model, context.inputs[0], context.labels)


register(MetricGroup("reconstruction", "MSE; PSNR and SSIM for images (autoencoders, VAEs)",
                     lambda model: model.capabilities.codes, compute))
