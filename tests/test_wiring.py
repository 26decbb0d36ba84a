"""Every public setting is used: formula tests check what a term computes, these check that a setting reaches it.

A setting that changes training must change the trained weights (or the samples); a setting that only
logs or shows must leave them byte-identical. Every field of every model's config and of the train
section is listed below, so a new setting without a check fails `test_every_setting_is_checked`.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import genlab
from genlab.apps.anomaly import AnomalyDetector
from genlab.models.base import ModelConfig, get_model_class, list_models
from genlab.training.config import TrainConfig

TINY = {"train.epochs": 1, "train.batch_size": 32, "train.preview_samples": 0, "train.tensorboard": False,
        "train.progress": False, "train.precision": "fp32"}
SMALL = {"vae": {"model.hidden": [16], "model.latent_dim": 4}, "ae": {"model.hidden": [16], "model.latent_dim": 4},
         "dae": {"model.hidden": [16], "model.latent_dim": 4},
         "sparse-ae": {"model.hidden": [16], "model.latent_dim": 8},
         "supervised-ae": {"model.hidden": [16], "model.latent_dim": 4},
         "gan": {"model.width": 8, "model.latent_dim": 8, "model.monitor_samples": 0},
         "classifier": {"model.channels": [4, 8], "model.hidden": [16]}, "ae-ensemble": {"model.members": 3}}
LABELLED = {"supervised-ae", "classifier"}

# (model, field, value, extra settings both runs share): the setting must change what training produces
CHANGES = [
    ("vae", "beta", 0.0, {}), ("vae", "kl_warmup_steps", 1000, {}), ("vae", "iw_samples", 3, {}),
    ("vae", "likelihood", "gaussian", {}), ("vae", "variance", "fixed", {"model.likelihood": "gaussian"}),
    ("vae", "sigma", 0.5, {"model.likelihood": "gaussian"}),
    ("vae", "min_sigma", 1.5, {"model.likelihood": "gaussian"}),  # a floor above the starting sigma binds at once
    ("vae", "trim_fraction", 0.25, {}), ("vae", "activation", "tanh", {}), ("vae", "hidden", [24], {}),
    ("vae", "latent_dim", 3, {}), ("vae", "arch", "conv", {"model.channels": [4, 8]}),
    ("vae", "channels", [8, 8], {"model.arch": "conv"}),
    ("ae", "reconstruction_loss", "mse", {}),
    ("ae-ensemble", "members", 2, {}), ("ae-ensemble", "latent_dim", 3, {}), ("ae-ensemble", "hidden", 24, {"model.arch": "mlp"}),
    ("ae-ensemble", "arch", "mlp", {"side": 16}), ("ae-ensemble", "channels", [4, 8], {"side": 16}),  # conv members
    ("ae-ensemble", "rotations", 1, {"side": 16}),  # square images: one of the 3 members restores quarter turns by default
    ("ae-ensemble", "subsample", 1.0, {}), ("ae-ensemble", "trim_fraction", 0.0, {}),
    ("ae-ensemble", "trim_start_step", 2, {}), ("ae-ensemble", "clip", 0.5, {}),
    ("dae", "noise", "masking", {}), ("dae", "noise_level", 0.6, {}),
    ("sparse-ae", "sparsity", "l1", {}), ("sparse-ae", "sparsity_weight", 0.1, {}),
    ("sparse-ae", "target_activation", 0.3, {}), ("sparse-ae", "latent_dim", 4, {}),
    ("supervised-ae", "classification_weight", 1.0, {}), ("supervised-ae", "classifier_hidden", [8], {}),
    ("gan", "loss", "hinge", {}), ("gan", "latent_dim", 4, {}), ("gan", "width", 4, {}),
    ("gan", "lr_generator", 1e-4, {}), ("gan", "lr_discriminator", 1e-4, {}), ("gan", "betas", [0.9, 0.99], {}),
    ("gan", "n_critic", 2, {}), ("gan", "gp_weight", 1.0, {"model.loss": "wasserstein-gp"}),
    ("gan", "r1_weight", 1.0, {}), ("gan", "spectral_norm", True, {}), ("gan", "d_norm", "layer", {"side": 16}),  # 8x8: one level, no norm
    ("gan", "ema_decay", 0.05, {}),  # below the warm-up's 0.1 at the first step, so it binds at once
    ("gan", "sample_with_ema", False, {}), ("gan", "augment", ["translation"], {}),
    ("gan", "hidden", [16], {"vectors": True}),  # the MLP G and D of vector data
    ("classifier", "arch", "mlp", {}), ("classifier", "channels", [8, 8], {}),
    ("classifier", "hidden", [8], {"model.arch": "mlp"}), ("classifier", "dropout", 0.0, {}),
    ("classifier", "augment", "none", {"model.max_shift": 1}), ("classifier", "max_shift", 3, {}), ("classifier", "label_smoothing", 0.2, {}),
    ("train", "optimizer", "sgd", {}), ("train", "lr", 1e-4, {}), ("train", "betas", [0.5, 0.9], {}),
    ("train", "momentum", 0.5, {"train.optimizer": "sgd"}), ("train", "weight_decay", 0.5, {}),
    ("train", "scheduler", "cosine", {}), ("train", "warmup_steps", 3, {}),
    ("train", "step_epochs", 1, {"train.scheduler": "step", "train.epochs": 2}),
    ("train", "step_gamma", 0.01, {"train.scheduler": "step", "train.step_epochs": 1, "train.epochs": 2}),
    ("train", "grad_clip", 0.01, {}), ("train", "precision", "bf16", {}), ("train", "batch_size", 16, {}),
    ("train", "epochs", 2, {}),
]
# settings that only log, show, place or time the work: they must leave the weights byte-identical
NEUTRAL = [
    ("train", "log_every", 1), ("train", "checkpoint_every", 2), ("train", "checkpoint_epochs", 2),
    ("train", "preview_samples", 16),
    ("train", "tensorboard", True), ("train", "progress", True), ("train", "max_minutes", 60.0),
    ("gan", "monitor_samples", 64),
]
# fields checked elsewhere or fixed by the model's identity, with where
ELSEWHERE = {
    ("cvae", "conditional"): "the model's identity (a cvae is conditional); test_conditional.py",
    ("cgan", "conditional"): "the model's identity (a cgan is conditional); test_conditional.py",
    ("gan", "conditional"): "the model's identity; test_conditional.py",
    ("train", "compile"): "the same computation compiled; test_training.py runs it",
    ("train", "flush_denormals"): "a speed switch that is equal in exact arithmetic; test_training.py checks it is restored",
    ("train", "device"): "where the work runs; test_training.py and the GPU checks",
    ("dae", "snr_db"): "noise added to audio (digits are not audio); test_audio_noise.py checks the ratios drawn from it",
    ("dae", "noise_file"): "recorded noise for audio; test_audio_runs.py trains with one and keeps its spectrum",
    ("dae", "noise_frames"): "the length of noise_file's spectrum, kept with the weights; test_audio_runs.py",
}


def digits_data(vectors: bool = False, labelled: bool = False, side: int = 8):
    x, y = load_digits(return_X_y=True)
    x = (x[:128] / 16.0).astype(np.float32)
    x = x if vectors else np.kron(x.reshape(-1, 1, 8, 8), np.ones((side // 8, side // 8), np.float32))
    return (x, y[:128]) if labelled else x


def trained_output(tmp_path, model: str, settings: dict) -> str:
    """A digest of the weights trained with `settings` (seed 0), and of samples drawn from them when it samples."""
    vectors, side = settings.pop("vectors", False), settings.pop("side", 8)
    run = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    trained = genlab.train(model, data=digits_data(vectors, model in LABELLED, side), run_dir=run,
                           overrides={**TINY, **SMALL[model], **settings}, progress=False)
    digest = hashlib.sha256()
    for name, tensor in sorted(trained.state_dict().items()):
        digest.update(name.encode() + tensor.detach().float().cpu().numpy().tobytes())
    if trained.capabilities.samples:
        digest.update(trained.sample(8, torch.Generator().manual_seed(0)).float().cpu().numpy().tobytes())
    return digest.hexdigest()


def _fields(config_class) -> set[str]:
    return {f.name for f in dataclasses.fields(config_class)} - {f.name for f in dataclasses.fields(ModelConfig)}


def test_every_setting_is_checked():
    covered = {(model, field) for model, field, *_ in CHANGES + NEUTRAL} | set(ELSEWHERE)
    missing = [f"train.{f.name}" for f in dataclasses.fields(TrainConfig) if ("train", f.name) not in covered]
    for name in list_models():
        config_class = get_model_class(name).config_class
        for field in _fields(config_class):
            owner = _declaring_class(config_class, field)  # a field shared through a base class is checked once
            if not any(f == field and m != "train" and issubclass(get_model_class(m).config_class, owner)
                       for m, f in covered if m in list_models()):
                missing.append(f"{name}.{field}")
    assert not missing, "settings with no wiring check: " + ", ".join(sorted(missing))


def _declaring_class(config_class, field: str):
    return next(c for c in config_class.__mro__ if field in getattr(c, "__annotations__", {}))


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    cache: dict = {}

    def baseline(model: str, shared: dict) -> str:
        key = (model, repr(sorted(shared.items())))
        if key not in cache:
            cache[key] = trained_output(tmp_path_factory.mktemp("base"), model, dict(shared))
        return cache[key]
    return baseline


@pytest.mark.parametrize("model, field, value, shared", CHANGES, ids=[f"{m}.{f}" for m, f, *_ in CHANGES])
def test_a_setting_that_changes_training_changes_the_result(tmp_path, baselines, model, field, value, shared):
    owner = "vae" if model == "train" else model
    key = f"train.{field}" if model == "train" else f"model.{field}"
    changed = trained_output(tmp_path, owner, {**shared, key: value})
    assert changed != baselines(owner, shared), f"{key}={value!r} left the trained {owner} unchanged"


@pytest.mark.parametrize("model, field, value", NEUTRAL, ids=[f"{m}.{f}" for m, f, _ in NEUTRAL])
def test_a_setting_that_only_logs_leaves_the_weights_identical(tmp_path, baselines, model, field, value):
    owner = "vae" if model == "train" else model
    key = f"train.{field}" if model == "train" else f"model.{field}"
    assert trained_output(tmp_path, owner, {key: value}) == baselines(owner, {})


def test_beta_and_warmup_weight_the_kl_term(tmp_path):
    model = genlab.train("vae", data=digits_data(vectors=True), run_dir=tmp_path / "run",
                         overrides={**TINY, **SMALL["vae"]}, progress=False).train()
    x = torch.from_numpy(digits_data(vectors=True)[:64])

    def losses(beta: float, warmup: int, step: int) -> dict:
        model.config.beta, model.config.kl_warmup_steps = beta, warmup
        torch.manual_seed(0)  # the same posterior draw each time
        with torch.no_grad():
            return model(x, step=step)

    plain = losses(1.0, 0, 0)
    kl, reconstruction = plain["kl"], plain["reconstruction"]
    assert torch.allclose(plain["loss"], reconstruction + kl, rtol=1e-5)
    assert torch.allclose(losses(3.0, 0, 0)["loss"], reconstruction + 3.0 * kl, rtol=1e-5)
    assert torch.allclose(losses(0.0, 0, 0)["loss"], reconstruction, rtol=1e-5)
    assert torch.allclose(losses(2.0, 100, 25)["loss"], reconstruction + 0.5 * kl, rtol=1e-5)  # a quarter of beta=2
    assert torch.allclose(losses(2.0, 100, 500)["loss"], reconstruction + 2.0 * kl, rtol=1e-5)  # warm-up over


def test_samples_come_from_the_ema_generator_when_asked(tmp_path):
    model = genlab.train("gan", data=digits_data(), run_dir=tmp_path / "run",
                         overrides={**TINY, **SMALL["gan"]}, progress=False)

    def samples():
        return model.sample(8, torch.Generator().manual_seed(0))

    before = samples()
    with torch.no_grad():
        for parameter in model.generator.parameters():
            parameter.add_(1.0)
    assert torch.equal(samples(), before)  # the trained generator is not the one sampled
    with torch.no_grad():
        for parameter in model.generator_ema.parameters():
            parameter.add_(1.0)
    moved = samples()
    assert not torch.equal(moved, before)
    model.config.sample_with_ema = False
    assert not torch.equal(samples(), moved)


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_the_threshold_flags_the_contamination_asked_for(contamination):
    x = digits_data(vectors=True)
    detector = AnomalyDetector(model="ae", contamination=contamination, epochs=1, hidden=(16,), latent_dim=3,
                               batch_size=32, device="cpu").fit(x)
    flagged = float(np.mean(detector.decision_scores_ > detector.threshold_))
    assert abs(flagged - contamination) <= 1.5 / len(x), flagged
    assert list(detector.model_.config.hidden) == [16] and detector.model_.config.latent_dim == 3
