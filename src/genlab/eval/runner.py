"""`genlab eval` and `genlab.evaluate`: every metric that applies to a trained model, with the protocol beside it.

    results = genlab.evaluate("runs/vae-mnist-...", metrics=["likelihood", "quality"])

Metric groups, and the models they apply to:
  likelihood      ELBO, importance-weighted NLL, bits/dim               vae, cvae
  reconstruction  MSE; PSNR and SSIM for images                         autoencoders, VAEs
  quality         FID, KID, classifier score, precision/recall,          every model that samples
                  density/coverage, in the reference classifier's
                  feature space (raw data space where there is none)
  diversity       class histogram of samples and its entropy            every model that samples (labelled data)
  representation  logistic and kNN probes on codes; PCA and raw pixels   autoencoders, VAEs (labelled data)
  classification  test accuracy                                         classifier, supervised-ae
"""

from __future__ import annotations

import datetime
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from genlab import __version__
from genlab.data.model_inputs import model_inputs, run_data_config
from genlab.data.preprocessing import Preprocessing, convert_preprocessing
from genlab.errors import GenlabError
from genlab.eval import diversity, likelihood, manifold, quality, reconstruction
from genlab.eval.bootstrap import bootstrap_mean_interval
from genlab.eval.features import load_reference_classifier, reference_classifier_dir, weights_sha256
from genlab.eval.probes import representation_metrics
from genlab.files import file_sha256
from genlab.runs import model_dir_of

METRIC_GROUPS = ("likelihood", "reconstruction", "quality", "diversity", "representation", "classification")


def applicable_metrics(model) -> list[str]:
    """The metric groups that mean something for this model."""
    from genlab.models.latent import LatentModel

    found = []
    if likelihood.supports_likelihood(model):
        found.append("likelihood")
    if isinstance(model, LatentModel):
        found.append("reconstruction")
    if callable(getattr(model, "sample", None)):
        found += ["quality", "diversity"] if model.config.num_classes else ["quality"]
    if isinstance(model, LatentModel) and model.config.num_classes:
        found.append("representation")
    if callable(getattr(model, "predict", None)):
        found.append("classification")
    return found


def evaluate(run: str | Path, metrics: list[str] | None = None, *, data: str | None = None, split: str = "test",
             samples: int = 10_000, k: int = 5000, seed: int = 0, sampler: str = "prior", components: int = 10,
             bootstrap: int = 200, probe_train_size: int = 10_000, limit: int | None = None,
             inception_weights: str | Path | None = None, progress: bool = True) -> dict:
    """Evaluate the model of `run` on a split of its data (or of `data`); return numbers and protocol.

    `samples`: generated samples for quality and diversity; `k`: importance samples for
    the NLL; `sampler`: prior, or gmm (a mixture fitted to training codes); `limit`:
    use only the first N examples of the split (for quick checks; recorded);
    `inception_weights`: the FID Inception file, to add FID and KID in ImageNet-Inception
    space (images only).
    """
    from genlab.api import load

    model = load(run)
    available = applicable_metrics(model)
    chosen = list(metrics) if metrics else available
    for name in chosen:
        if name not in METRIC_GROUPS:
            raise GenlabError(f"unknown metric group '{name}' (choose from {', '.join(METRIC_GROUPS)})")
        if name not in available:
            raise GenlabError(f"'{name}' does not apply to a {model.model_name} model "
                              f"(it supports {', '.join(available) or 'none'})")
    if samples < 2 or k < 1 or bootstrap < 0:
        raise GenlabError("--samples must be at least 2, --k at least 1 and --bootstrap at least 0")
    inception = None
    if inception_weights is not None:  # checked before any long computation
        from genlab.eval.inception import load_inception

        if "quality" not in chosen:
            raise GenlabError("--inception-weights adds to the quality group; include it in --metrics")
        if not model.config.is_image or model.config.value_range == "real":
            raise GenlabError("the Inception feature space is for images; this model works on vectors")
        inception = load_inception(inception_weights)
    data_config = run_data_config(run, model) if data is None else data
    data_name = data_config if isinstance(data_config, str) else data_config.name
    skipped = {}
    if "diversity" in chosen and FeatureSpace.for_model(model, data_name).classifier is None:
        reason = f"no reference classifier for {data_name} (genlab eval --prepare-features {data_name} trains one)"
        if metrics:  # asked for by name: say so before any long computation
            raise GenlabError(f"diversity needs the dataset's reference classifier: {reason}")
        chosen.remove("diversity")
        skipped["diversity"] = reason
    x, y = model_inputs(model, data_config, split, limit)

    results: dict = {}
    timings: dict = {}
    protocol: dict = {
        "run": str(run), "model": model.model_name, "model_sha256": weights_sha256(model_dir_of(run)),
        "data": data_name, "split": split, "examples": len(x), "seed": seed,
        "genlab": __version__, "torch": torch.__version__, "machine": machine_description(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    labels = y if model.conditional else None

    def timed(name, compute):
        started = time.perf_counter()
        results[name] = compute()
        timings[name] = round(time.perf_counter() - started, 2)

    if "likelihood" in chosen:
        # A Bernoulli decoder is scored on binary data: one fixed draw of the split when the
        # model was trained on dynamically binarised inputs.
        binary_x, _ = model_inputs(model, data_config, split, limit, binarize_seed=seed)
        timed("likelihood", lambda: likelihood.likelihood_metrics(model, binary_x, labels, k=k, seed=seed, progress=progress))
        protocol["likelihood"] = {"k": k, "inputs": _likelihood_inputs(model),
                                  "bits_per_dim_units": "binary pixels" if model.config.likelihood == "bernoulli" else "stored data units"}
    if "reconstruction" in chosen:
        timed("reconstruction", lambda: reconstruction.reconstruction_metrics(model, x, labels))
    if "classification" in chosen:
        timed("classification", lambda: {"accuracy": _accuracy(model, x, y)})
    if "representation" in chosen:
        train_x, train_y = model_inputs(model, data_config, "train", probe_train_size)
        timed("representation", lambda: representation_metrics(model, train_x, train_y, x, y, seed=seed))
        protocol["representation"] = {"probe_train_examples": len(train_x), "probe_train_split": "train (first N)",
                                      "codes": "encoder means", "knn_neighbours": 5, "logistic": "standardised, lbfgs, 1000 iterations"}
    if "quality" in chosen or "diversity" in chosen:
        started = time.perf_counter()
        generated = _generate(model, run, samples, seed, sampler, components)
        sampling_seconds = time.perf_counter() - started
        protocol["generation"] = {"samples": samples, "sampler": sampler, "components": components if sampler == "gmm" else None,
                                  "seed": seed, "labels": "uniform over classes" if model.conditional else None,
                                  "samples_per_second": round(samples / max(sampling_seconds, 1e-9), 1)}
        space = FeatureSpace.for_model(model, data_name)
        protocol["feature_space"] = space.describe()
        protocol["reference"] = {"split": split, "examples": len(x)}
        if "quality" in chosen:
            timed("quality", lambda: _quality(space, x, generated, bootstrap, seed))
            if inception_weights is not None:
                timed("quality_inception", lambda: _inception_quality(model, inception, x, generated, seed))
                protocol["inception"] = {"weights": str(inception_weights), "sha256": file_sha256(inception_weights),
                                         "features": "2048-d pool, inputs resized to 299x299"}
            protocol["quality"] = {"bootstrap_resamples": bootstrap, "interval": "95% percentile",
                                   "kid": "100 subsets of min(1000, N)", "precision_recall_k": 3, "density_coverage_k": 5}
        if "diversity" in chosen:
            timed("diversity", lambda: _diversity(space, x, generated))
    protocol["seconds"] = timings
    if skipped:
        protocol["skipped"] = skipped
    return {"metrics": results, "protocol": protocol}


# ---- feature spaces --------------------------------------------------------------------


class FeatureSpace:
    """Where sample quality is measured: the reference classifier's penultimate layer, or raw data."""

    def __init__(self, model, classifier=None, dataset: str | None = None):
        self.model, self.classifier, self.dataset = model, classifier, dataset

    @classmethod
    def for_model(cls, model, dataset: str) -> FeatureSpace:
        classifier = load_reference_classifier(Path(dataset).name if dataset else None)
        if classifier is not None and tuple(classifier.config.data_shape) != tuple(model.config.data_shape):
            classifier = None
        return cls(model, classifier, dataset)

    def describe(self) -> dict:
        if self.classifier is None:
            return {"name": "raw", "note": "no reference classifier for this data: distances in the model's input space"}
        return {"name": "genlab reference classifier", "dataset": self.dataset,
                "sha256": weights_sha256(reference_classifier_dir(self.dataset)),
                "layer": "penultimate", "dimensions": int(self.features(torch.zeros(1, *self.model.config.data_shape)).shape[1])}

    def _to_classifier(self, x: torch.Tensor) -> torch.Tensor:
        return convert_preprocessing(x, self.model.config.preprocessing, self.classifier.config.preprocessing)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) features of model inputs x."""
        if self.classifier is None:
            return x.flatten(1).float()
        return quality.classifier_features(self.classifier, self._to_classifier(x))

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.classifier is None:
            return None
        inputs = self._to_classifier(x)
        return torch.cat([self.classifier.predict_proba(batch).float().cpu() for batch in inputs.split(1000)])


def _quality(space: FeatureSpace, real: torch.Tensor, generated: torch.Tensor, resamples: int, seed: int) -> dict:
    real_f, fake_f = space.features(real), space.features(generated)
    result = {"fid": quality.frechet_distance(real_f, fake_f)}
    if resamples:
        result["fid_interval"] = list(quality.bootstrap_frechet(real_f, fake_f, resamples=resamples, seed=seed))
    kid, kid_std = quality.kernel_inception_distance(real_f, fake_f, seed=seed)
    result.update(kid=kid, kid_std=kid_std)
    probabilities = space.probabilities(generated)
    if probabilities is not None:
        score, score_std = diversity.classifier_score(probabilities)
        result.update(classifier_score=score, classifier_score_std=score_std)
    for name, values in manifold.manifold_indicators(real_f, fake_f).items():
        result[name] = float(values.mean())
        if resamples:
            result[f"{name}_interval"] = list(bootstrap_mean_interval(values, resamples=resamples, seed=seed))
    return result


def _inception_quality(model, network, real: torch.Tensor, generated: torch.Tensor, seed: int) -> dict:
    from genlab.eval.inception import inception_features
    from genlab.models.latent import to_unit_range

    real_f = inception_features(network, to_unit_range(real, model.config.value_range).clamp(0, 1))
    fake_f = inception_features(network, to_unit_range(generated, model.config.value_range).clamp(0, 1))
    kid, kid_std = quality.kernel_inception_distance(real_f, fake_f, seed=seed)
    return {"fid": quality.frechet_distance(real_f, fake_f), "kid": kid, "kid_std": kid_std}


def _diversity(space: FeatureSpace, real: torch.Tensor, generated: torch.Tensor) -> dict:
    probabilities = space.probabilities(generated)
    if probabilities is None:
        raise GenlabError("diversity needs the dataset's reference classifier (genlab eval --prepare-features NAME)")
    shares = diversity.class_histogram(probabilities)
    real_shares = diversity.class_histogram(space.probabilities(real))
    return {"class_histogram": [round(float(v), 4) for v in shares], "entropy": diversity.entropy(shares),
            "entropy_max": math.log(len(shares)), "largest_class": float(shares.max()),
            "classes_present": int((shares > 0).sum()), "real_entropy": diversity.entropy(real_shares)}


# ---- helpers ---------------------------------------------------------------------------


@torch.no_grad()
def _generate(model, run, count: int, seed: int, sampler: str, components: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if sampler == "gmm":
        from genlab.models.latent import LatentModel
        from genlab.samplers import run_gmm_sampler

        if not isinstance(model, LatentModel) or model.conditional:
            raise GenlabError(f"sampler gmm needs an unconditional autoencoder or VAE, not a {model.model_name}")
        mixture = run_gmm_sampler(run, model, components)
        return torch.cat([mixture.sample(model, min(1000, count - i), generator).float().cpu() for i in range(0, count, 1000)])
    if sampler != "prior":
        raise GenlabError(f"unknown sampler '{sampler}' (prior or gmm)")
    return torch.cat([model.sample(min(1000, count - i), generator).float().cpu() for i in range(0, count, 1000)])


@torch.no_grad()
def _accuracy(model, x: torch.Tensor, y: torch.Tensor | None) -> float:
    if y is None:
        raise GenlabError("classification needs labelled data")
    predictions = torch.cat([model.predict(batch).cpu() for batch in x.split(1000)])
    return float((predictions == y).double().mean())


def _likelihood_inputs(model) -> str:
    binarize = Preprocessing.from_dict(model.config.preprocessing).binarize if model.config.preprocessing else False
    if binarize:
        return "one Bernoulli draw of the split's pixel intensities (fixed by the seed)"
    return "the split as stored (statically binarised data stays as it is)"


def machine_description() -> dict:
    import os

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


# ---- presentation ----------------------------------------------------------------------


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
