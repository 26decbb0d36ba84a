"""quality: FID, KID, classifier score, precision/recall, density/coverage (every model that samples).

Measured in the reference classifier's feature space (raw inputs where there is none);
with Inception weights, FID and KID in ImageNet-Inception space as well.
"""

from __future__ import annotations

from genlab.eval import diversity, manifold, quality
from genlab.eval.bootstrap import bootstrap_mean_interval
from genlab.eval.context import EvalContext
from genlab.eval.inception import inception_features
from genlab.eval.registry import MetricGroup, register
from genlab.files import file_sha256
from genlab.models.latent import to_unit_range


def compute(context: EvalContext) -> dict:
    space, resamples, seed = context.space, context.bootstrap, context.seed
    real_f, fake_f = space.features(context.inputs[0]), space.features(context.generated)
    result = {"fid": quality.frechet_distance(real_f, fake_f)}
    if resamples:
        result["fid_interval"] = list(quality.bootstrap_frechet(real_f, fake_f, resamples=resamples, seed=seed))
    kid, kid_std = quality.kernel_inception_distance(real_f, fake_f, seed=seed)
    result.update(kid=kid, kid_std=kid_std)
    probabilities = space.probabilities(context.generated)
    if probabilities is not None:
        score, score_std = diversity.classifier_score(probabilities)
        result.update(classifier_score=score, classifier_score_std=score_std)
    for name, values in manifold.manifold_indicators(real_f, fake_f).items():
        result[name] = float(values.mean())
        if resamples:
            result[f"{name}_interval"] = list(bootstrap_mean_interval(values, resamples=resamples, seed=seed))
    if context.inception is not None:
        context.results["quality_inception"] = _inception_quality(context)
    return result


def _inception_quality(context: EvalContext) -> dict:
    """FID and KID in ImageNet-Inception space, with the weights file's identity."""
    value_range = context.model.config.value_range
    real_f = inception_features(context.inception, to_unit_range(context.inputs[0], value_range))
    fake_f = inception_features(context.inception, to_unit_range(context.generated, value_range))
    kid, kid_std = quality.kernel_inception_distance(real_f, fake_f, seed=context.seed)
    context.protocol["inception"] = {"weights": str(context.inception_weights), "sha256": file_sha256(context.inception_weights),
                                     "features": "2048-d pool, inputs resized to 299x299"}
    return {"fid": quality.frechet_distance(real_f, fake_f), "kid": kid, "kid_std": kid_std}


def protocol(context: EvalContext) -> dict:
    return {"bootstrap_resamples": context.bootstrap, "interval": "95% percentile",
            "kid": "100 subsets of min(1000, N)", "precision_recall_k": 3, "density_coverage_k": 5}


register(MetricGroup("quality", "FID, KID, classifier score, precision/recall, density/coverage (every model that samples)",
                     lambda model: model.capabilities.samples, compute, protocol))
