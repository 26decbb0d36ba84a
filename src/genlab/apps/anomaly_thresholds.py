"""From anomaly scores to verdicts: the threshold, its "auto" choice, probabilities and confidence.

Everything here works on the detector's training scores (`decision_scores_`, higher = more
anomalous) and needs no model, so it is the same for every kind of score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf
from scipy.stats import binom

from genlab.errors import GenlabError

# contamination="auto": a record is an outlier when its modified z-score (Iglewicz and Hoaglin 1993:
# 0.6745 (s - median) / MAD) exceeds 3.5, the cut-off they recommend; computed on log scores when all
# are positive, since reconstruction errors are sums of squares with a long right tail.
AUTO_Z = 3.5
MAD_TO_SD = 0.6745  # the MAD of a normal distribution in standard deviations
PROBABILITY_METHODS = ("linear", "unify")
STORED_QUANTILES = 1001  # how detector.json keeps the training scores: every 0.1 percentile


@dataclass
class ScoreReference:
    """The training records' anomaly scores that new scores are ranked against: all of them sorted after
    a fit, or their quantiles after loading (a rank is then interpolated between quantiles)."""

    sorted_scores: np.ndarray
    count: int
    mean: float
    std: float

    @classmethod
    def from_scores(cls, scores: np.ndarray) -> ScoreReference:
        return cls(np.sort(scores), len(scores), float(scores.mean()), float(scores.std()))

    def to_dict(self) -> dict:
        levels = np.linspace(0.0, 1.0, STORED_QUANTILES)
        return {"count": self.count, "mean": self.mean, "std": self.std,
                "quantiles": np.quantile(self.sorted_scores, levels).tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> ScoreReference:
        quantiles = np.asarray(state["quantiles"], dtype=np.float64)
        if quantiles.ndim != 1 or len(quantiles) < 2 or not np.isfinite(quantiles).all() \
                or (np.diff(quantiles) < 0).any():
            raise ValueError("training_scores.quantiles is not a rising list of finite numbers")
        count = state["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"training_scores.count is {count!r}, not a positive whole number")
        return cls(quantiles, count, float(state["mean"]), float(state["std"]))

    def share_at_or_below(self, scores: np.ndarray) -> np.ndarray:
        """The share of training records scoring at most each score."""
        if len(self.sorted_scores) == self.count:
            return np.searchsorted(self.sorted_scores, scores, side="right") / self.count
        levels = np.linspace(0.0, 1.0, len(self.sorted_scores))
        below = np.interp(scores, self.sorted_scores, levels, left=0.0, right=1.0)
        return np.where(scores < self.sorted_scores[0], 0.0, below)


def threshold_for(scores: np.ndarray, contamination: float | str) -> float:
    """The score above which a record is an anomaly: the (1 - contamination) quantile of the training
    scores, or the robust outlier cut-off for "auto"."""
    if contamination != "auto":
        return float(np.quantile(scores, 1.0 - contamination))
    values = np.log(scores) if (scores > 0).all() else scores
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    if mad == 0.0:  # over half the records score the same: only records above all of those stand out
        cut = median
    else:
        cut = median + AUTO_Z * mad / MAD_TO_SD
    return float(math.exp(cut)) if values is not scores else cut


def check_contamination(contamination) -> None:
    """A share in (0, 0.5] or "auto", as scikit-learn's outlier detectors take it."""
    if isinstance(contamination, str):
        if contamination != "auto":
            raise GenlabError(f"contamination must be a share in (0, 0.5] or 'auto' (got {contamination!r})")
        return
    if isinstance(contamination, bool) or not isinstance(contamination, (int, float, np.number)) \
            or not 0.0 < float(contamination) <= 0.5:
        raise GenlabError(f"contamination must be a share in (0, 0.5] or 'auto' (got {contamination!r})")


def anomaly_probability(scores: np.ndarray, training: ScoreReference, method: str) -> np.ndarray:
    """P(anomaly) per record from its score, scaled by the training scores (PyOD's two methods).

    linear: the score's position between the smallest and largest training score, clipped to [0, 1];
    unify: erf of the score's z-score over sqrt(2), clipped at 0 (Kriegel et al. 2011, "Interpreting
    and unifying outlier scores")."""
    if method not in PROBABILITY_METHODS:
        raise GenlabError(f"method must be one of {', '.join(PROBABILITY_METHODS)} (got {method!r})")
    if method == "linear":
        low, high = float(training.sorted_scores[0]), float(training.sorted_scores[-1])
        return np.clip((scores - low) / (high - low), 0.0, 1.0) if high > low else (scores > high).astype(float)
    if training.std == 0.0:
        return (scores > training.mean).astype(float)
    return np.clip(erf((scores - training.mean) / (training.std * math.sqrt(2.0))), 0.0, 1.0)


def prediction_confidence(scores: np.ndarray, training: ScoreReference, share: float,
                          flagged: np.ndarray) -> np.ndarray:
    """How likely each verdict is to stay the same if the detector were fitted on another sample of the
    same size: ExCeeD (Perini, Vercruyssen and Davis 2020).

    A record's chance of out-scoring a random training record is estimated with a uniform prior,
    p = (1 + #training scores <= score) / (2 + n); with n training records of which a share `share` is
    flagged, its verdict "anomaly" holds when more than n - floor(n * share) of n such draws fall below it.
    The confidence is that probability for records flagged as anomalies, its complement for the rest."""
    n = training.count
    p = (1.0 + n * training.share_at_or_below(scores)) / (2.0 + n)
    anomaly = binom.sf(n - math.floor(n * share), n, p)  # P(X > n - floor(n share)), X ~ Binomial(n, p)
    return np.where(flagged, anomaly, 1.0 - anomaly)
