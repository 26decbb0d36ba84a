"""Anomaly detection with an autoencoder or VAE trained on (mostly) normal data.

A model fitted to normal records explains them well and unusual ones badly; how badly
is the anomaly score. The conventions follow PyOD and scikit-learn:

- `decision_function(X)`: higher = more anomalous (PyOD);
- `score_samples(X)`: its negation, higher = more normal (scikit-learn);
- `predict(X)`: 1 for an anomaly, 0 for a normal record, by `threshold_`, the
  (1 - contamination) quantile of the training scores `decision_scores_`.

Scores (`score=`):
- `reconstruction`: squared reconstruction error, summed over features;
- `weighted-reconstruction`: each feature's squared error divided by that feature's mean
  squared error on the training data (plus 1% of the mean over features, so that no
  feature's weight is unbounded), then summed: the negative log-likelihood of a Gaussian
  residual with one variance per feature. Features the model always reconstructs well
  (a digit's empty border, a garment's outline) count more than those it never does;
- `elbo`: the negative ELBO (VAE), averaged over `draws` posterior samples;
- `nll`: the importance-weighted negative log-likelihood with `k` samples (VAE);
- `latent`: the negative log-density of the code under a Gaussian mixture fitted to
  the training codes;
- `auto`: `nll` for a VAE, `reconstruction` otherwise; `reconstruction` for any model
  trained on a mixed-type table.

For a model trained on a table, `reconstruction` is the negative log-likelihood of the
record's columns under the decoder's output for the record's code: squared error for
numbers, cross-entropy for categories (a category never seen in training costs the
most), Bernoulli terms for booleans and missing-value flags. `explain(X)` gives each
column's share, so a user sees which field made a record unusual; for other data it
gives each feature's squared error.

The ELBO and NLL are Monte-Carlo estimates: with the detector's seed the same X gets the
same scores, and `draws` and `k` set how much a record's score varies with the draws.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from genlab.api import load, run_data_config, train
from genlab.apps.fitting import fit_on_arrays
from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import write_scores
from genlab.bounds import check_seed, check_whole
from genlab.data.columns import Columns
from genlab.data.config import DataConfig
from genlab.data.model_inputs import model_inputs
from genlab.data.tables import TableEncoding
from genlab.errors import GenlabError
from genlab.files import check_output_path, write_text_atomic
from genlab.models.base import weights_sha256
from genlab.models.inference import run_batched
from genlab.models.mixture import GaussianMixtureSampler
from genlab.runs import RunDirectory, model_dir_of
from genlab.samplers import mixture_problem
from genlab.settings import shown

SCORES = ("auto", "reconstruction", "weighted-reconstruction", "elbo", "nll", "latent")
MODELS = ("ae", "dae", "sparse-ae", "vae")
RESIDUAL_FLOOR = 0.01  # weighted-reconstruction: a fraction of the mean residual variance added to each
MAX_DRAWS = 10_000  # k and draws: the bound models.vae puts on iw_samples (k = 10**9 needs gigabytes a batch)


class AnomalyDetector:
    """Fit on normal data, then score new records: higher `decision_function` = more anomalous.

        detector = AnomalyDetector(model="vae", contamination=0.05).fit(X_train)
        flags = detector.predict(X_new)            # 1 = anomaly
        scores = detector.decision_function(X_new)

    X holds vectors (N, D) (standardised per feature), images (N, H, W) / (N, C, H, W)
    (scaled to [0, 1]), or records: a pandas DataFrame with text, boolean and numeric
    columns and missing values (see genlab.data.tables). `device` is where the model
    trains and scores: auto (a GPU when there is one), cpu, cuda, cuda:N or mps.
    """

    def __init__(self, *, model: str = "vae", contamination: float = 0.1, score: str = "auto", latent_dim: int = 8,
                 arch: str = "mlp", hidden: tuple[int, ...] = (256, 64), epochs: int = 30, batch_size: int = 128,
                 lr: float = 1e-3, k: int = 100, draws: int = 10, components: int = 5, random_state: int = 0,
                 device: str = "auto", verbose: bool = False):
        self.model = model
        self.contamination = contamination
        self.score = score
        self.latent_dim = latent_dim
        self.arch = arch
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.k = k
        self.draws = draws
        self.components = components
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ---- fitting ---------------------------------------------------------------------

    def fit(self, X, y=None, run_dir: str | Path | None = None) -> AnomalyDetector:
        """Train the model on X (y is ignored) and set the threshold from X's scores.

        X is data in memory or the path of a file (such as a raw CSV table), all of it used."""
        self._check_settings()
        overrides = {"model.latent_dim": self.latent_dim, "model.arch": self.arch, "model.hidden": list(self.hidden),
                     "train.epochs": self.epochs, "train.batch_size": self.batch_size, "train.lr": self.lr}
        model = fit_on_arrays(self.model, X, overrides=overrides, seed=self.random_state, run_dir=run_dir,
                              progress=self.verbose, device=self.device)
        return self._calibrate(model, X)

    @classmethod
    def from_model(cls, model, X_normal, **settings) -> AnomalyDetector:
        """A detector around an already trained model, calibrated on `X_normal`."""
        detector = cls(model=model.model_name, **settings)
        detector._check_settings()
        return detector._calibrate(model, X_normal)

    def _calibrate(self, model, X) -> AnomalyDetector:
        if isinstance(X, (str, Path)):  # the file it was trained on, as the model read it
            return self.calibrate_on_inputs(model, model_inputs(model, DataConfig(name=str(X), val_fraction=0.0,
                                                                                    test_fraction=0.0), "train")[0])
        return self.calibrate_on_inputs(model, model.preprocess(X).cpu())

    def calibrate_on_inputs(self, model, inputs: torch.Tensor) -> AnomalyDetector:
        """Adopt `model` and set the threshold from the scores of `inputs` (already in model space)."""
        self.model_ = model.eval()
        self.score_ = resolve_score(self.score, model)
        self.n_features_in_ = int(np.prod(model.config.data_shape))
        if self.score_ == "latent":
            components = min(self.components, max(1, len(inputs) // 2))
            self.density_ = GaussianMixtureSampler(components, seed=self.random_state).fit(model, inputs)
        if self.score_ == "weighted-reconstruction":
            squared = run_batched(self._squared_errors, inputs, device=model.device)
            variance = squared.mean(0)
            self.residual_variance_ = (variance + RESIDUAL_FLOOR * variance.mean()).clamp_min(1e-12)  # a perfect fit too
        self.decision_scores_ = self._scores(inputs)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    # ---- scoring ---------------------------------------------------------------------

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per record, (N,): higher = more anomalous."""
        self._check_fitted()
        return self._scores(self.model_.preprocess(X).cpu())

    def decision_function_inputs(self, inputs: torch.Tensor) -> np.ndarray:
        """decision_function for inputs already in the model's space (as genlab.data.model_inputs gives them)."""
        self._check_fitted()
        return self._scores(inputs)

    def score_samples(self, X) -> np.ndarray:
        """Normality per record, (N,): the negated decision_function (higher = more normal)."""
        return -self.decision_function(X)

    def predict(self, X) -> np.ndarray:
        """1 for records scored above threshold_ (anomalies), 0 for the rest."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def explain(self, X):
        """How much each part of each record adds to its reconstruction score, higher = more unusual.

        For a model trained on a table: a DataFrame (or Columns, without pandas) with one column
        per table column, each the column's negative log-likelihood in nats; rows sum to the
        `reconstruction` score. Otherwise an array (N, features) of squared errors in model units.
        """
        self._check_fitted()
        inputs = self.model_.preprocess(X).cpu()
        terms = run_batched(self.model_.reconstruction_terms, inputs, device=self.model_.device).double().numpy()
        if not self.model_.config.table:
            return terms
        names = TableEncoding.from_dict(self.model_.config.table).names
        return Columns(names, list(terms.T)).for_user()

    @torch.no_grad()
    def _scores(self, inputs: torch.Tensor) -> np.ndarray:
        # the ELBO and NLL draw codes: a fixed seed gives the same records the same scores every time
        device = self.model_.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.random_state)
            return self._draw_scores(inputs)

    def _draw_scores(self, inputs: torch.Tensor) -> np.ndarray:
        return run_batched(self._batch_scores, inputs, device=self.model_.device).double().numpy()

    def _batch_scores(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model_
        if self.score_ == "reconstruction":
            if model.config.table:
                return model.reconstruction_terms(x).sum(1)
            return self._squared_errors(x).sum(1)
        if self.score_ == "weighted-reconstruction":
            return (self._squared_errors(x) / self.residual_variance_.to(x.device)).sum(1)
        if self.score_ == "elbo":
            return -torch.stack([model.elbo(x).double() for _ in range(self.draws)]).mean(0)
        if self.score_ == "nll":
            return -model.log_likelihood(x, k=self.k).double()
        return -self.density_.log_density(model.encode(x).double().cpu())

    @torch.no_grad()
    def _squared_errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-feature squared reconstruction errors, (N, D) in float32."""
        x = x.to(self.model_.device)
        return (self.model_.reconstruct(x).float() - x.float()).square().flatten(1)

    # ---- persistence (genlab detect) -------------------------------------------------

    def save(self, run_dir: str | Path) -> Path:
        """Write detector.json (score, threshold, settings, mixture) beside the run's model."""
        self._check_fitted()
        state = {"score": self.score_, "threshold": self.threshold_, "contamination": self.contamination,
                 "k": self.k, "draws": self.draws, "random_state": self.random_state,
                 "training_scores": {"mean": float(self.decision_scores_.mean()), "std": float(self.decision_scores_.std())}}
        if self.score_ == "weighted-reconstruction":
            state["residual_variance"] = self.residual_variance_.tolist()
        if self.score_ == "latent":
            state["mixture"] = {"weights": self.density_.weights_.tolist(), "means": self.density_.means_.tolist(),
                                "covariances": self.density_.covariances_.tolist()}
        with contextlib.suppress(GenlabError, OSError):  # the weights the threshold was calibrated on
            state["model_sha256"] = weights_sha256(model_dir_of(run_dir))
        path = RunDirectory(run_dir).detector_path
        write_text_atomic(path, json.dumps(state, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto") -> AnomalyDetector:
        """The detector saved by `genlab detect fit` (or save()) in a run directory (or its detector.json)."""
        if Path(run_dir).is_file():
            run_dir = Path(run_dir).parent  # the path save() returned
        path = RunDirectory(run_dir).detector_path
        if not path.is_file():
            raise GenlabError(f"{run_dir} has no {path.name}; make it with `genlab detect fit --run-dir {run_dir}`")
        model = load(run_dir, device=device)
        try:
            state = json.loads(path.read_text())
            detector = cls._from_state(state, model)
        except (KeyError, TypeError, ValueError, IndexError, RecursionError) as error:  # GenlabError is a ValueError
            problem = f"no {error}" if isinstance(error, KeyError) else str(error) or type(error).__name__
            raise GenlabError(f"{path} is damaged ({problem[:200]}); rerun `genlab detect fit` to make it again") from None
        recorded = state.get("model_sha256")
        if recorded is not None and recorded != weights_sha256(model_dir_of(run_dir)):
            raise GenlabError(f"{path} was calibrated for earlier weights of this run (it was trained further since); "
                              "fit the detector again")
        return detector

    @classmethod
    def _from_state(cls, state, model) -> AnomalyDetector:
        """A detector around `model` from detector.json's fields, each checked (a ValueError names the first bad one)."""
        if not isinstance(state, dict):
            raise ValueError("it does not hold an object of settings")
        score = state["score"]
        if score not in SCORES or score == "auto":
            raise ValueError(f"unknown score {shown(score)!r}")
        detector = cls(model=model.model_name, score=resolve_score(score, model),
                       contamination=_real(state, "contamination", 0.0, 0.5, open_ends=True),
                       k=check_whole(state["k"], "k", 1, MAX_DRAWS), draws=check_whole(state["draws"], "draws", 1, MAX_DRAWS),
                       random_state=check_seed(state["random_state"], "random_state"))
        detector.model_, detector.score_, detector.threshold_ = model, detector.score, _real(state, "threshold")
        detector.n_features_in_ = int(np.prod(model.config.data_shape))
        if "training_scores" in state:  # kept for the user's information only
            scores = state["training_scores"]
            if not isinstance(scores, dict):
                raise ValueError("training_scores is not an object")
            _real(scores, "mean"), _real(scores, "std", 0.0)
        if not isinstance(state.get("model_sha256", ""), str):
            raise ValueError("model_sha256 is not text")
        if score == "weighted-reconstruction":
            variance = np.asarray(state["residual_variance"], dtype=np.float64)
            if variance.shape != (detector.n_features_in_,) or not (np.isfinite(variance) & (variance > 0)).all():
                raise ValueError(f"residual_variance is not {detector.n_features_in_} positive numbers, one per feature")
            detector.residual_variance_ = torch.tensor(variance, dtype=torch.float32)
        if score == "latent":
            detector.density_ = _mixture(state["mixture"], model)
        return detector

    # ---- checks ----------------------------------------------------------------------

    def _check_settings(self) -> None:
        if self.model not in MODELS:
            raise GenlabError(f"model must be one of {', '.join(MODELS)} (got {self.model!r})")
        if self.score not in SCORES:
            raise GenlabError(f"score must be one of {', '.join(SCORES)} (got {self.score!r})")
        if not 0.0 < self.contamination < 0.5:
            raise GenlabError(f"contamination must be in (0, 0.5) (got {self.contamination})")
        check_whole(self.k, "k", 1, MAX_DRAWS)
        check_whole(self.draws, "draws", 1, MAX_DRAWS)
        if self.score in ("elbo", "nll") and self.model != "vae":
            raise GenlabError(f"score {self.score} needs a VAE; a {self.model} offers reconstruction, "
                              "weighted-reconstruction or latent")

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise GenlabError("this AnomalyDetector is not fitted yet; call fit(X) first")


def _real(state: dict, key: str, low: float = -math.inf, high: float = math.inf, open_ends: bool = False) -> float:
    """state[key] as a float: a finite number from `low` to `high` (strictly between them with `open_ends`)."""
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is {shown(value)!r}, not a finite number")
    inside = low < value < high if open_ends else low <= value <= high
    if not inside:
        raise ValueError(f"{key} {value} is out of range")
    return float(value)


def _mixture(stored, model) -> GaussianMixtureSampler:
    """The latent score's mixture from its stored arrays, checked against the model's code size."""
    if not isinstance(stored, dict):
        raise ValueError("mixture is not an object")
    weights, means, covariances = (np.asarray(stored[key], dtype=np.float64) for key in ("weights", "means", "covariances"))
    density = GaussianMixtureSampler(max(1, len(weights)) if weights.ndim == 1 else 1)
    density.weights_, density.means_, density.covariances_ = weights, means, covariances
    problem = mixture_problem(density, model.config.latent_dim)
    if problem is not None:
        raise ValueError(f"mixture: {problem}")
    return density


def resolve_score(score: str, model) -> str:
    """The score `auto` stands for, and a check that the model can give the one asked for."""
    likelihood = model.capabilities.likelihood
    if score == "auto":
        return "nll" if likelihood and not model.config.table else "reconstruction"
    if score in ("elbo", "nll") and not likelihood:
        raise GenlabError(f"score {score} needs a VAE; a {model.model_name} offers reconstruction, "
                          "weighted-reconstruction or latent")
    return score


def fit_detector_run(data: str, run_dir: str | Path, *, model: str = "vae", score: str = "auto", contamination: float = 0.1,
                     epochs: int = 30, latent_dim: int = 8, seed: int = 0, config: str | Path | None = None,
                     overrides: Sequence[str] = (), device: str = "auto", progress: bool = True) -> AnomalyDetector:
    """Train `model` on the normal records `data` into `run_dir` and save a calibrated detector beside it.

    What `genlab detect fit` does; the detector's `path_` is its detector.json.
    """
    detector = AnomalyDetector(model=model, contamination=contamination, score=score, latent_dim=latent_dim,
                               epochs=epochs, random_state=seed)
    detector._check_settings()
    if Path(run_dir).exists():
        raise GenlabError(f"run directory {run_dir} already exists; choose a new one")
    settings = [f"model.latent_dim={latent_dim}", f"train.epochs={epochs}", f"seed={seed}"]
    trained = train(model, data, run_dir=run_dir, config=config, overrides=[*settings, *overrides], progress=progress,
                    device=device)
    inputs, _ = model_inputs(trained, run_data_config(run_dir, trained), "train")  # as the run split and encoded it
    detector.calibrate_on_inputs(trained, inputs)
    detector.path_ = detector.save(run_dir)
    return detector


def score_files(run_dir: str | Path, inputs: Sequence[str | Path], output: str | Path,
                device: str = "cpu") -> tuple[np.ndarray, np.ndarray, float]:
    """Score image files, folders or array records with the detector of `run_dir`; write a CSV of them.

    Returns the scores, the 0/1 anomaly flags and the threshold.
    """
    check_output_path(output, (".csv",))
    detector = AnomalyDetector.load(run_dir, device=device)
    x, names = read_inputs(detector.model_, inputs)
    scores = detector.decision_function_inputs(x)
    flags = (scores > detector.threshold_).astype(int)
    write_scores(output, names, scores, flags)
    return scores, flags, detector.threshold_
