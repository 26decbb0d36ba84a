"""`genlab eval` and `genlab.evaluate`: every metric group that applies to a trained model, with its protocol.

    results = genlab.evaluate("runs/vae-mnist-...", metrics=["likelihood", "quality"])

The groups (genlab.eval.groups, one file each) and the models they apply to:
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
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from genlab.api import load, run_data_config
from genlab.bounds import MAX_BOOTSTRAP, MAX_EVAL_K, check_seed, check_whole
from genlab.errors import GenlabError
from genlab.eval import groups  # noqa: F401  (imported to register the metric groups)
from genlab.eval.context import EvalContext
from genlab.eval.inception import load_inception
from genlab.eval.registry import GROUPS, applicable_metrics, get_group
from genlab.models.base import weights_sha256
from genlab.runs import model_dir_of
from genlab.version import __version__

METRIC_GROUPS = tuple(GROUPS)


def evaluate(run: str | Path, metrics: list[str] | None = None, *, data: str | None = None, split: str = "test",
             samples: int = 10_000, k: int = 5000, seed: int = 0, sampler: str = "prior", components: int = 10,
             bootstrap: int = 200, probe_train_size: int = 10_000, limit: int | None = None,
             inception_weights: str | Path | None = None, device: str = "cpu", progress: bool = True) -> dict:
    """Evaluate the model of `run` on a split of its data (or of `data`); return numbers and protocol.

    `samples`: generated samples for quality and diversity; `k`: importance samples for
    the NLL; `sampler`: prior, or gmm (a mixture fitted to training codes); `limit`:
    use only the first N examples of the split (for quick checks; recorded);
    `inception_weights`: the FID Inception file, to add FID and KID in ImageNet-Inception
    space (images only).
    """
    model = load(run, device=device)
    available = applicable_metrics(model)
    chosen = list(metrics) if metrics else available
    for name in chosen:
        get_group(name)
        if name not in available:
            raise GenlabError(f"'{name}' does not apply to a {model.model_name} model "
                              f"(it supports {', '.join(available) or 'none'})")
    check_whole(samples, "the number of samples (--samples)", 2, 10**12)
    check_whole(k, "the importance samples per example (--k)", 1, MAX_EVAL_K)
    check_whole(bootstrap, "the bootstrap resamples (--bootstrap)", 0, MAX_BOOTSTRAP)
    check_seed(seed, "the seed (--seed)")
    if limit is not None:
        check_whole(limit, "the number of examples (--limit)", 1, 10**12)
    inception = None
    if inception_weights is not None:  # checked before any long computation
        if "quality" not in chosen:
            raise GenlabError("--inception-weights adds to the quality group; include it in --metrics")
        model.require("images", "be measured in the Inception feature space")
        inception = load_inception(inception_weights)
    data_config = run_data_config(run, model) if data is None else data
    context = EvalContext(model, Path(run), data_config, split=split, limit=limit, seed=seed, samples=samples, k=k,
                          sampler=sampler, components=components, bootstrap=bootstrap, probe_train_size=probe_train_size,
                          inception=inception, inception_weights=None if inception_weights is None else str(inception_weights),
                          progress=progress)
    skipped = {}
    if "diversity" in chosen and context.space.classifier is None:  # the space quality measures in, loaded once
        reason = (f"no reference classifier for {context.data_name} "
                  f"(genlab eval --prepare-features {context.data_name} trains one)")
        if metrics:  # asked for by name: say so before any long computation
            raise GenlabError(f"diversity needs the dataset's reference classifier: {reason}")
        chosen.remove("diversity")
        skipped["diversity"] = reason

    x, _ = context.inputs
    context.protocol.update({
        "run": str(run), "model": model.model_name, "model_sha256": weights_sha256(model_dir_of(run)),
        "data": context.data_name, "split": split, "examples": len(x), "seed": seed,
        "genlab": __version__, "torch": torch.__version__, "machine": machine_description(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    timings: dict = {}
    for name in chosen:
        group = GROUPS[name]
        started = time.perf_counter()
        context.results[name] = _user_errors(name, group.compute, context)
        timings[name] = round(time.perf_counter() - started, 2)
        if group.protocol is not None:
            context.protocol[name] = group.protocol(context)
    context.protocol["seconds"] = timings
    if skipped:
        context.protocol["skipped"] = skipped
    return {"metrics": context.results, "protocol": context.protocol}


def _user_errors(name: str, compute, context: EvalContext) -> dict:
    """Run one group; what goes wrong inside a library becomes a one-line error naming the group."""
    try:
        return compute(context)
    except GenlabError:
        raise
    except torch.OutOfMemoryError:
        raise GenlabError(f"{name}: out of memory; evaluate fewer examples (--limit) or samples (--samples)") from None
    except (RuntimeError, ValueError, np.linalg.LinAlgError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GenlabError(f"{name} could not be computed ({first})") from None


def machine_description() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
