"""Anomaly detection with autoencoders or a VAE trained on (mostly) normal data.

A model fitted to normal records explains them well and unusual ones badly; how badly is the
anomaly score. The default model is an ensemble of small autoencoders (genlab.models.ensemble)
scored by `ensemble` (genlab.apps.anomaly_ensemble), chosen on half of the ADBench suite.
`AnomalyDetector` is a scikit-learn outlier detector with PyOD's names beside:

- `anomaly_scores(X)`: higher = more anomalous (PyOD's `decision_function`);
- `score_samples(X)`: its negation, higher = more normal (scikit-learn);
- `decision_function(X)`: `score_samples(X) - offset_`, negative for anomalies (scikit-learn);
- `predict(X)`: -1 for an anomaly, 1 for a normal record (scikit-learn; PyOD's 1 and 0), by
  `threshold_`, the (1 - contamination) quantile of the training scores `decision_scores_`,
  or with `contamination="auto"` a robust cut-off on them (genlab.apps.anomaly_thresholds);
  `labels_` holds the training records' verdicts as PyOD writes them (1 = anomaly);
- `predict_proba(X, method)` and `predict_confidence(X)` as in PyOD.

Scores (`score_by=`):
- `ensemble`: for the ae-ensemble, the members' robust z-scores of per-feature-normalised
  reconstruction error and of the distance between codes (genlab.apps.anomaly_ensemble);
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
- `auto`: `ensemble` for the ae-ensemble, `nll` for a VAE, `reconstruction` otherwise;
  `reconstruction` for any other model trained on a mixed-type table.

For a model trained on a table, `reconstruction` is the negative log-likelihood of the
record's columns under the decoder's output for the record's code: squared error for
numbers, cross-entropy for categories (a category never seen in training costs the
most), Bernoulli terms for booleans and missing-value flags. `explain(X)` gives each
column's share, so a user sees which field made a record unusual; for other data it
gives each feature's squared error.

The ELBO and NLL are Monte-Carlo estimates whose draws come from the detector's
`random_state` and are the same for every record, so a record's score depends on the
record alone (not on what else is scored with it); `draws` and `k` set how much the
scores vary with `random_state`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.exceptions import NotFittedError

from genlab.apps.anomaly_defaults import training_overrides
from genlab.apps.anomaly_ensemble import EnsembleScore
from genlab.apps.anomaly_inputs import check_records
from genlab.apps.anomaly_state import check_ensemble_score, load_detector, resolve_score, save_detector
from genlab.apps.anomaly_thresholds import (
    ScoreReference,
    anomaly_probability,
    check_contamination,
    prediction_confidence,
    threshold_for,
)
from genlab.apps.fitting import fit_on_arrays
from genlab.bounds import check_whole
from genlab.data.columns import Columns
from genlab.data.config import DataConfig
from genlab.data.model_inputs import model_inputs
from genlab.data.tables import TableEncoding
from genlab.errors import GenlabError
from genlab.models.inference import run_batched
from genlab.models.mixture import GaussianMixtureSampler

SCORES = ("auto", "ensemble", "reconstruction", "weighted-reconstruction", "elbo", "nll", "latent")
MODELS = ("ae-ensemble", "ae", "dae", "sparse-ae", "vae")
PER_FEATURE = ("ensemble", "reconstruction", "weighted-reconstruction")  # the scores explain() splits
RESIDUAL_FLOOR = 0.01  # weighted-reconstruction: a fraction of the mean residual variance added to each
SCORE_CHUNK = 256  # records are scored in chunks of this many, the last padded: a record's score never depends
# on how many others share its batch (a one-row product takes another kernel than a many-row one)
MAX_DRAWS = 10_000  # k and draws: the bound models.vae puts on iw_samples (k = 10**9 needs gigabytes a batch)


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """Fit on (mostly) normal data, then score new records; a scikit-learn outlier detector.

        detector = AnomalyDetector(model="vae", contamination=0.05).fit(X_train)
        verdicts = detector.predict(X_new)           # -1 = anomaly, 1 = normal (scikit-learn)
        scores = detector.anomaly_scores(X_new)      # higher = more anomalous (PyOD's decision_function)

    X holds vectors (N, D) (standardised per feature), images (N, H, W) / (N, C, H, W)
    (scaled to [0, 1]), or records: a pandas DataFrame with text, boolean and numeric
    columns and missing values (see genlab.data.tables), or the path of a file of them.
    `device` is where the model trains and scores: auto (a GPU when there is one), cpu,
    cuda, cuda:N or mps. `latent_dim`, `hidden` and `epochs` left at None are sized from the
    data (genlab.apps.anomaly_defaults). `arch="auto"` gives the ae-ensemble convolutional members
    for images of at least 16x16 pixels and MLP members otherwise, and the other models MLPs.
    `rotations` (ae-ensemble, convolutional members): half of the members learn to restore images
    turned by a random multiple of 360/rotations degrees to upright (4, the default for square
    images; 2 for half turns); 1 turns none, as images that have no way up (textures, aerial views) want.

    scikit-learn's conventions hold (clone, get_params, GridSearchCV, pipelines); PyOD's
    names are kept beside them: `decision_scores_` (the training records' anomaly scores),
    `threshold_`, `labels_` (0/1, 1 = anomaly), `anomaly_scores(X)` (PyOD's
    decision_function), `predict_proba`, `predict_confidence`.
    """

    def __init__(self, *, model: str = "ae-ensemble", score_by: str = "auto", contamination: float | str = 0.1,
                 latent_dim: int | None = None, arch: str = "auto", hidden: int | tuple[int, ...] | None = None,
                 rotations: int | None = None, epochs: int | None = None,
                 batch_size: int = 128, lr: float = 1e-3, k: int = 100, draws: int = 10, components: int = 5,
                 random_state: int = 0, device: str = "auto", verbose: bool = False):
        self.model = model
        self.score_by = score_by
        self.contamination = contamination
        self.latent_dim = latent_dim
        self.arch = arch
        self.hidden = hidden
        self.rotations = rotations
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
        """Train the model on every record of X (y is ignored) and set the threshold from their scores.

        X is data in memory or the path of a file (such as a raw CSV table). No record is held
        out: the model trains on all of them and the threshold comes from all of their scores. With
        `run_dir`, the run and the fitted detector (detector.json) are written there, ready for
        `genlab detect score`, `genlab report` and `genlab serve`."""
        self._check_settings()
        for fitted in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
            delattr(self, fitted)  # a refit starts clean: nothing of the last fit is kept by accident
        X = self._check_input(X, reset=True)
        overrides = training_overrides(self, X)
        model = fit_on_arrays(self.model, X, overrides=overrides, seed=self.random_state, run_dir=run_dir,
                              progress=self.verbose, device=self.device)
        self._calibrate(model, X)
        if run_dir is not None:
            self.path_ = self.save(run_dir)
        return self

    @classmethod
    def from_model(cls, model, X_normal, **settings) -> AnomalyDetector:
        """A detector around an already trained model, calibrated on `X_normal`."""
        detector = cls(model=model.model_name, **settings)
        detector._check_settings()
        return detector._calibrate(model, detector._check_input(X_normal, reset=True))

    def _calibrate(self, model, X) -> AnomalyDetector:
        if isinstance(X, (str, Path)):  # the file it was trained on, as the model read it
            return self.calibrate_on_inputs(model, model_inputs(model, DataConfig(name=str(X), val_fraction=0.0,
                                                                                    test_fraction=0.0), "train")[0])
        return self.calibrate_on_inputs(model, model.preprocess(X).cpu())

    def calibrate_on_inputs(self, model, inputs: torch.Tensor) -> AnomalyDetector:
        """Adopt `model` and set the threshold from the scores of `inputs` (already in model space)."""
        check_contamination(self.contamination)
        self.model_ = model.eval()
        self.score_ = resolve_score(self.score_by, model)
        if not hasattr(self, "n_features_in_"):
            self.n_features_in_ = int(np.prod(model.config.data_shape))
        if self.score_ == "latent":
            components = min(self.components, max(1, len(inputs) // 2))
            self.density_ = GaussianMixtureSampler(components, seed=self.random_state).fit(model, inputs)
        if self.score_ == "ensemble":
            self.ensemble_ = EnsembleScore.fit(model, inputs, self.random_state, run=lambda fn, x: run_batched(
                padded(fn), x, device=model.device, batch_size=SCORE_CHUNK))
        if self.score_ == "weighted-reconstruction":
            squared = run_batched(self._squared_errors, inputs, device=model.device)
            variance = squared.mean(0)
            self.residual_variance_ = (variance + RESIDUAL_FLOOR * variance.mean()).clamp_min(1e-12)  # a perfect fit too
        self._set_threshold(self._scores(inputs))
        return self

    def _set_threshold(self, training_scores: np.ndarray) -> None:
        self.decision_scores_ = training_scores
        self.threshold_ = threshold_for(training_scores, self.contamination)
        self.offset_ = -self.threshold_  # scikit-learn: decision_function = score_samples - offset_
        self.labels_ = (training_scores > self.threshold_).astype(int)
        self.contamination_ = float(self.labels_.mean())  # the share flagged, "auto" or not
        self.reference_ = ScoreReference.from_scores(training_scores)

    # ---- scores and verdicts (scikit-learn) ------------------------------------------

    def anomaly_scores(self, X) -> np.ndarray:
        """Anomaly score per record, (N,): higher = more anomalous (what PyOD calls decision_function)."""
        self._check_fitted()
        return self._scores(self.model_.preprocess(self._check_input(X)).cpu())

    def anomaly_scores_inputs(self, inputs: torch.Tensor) -> np.ndarray:
        """anomaly_scores for inputs already in the model's space (as genlab.data.model_inputs gives them)."""
        self._check_fitted()
        return self._scores(inputs)

    def score_samples(self, X) -> np.ndarray:
        """Normality per record, (N,): the negated anomaly score (higher = more normal)."""
        return -self.anomaly_scores(X)

    def decision_function(self, X) -> np.ndarray:
        """scikit-learn's decision function: negative for anomalies, positive for normal records (threshold_
        minus the anomaly score). PyOD's decision_function, higher = more anomalous, is anomaly_scores(X)."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """-1 for anomalies (scored above threshold_), 1 for normal records, as scikit-learn's detectors."""
        return np.where(self.anomaly_scores(X) > self.threshold_, -1, 1)

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """(N, 2): the probability of being normal and of being an anomaly, from the score scaled by the
        training scores: "linear" (min-max) or "unify" (Kriegel et al. 2011), as PyOD computes them."""
        anomaly = anomaly_probability(self.anomaly_scores(X), self.training_reference(), method)
        return np.column_stack([1.0 - anomaly, anomaly])

    def predict_confidence(self, X) -> np.ndarray:
        """Per record, (N,): the probability that its verdict holds for a detector fitted on another sample of
        the training data (ExCeeD, Perini et al. 2020; PyOD's predict_confidence)."""
        scores = self.anomaly_scores(X)
        return prediction_confidence(scores, self.training_reference(), self.contamination_, scores > self.threshold_)

    def training_reference(self) -> ScoreReference:
        """The training records' scores that new scores are ranked against (a GenlabError for a detector.json
        saved before they were kept)."""
        self._check_fitted()
        if not hasattr(self, "reference_"):
            raise GenlabError("this detector.json predates probabilities and confidences (it keeps no quantiles of "
                              "the training scores); run `genlab detect fit` again")
        return self.reference_

    def explain(self, X):
        """How much each part of each record adds to its anomaly score; the parts sum to anomaly_scores(X).

        For a model trained on a table: a DataFrame (or Columns, without pandas) with one column per
        table column. For images: maps of the images' shape, (N, C, H, W) or (N, H, W) as given. For
        vectors: (N, features). Defined for the ensemble and reconstruction scores; a likelihood or
        latent-density score has no such split. For the ensemble score, a feature reconstructed worse
        than usual adds and a better one takes away; the part no single feature owns (the code distance)
        goes to the features that add, in proportion, when it raises the score, and evenly otherwise.
        """
        self._check_fitted()
        terms = self.explain_inputs(self.model_.preprocess(self._check_input(X)).cpu())
        if isinstance(terms, np.ndarray) and terms.ndim > 2:
            return terms.reshape(len(terms), *self._image_shape(X, self.model_.config.data_shape))
        return terms

    def explain_inputs(self, inputs: torch.Tensor):
        """explain for inputs already in the model's space; images' maps as (N, C, H, W)."""
        self._check_fitted()
        if self.score_ not in PER_FEATURE:
            raise GenlabError(f"explain needs score_by {', '.join(PER_FEATURE)}; this detector scores by "
                              f"{self.score_}, which does not split into per-feature parts")
        terms = run_batched(padded(self._score_terms), inputs, device=self.model_.device,
                            batch_size=SCORE_CHUNK).double().numpy()
        config = self.model_.config
        if config.table:
            encoding = TableEncoding.from_dict(config.table)
            if self.score_ != "reconstruction":  # encoded slots -> the columns they encode
                terms = np.stack([terms[:, start:start + width].sum(1) for start, width in encoding.layout()["columns"]], 1)
            return Columns(encoding.names, list(terms.T)).for_user()
        if len(config.data_shape) > 1:
            return terms.reshape(len(terms), *config.data_shape)
        return terms

    @staticmethod
    def _image_shape(X, data_shape) -> tuple[int, ...]:
        """The maps' shape per image: as the images were given ((H, W) for grey images given without channels)."""
        given = getattr(X, "shape", None)
        if given is not None and len(given) == 3 and data_shape[0] == 1:
            return tuple(data_shape[1:])
        return tuple(data_shape)

    @torch.no_grad()
    def _scores(self, inputs: torch.Tensor) -> np.ndarray:
        return run_batched(padded(self._batch_scores), inputs, device=self.model_.device,
                           batch_size=SCORE_CHUNK).double().numpy()

    def _batch_scores(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model_
        if self.score_ == "ensemble":
            return self.ensemble_.scores(model, x)
        if self.score_ in PER_FEATURE:
            return self._score_terms(x).sum(1)
        if self.score_ == "elbo":
            return -torch.stack([model.elbo(x, noise=eps).double() for eps in self._noise(self.draws)]).mean(0)
        if self.score_ == "nll":
            return -model.log_likelihood(x, k=self.k, noise=self._noise(self.k)).double()
        return -self.density_.log_density(model.encode(x).double().cpu())

    def _noise(self, count: int) -> torch.Tensor:
        """The standard normal draws every record's ELBO or NLL uses, (count, latent_dim), from random_state:
        common to all records, so that a record's score depends on it alone."""
        generator = torch.Generator().manual_seed(self.random_state)
        return torch.randn(count, self.model_.config.latent_dim, generator=generator)

    @torch.no_grad()
    def _score_terms(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction scores' parts, (N, parts) in float64: per column for a table's plain
        reconstruction score, per model feature otherwise."""
        if self.score_ == "ensemble":
            return self.ensemble_.terms(self.model_, x)
        if self.score_ == "reconstruction" and self.model_.config.table:
            return self.model_.reconstruction_terms(x.to(self.model_.device)).double()
        squared = self._squared_errors(x).double()
        if self.score_ == "weighted-reconstruction":
            return squared / self.residual_variance_.to(squared.device, torch.float64)
        return squared

    @torch.no_grad()
    def _squared_errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-feature squared reconstruction errors, (N, D) in float32."""
        x = x.to(self.model_.device)
        return (self.model_.reconstruct(x).float() - x.float()).square().flatten(1)

    # ---- persistence (genlab detect) -------------------------------------------------

    def save(self, run_dir: str | Path) -> Path:
        """Write detector.json (score, threshold, settings, fitted parts) beside the run's model."""
        self._check_fitted()
        return save_detector(self, run_dir)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto") -> AnomalyDetector:
        """The detector saved by `genlab detect fit` (or save()) in a run directory (or its detector.json)."""
        return load_detector(cls, run_dir, device, SCORES, MAX_DRAWS)

    # ---- checks ----------------------------------------------------------------------

    def _check_settings(self) -> None:
        if self.model not in MODELS:
            raise GenlabError(f"model must be one of {', '.join(MODELS)} (got {self.model!r})")
        if self.score_by not in SCORES:
            raise GenlabError(f"score_by must be one of {', '.join(SCORES)} (got {self.score_by!r})")
        check_contamination(self.contamination)
        check_whole(self.k, "k", 1, MAX_DRAWS)
        check_whole(self.draws, "draws", 1, MAX_DRAWS)
        check_ensemble_score(self.score_by, self.model == "ae-ensemble", self.model)
        if self.rotations is not None and self.model != "ae-ensemble":
            raise GenlabError(f"rotations sets what an ae-ensemble's convolutional members learn; a {self.model} "
                              "takes none: leave rotations at None")
        if self.score_by in ("elbo", "nll") and self.model != "vae":
            raise GenlabError(f"score_by {self.score_by} needs a VAE; a {self.model} offers reconstruction, "
                              "weighted-reconstruction or latent")

    def _check_input(self, X, reset: bool = False):
        return check_records(self, X, reset)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFitted("this AnomalyDetector is not fitted yet; call fit(X) first")


class NotFitted(NotFittedError, GenlabError):
    """Scoring before fitting: scikit-learn's NotFittedError, shown in one line like any genlab error."""


def padded(fn):
    """`fn` run on SCORE_CHUNK rows whatever the batch's size: a short batch is filled with zeros, and their
    results dropped."""
    def run(x: torch.Tensor) -> torch.Tensor:
        count = len(x)
        if count < SCORE_CHUNK:
            x = torch.cat([x, x.new_zeros(SCORE_CHUNK - count, *x.shape[1:])])
        return fn(x)[:count]
    return run
