"""AnomalyDetector as a scikit-learn estimator: the conventions, "auto" contamination, probabilities,
confidence, explanations, and scores that depend on the record alone."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils.estimator_checks import check_estimator

from genlab.apps import AnomalyDetector
from genlab.errors import GenlabError

SMALL = dict(model="ae", epochs=3, hidden=(16,), latent_dim=2)


def blob_with_outliers(normal=400, outliers=20, features=6, seed=0):
    """A Gaussian blob and a known number of far records after it; returns X and 1 = outlier."""
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(size=(normal, features)), rng.normal(7.0, 1.0, size=(outliers, features))]
    return X.astype(np.float32), np.r_[np.zeros(normal), np.ones(outliers)]


def test_check_estimator_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(AnomalyDetector(**SMALL), on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']}" for r in results if r["status"] == "failed"]
    assert not failed, "\n".join(failed)
    assert len(results) > 30  # the outlier-detector checks ran, not a handful


def test_grid_search_picks_settings_by_held_out_auroc():
    X, outlier = blob_with_outliers()
    search = GridSearchCV(AnomalyDetector(**SMALL), {"latent_dim": [1, 3], "score_by": ["reconstruction"]},
                          scoring="roc_auc", cv=StratifiedKFold(3, shuffle=True, random_state=0)).fit(X, 1 - outlier)  # scikit-learn: higher decision = normal
    assert search.best_params_["latent_dim"] in (1, 3)
    assert search.best_score_ > 0.9  # the far records are found in each held-out fold
    assert clone(search.best_estimator_).get_params()["latent_dim"] == search.best_params_["latent_dim"]


def test_scikit_learn_and_pyod_conventions_agree():
    X, outlier = blob_with_outliers()
    detector = AnomalyDetector(contamination=0.05, **SMALL).fit(X)
    scores = detector.anomaly_scores(X)
    assert roc_auc_score(outlier, scores) > 0.95
    assert np.array_equal(detector.predict(X), np.where(scores > detector.threshold_, -1, 1))
    assert np.allclose(detector.decision_function(X), detector.threshold_ - scores)
    assert np.array_equal(detector.labels_, (detector.predict(X) == -1).astype(int))  # PyOD's 0/1 on the fit data
    assert np.array_equal(detector.fit_predict(X), detector.predict(X))
    assert abs(detector.labels_.mean() - 0.05) < 0.005


def test_contamination_auto_finds_the_known_share_of_outliers():
    for outliers in (8, 40):  # 2% and 10% far records
        X, outlier = blob_with_outliers(outliers=outliers, seed=outliers)
        detector = AnomalyDetector(contamination="auto", **SMALL).fit(X)
        flagged = detector.labels_.astype(bool)
        assert abs(detector.contamination_ - outlier.mean()) < 0.015, (outliers, detector.contamination_)
        assert flagged[outlier == 1].mean() > 0.9 and flagged[outlier == 0].mean() < 0.01


def test_probabilities_and_confidence():
    X, outlier = blob_with_outliers()
    detector = AnomalyDetector(contamination=0.05, **SMALL).fit(X)
    scores = detector.anomaly_scores(X)
    order = np.argsort(scores)
    for method in ("linear", "unify"):
        proba = detector.predict_proba(X, method=method)
        assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1.0)
        assert (np.diff(proba[order, 1]) >= 0).all()  # rises with the score
        assert proba[outlier == 1, 1].mean() > proba[outlier == 0, 1].mean() + 0.3
    assert detector.predict_proba(X, "linear")[order[-1], 1] == 1.0  # the highest training score
    confidence = detector.predict_confidence(X)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert confidence[order[:100]].min() > 0.99  # the most normal records are surely normal
    near = np.argmin(np.abs(scores - detector.threshold_))
    assert confidence[near] < 0.9  # a record at the threshold could go either way
    with pytest.raises(GenlabError, match="method"):
        detector.predict_proba(X, method="softmax")


def test_saved_detector_gives_the_same_probabilities_and_confidence(tmp_path):
    X, _ = blob_with_outliers()
    detector = AnomalyDetector(contamination=0.05, **SMALL).fit(X, run_dir=tmp_path / "run")
    detector.save(tmp_path / "run")
    again = AnomalyDetector.load(tmp_path / "run", device="cpu")
    assert np.allclose(again.predict_proba(X), detector.predict_proba(X), atol=1e-6)
    assert np.abs(again.predict_confidence(X) - detector.predict_confidence(X)).max() < 0.02  # ranks from quantiles
    stored = json.loads((tmp_path / "run" / "detector.json").read_text())["training_scores"]
    assert stored["count"] == len(X)


def test_scores_do_not_depend_on_the_rest_of_the_batch():
    X, _ = blob_with_outliers(features=30)
    for model, score_by in (("ae", "reconstruction"), ("ae", "weighted-reconstruction"), ("ae", "latent"),
                            ("vae", "elbo"), ("vae", "nll")):
        detector = AnomalyDetector(model=model, epochs=2, hidden=(64, 32), latent_dim=4, score_by=score_by,
                                   k=20, draws=3).fit(X)
        together = detector.anomaly_scores(X)
        alone = np.array([detector.anomaly_scores(X[i:i + 1])[0] for i in range(0, len(X), 7)])
        order = np.random.default_rng(1).permutation(len(X))
        assert np.array_equal(alone, together[::7]), score_by
        assert np.array_equal(detector.anomaly_scores(X[order]), together[order]), score_by
        assert np.array_equal(detector.anomaly_scores(X[100:357]), together[100:357]), score_by


def test_explanations_sum_to_the_scores():
    X, _ = blob_with_outliers()
    for score_by in ("reconstruction", "weighted-reconstruction"):
        detector = AnomalyDetector(score_by=score_by, **SMALL).fit(X)
        parts = detector.explain(X[-10:])
        assert parts.shape == (10, X.shape[1]) and (parts >= 0).all()
        assert np.allclose(parts.sum(1), detector.anomaly_scores(X[-10:]), rtol=1e-9)
    # the feature that was pushed out of range carries the blame
    probe = X[:1].copy()
    probe[0, 4] = 12.0
    assert np.argmax(detector.explain(probe)[0]) == 4
    with pytest.raises(GenlabError, match="explain needs"):
        AnomalyDetector(model="vae", score_by="elbo", epochs=1, hidden=(8,), latent_dim=2).fit(X).explain(X[:2])


def test_table_explanations_are_per_column_and_sum_to_the_scores():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"bytes": rng.lognormal(5, 1, 300), "port": rng.choice(["80", "443"], 300),
                          "duration": rng.normal(10, 2, 300)})
    for score_by in ("reconstruction", "weighted-reconstruction"):
        detector = AnomalyDetector(model="ae", epochs=5, hidden=(16,), latent_dim=2, score_by=score_by).fit(frame)
        probe = frame.head(3).copy()
        probe.loc[1, "port"] = "6667"  # never seen
        parts = detector.explain(probe)
        assert list(parts.columns) == ["bytes", "port", "duration"]
        assert np.allclose(parts.to_numpy().sum(1), detector.anomaly_scores(probe), rtol=1e-9)
        assert parts.iloc[1].idxmax() == "port"


def test_image_explanations_are_maps_of_the_image():
    rng = np.random.default_rng(0)
    images = (rng.random((120, 8, 8)) < 0.2).astype(np.float32)
    detector = AnomalyDetector(score_by="reconstruction", **SMALL).fit(images)
    maps = detector.explain(images[:4])
    assert maps.shape == (4, 8, 8)
    assert np.allclose(maps.reshape(4, -1).sum(1), detector.anomaly_scores(images[:4]), rtol=1e-9)


def test_errors_scikit_learn_expects():
    X, _ = blob_with_outliers()
    with pytest.raises(NotFittedError, match="not fitted"):
        AnomalyDetector().predict(X)
    detector = AnomalyDetector(**SMALL).fit(X)
    with pytest.raises(ValueError, match="features"):
        detector.predict(X[:, :4])
    for bad in (-0.1, 0.0, 0.7, "most", True):
        with pytest.raises(ValueError, match="contamination"):
            AnomalyDetector(contamination=bad, **SMALL).fit(X)
    with pytest.raises(ValueError, match="score_by"):
        AnomalyDetector(score_by="vibes", **SMALL).fit(X)
    with pytest.raises(ValueError, match="dimension"):
        AnomalyDetector(**SMALL).fit(X[:, 0])


def test_detect_cli_fits_on_every_record_and_explains(tmp_path, cli):
    X, outlier = blob_with_outliers(normal=200, outliers=10)
    np.save(tmp_path / "records.npy", X)
    run = tmp_path / "detector"
    code, out, _ = cli("detect", "fit", "--data", tmp_path / "records.npy", "--run-dir", run, "--model", "ae",
                       "--epochs", "3", "--latent-dim", "2", "--contamination", "auto", "--quiet")
    assert code == 0, out
    assert "of the 210 training records" in out  # none held out for validation or test
    np.savetxt(tmp_path / "new.csv", X[-20:], delimiter=",")
    assert cli("detect", "score", run, tmp_path / "new.csv", "-o", tmp_path / "scores.csv")[0] == 0
    code, out, _ = cli("detect", "explain", run, tmp_path / "new.csv", "-o", tmp_path / "why.csv")
    assert code == 0 and "20 records" in out
    scores = np.genfromtxt(tmp_path / "scores.csv", delimiter=",", names=True, dtype=None, encoding=None)
    parts = np.genfromtxt(tmp_path / "why.csv", delimiter=",", names=True, dtype=None, encoding=None)
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    assert np.allclose(np.stack([parts[c] for c in columns], 1).sum(1), scores["score"], rtol=1e-4)
    code, _, err = cli("detect", "explain", run, tmp_path / "new.csv", "-o", tmp_path / "why.txt")
    assert code == 2 and "why.txt" in err and not (tmp_path / "why.txt").exists()
