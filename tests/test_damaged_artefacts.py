"""Files a run keeps beside its model (detector.json, eval.json, the gmm cache) edited, damaged or half-written:
each gives one line saying what to do, is fitted again, or is cleaned up; never a traceback or a silent answer."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time

import numpy as np
import pytest

import genlab
from genlab.apps.anomaly import AnomalyDetector
from genlab.errors import GenlabError
from genlab.eval.stored import read_eval
from genlab.models.base import weights_sha256
from genlab.runs import RunDirectory
from genlab.samplers import draw_samples

FAST = {"train.epochs": 1, "train.preview_samples": 0, "train.tensorboard": False, "model.latent_dim": 2}


def vectors():
    return np.random.default_rng(0).normal(size=(160, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE on digits (so that it records its data and a mixture can be fitted) with a latent detector."""
    run = tmp_path_factory.mktemp("damaged") / "run"
    genlab.train("vae", data="digits", run_dir=run, overrides=FAST, progress=False)
    model = genlab.load(run)
    AnomalyDetector(score_by="latent", components=2).calibrate_on_inputs(model, model.preprocess(_digits(model))).save(run)
    return run


def _digits(model):
    from sklearn.datasets import load_digits

    return load_digits().data[:200].reshape(-1, 1, 8, 8).astype(np.float32) / 16.0


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def edit_json(path, change):
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


# ---- detector.json ---------------------------------------------------------------------------


def test_a_saved_latent_detector_loads_and_scores_as_it_was_saved(run):
    model = genlab.load(run)
    detector = AnomalyDetector.load(run)
    assert detector.score_ == "latent" and np.isfinite(detector.anomaly_scores(_digits(model)[:5])).all()


DETECTOR_EDITS = {
    "k a billion": lambda d: d.update(k=10**9),  # would allocate gigabytes per batch
    "k text": lambda d: d.update(k="many"),
    "draws negative": lambda d: d.update(draws=-1),
    "contamination text": lambda d: d.update(contamination="some"),
    "contamination one": lambda d: d.update(contamination=1.0),
    "seed a float": lambda d: d.update(random_state=0.5),
    "training scores text": lambda d: d.update(training_scores="fine"),
    "score auto": lambda d: d.update(score="auto"),
    "mixture of 1-value codes": lambda d: d.update(mixture={"weights": [1.0], "means": [[0.0]], "covariances": [[[1.0]]]}),
    "mixture covariance -I": lambda d: d["mixture"].update(
        covariances=(-np.broadcast_to(np.eye(2), np.shape(d["mixture"]["covariances"]))).tolist()),
    "mixture weights negative": lambda d: d["mixture"].update(weights=[-w for w in d["mixture"]["weights"]]),
    "mixture text": lambda d: d.update(mixture="gaussian"),
}


@pytest.mark.parametrize("edit", DETECTOR_EDITS.values(), ids=DETECTOR_EDITS.keys())
def test_a_damaged_detector_json_is_one_line_saying_to_fit_again(run, edit):
    edit_json(run / "detector.json", edit)
    with pytest.raises(GenlabError, match=r"detector.json is damaged \(.+\); rerun `genlab detect fit`") as error:
        AnomalyDetector.load(run)
    assert "\n" not in str(error.value)


SCORE_SUMMARY_EDITS = {
    "contamination zero": lambda d: d.update(contamination=0),
    "quantiles falling": lambda d: d["training_scores"].update(quantiles=d["training_scores"]["quantiles"][::-1]),
    "quantiles with NaN": lambda d: d["training_scores"].update(quantiles=[float("nan")] * 3),
    "count zero": lambda d: d["training_scores"].update(count=0),
    "count text": lambda d: d["training_scores"].update(count="all"),
    "flagged share above one": lambda d: d.update(flagged_share=1.5),
}


@pytest.mark.parametrize("edit", SCORE_SUMMARY_EDITS.values(), ids=SCORE_SUMMARY_EDITS.keys())
def test_a_damaged_summary_of_training_scores_is_one_line_saying_to_fit_again(run, edit):
    edit_json(run / "detector.json", edit)
    with pytest.raises(GenlabError, match=r"detector.json is damaged \(.+\); rerun `genlab detect fit`"):
        AnomalyDetector.load(run)


def test_a_detector_json_without_quantiles_loads_but_gives_no_probabilities(run):
    edit_json(run / "detector.json", lambda d: d["training_scores"].pop("quantiles"))
    detector = AnomalyDetector.load(run)
    x = _digits(genlab.load(run))[:3]
    assert np.isfinite(detector.anomaly_scores(x)).all()
    with pytest.raises(GenlabError, match="predates probabilities"):
        detector.predict_proba(x)


def test_detect_score_with_a_damaged_detector_exits_2_and_writes_nothing(run, tmp_path, cli):
    edit_json(run / "detector.json", lambda d: d.update(k=10**9))
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 8, 8), np.float32))
    code, _, err = cli("detect", "score", run, tmp_path / "x.npy", "-o", tmp_path / "s.csv")
    assert code == 2 and err.startswith("error: ") and "k must be from 1 to 10,000" in err and "genlab detect fit" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("setting", [{"k": 10**9}, {"draws": 0}])
def test_an_anomaly_detector_refuses_k_and_draws_out_of_range_before_fitting(setting):
    with pytest.raises(GenlabError, match="must be from 1 to 10,000"):
        AnomalyDetector(model="vae", epochs=50, **setting).fit(vectors())


def test_detect_score_of_a_csv_holding_inf_is_one_line(run, tmp_path, cli):
    (tmp_path / "new.csv").write_text(",".join(f"p{i}" for i in range(64)) + "\n" + ",".join(["0"] * 63 + ["inf"]) + "\n")
    code, _, err = cli("detect", "score", run, tmp_path / "new.csv", "-o", tmp_path / "s.csv")
    assert code == 2 and "inf" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "s.csv").exists()


# ---- the gmm cache ---------------------------------------------------------------------------


def _cache(run):
    return RunDirectory(run).sampler_path("gmm", 2)


def test_a_cached_mixture_that_is_not_positive_definite_is_fitted_again(run, caplog):
    model = genlab.load(run)
    draw_samples(model, run, 4, sampler="gmm", components=2)
    with np.load(_cache(run)) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["covariances"] = -np.broadcast_to(np.eye(2), arrays["covariances"].shape).copy()
    np.savez(_cache(run), **arrays)  # the weights' digest kept: only the covariances are wrong
    with caplog.at_level(logging.WARNING, logger="genlab.samplers"):
        samples = draw_samples(model, run, 4, sampler="gmm", components=2)
    assert samples.shape[0] == 4 and np.isfinite(samples.numpy()).all()
    assert "not symmetric positive definite" in caplog.text and "fitting it again" in caplog.text
    with np.load(_cache(run)) as stored:
        assert np.linalg.eigvalsh(stored["covariances"]).min() > 0 and str(stored["model_digest"]) == weights_sha256(run / "model")


def test_a_cache_that_cannot_be_written_leaves_no_samplers_folder(run, monkeypatch):
    from genlab.models.mixture import GaussianMixtureSampler

    def full_disk(self, path, digest=""):
        raise GenlabError(f"no space left to write {path}")

    shutil.rmtree(run / "samplers", ignore_errors=True)
    monkeypatch.setattr(GaussianMixtureSampler, "save", full_disk)
    with pytest.raises(GenlabError, match="no space left"):
        draw_samples(genlab.load(run), run, 4, sampler="gmm", components=2)
    assert not (run / "samplers").exists()
    (run / "samplers").mkdir()  # a folder that was there before stays
    with pytest.raises(GenlabError, match="no space left"):
        draw_samples(genlab.load(run), run, 4, sampler="gmm", components=2)
    assert (run / "samplers").is_dir()


def test_a_killed_writers_scratch_file_in_samplers_is_removed_and_a_young_one_spared(run):
    model = genlab.load(run)
    draw_samples(model, run, 4, sampler="gmm", components=2)  # the cache is current: nothing is written below
    killed, young = run / "samplers" / ".gmm-2.npz.k1lled00.tmp", run / "samplers" / ".gmm-2.npz.wr1t1ng0.tmp"
    killed.write_bytes(b"PK\x03\x04")
    young.write_bytes(b"PK\x03\x04")  # may be another process's write under way
    long_ago = time.time() - 20 * 60
    os.utime(killed, (long_ago, long_ago))
    draw_samples(model, run, 4, sampler="gmm", components=2)
    assert not killed.exists() and young.exists()


# ---- eval.json -------------------------------------------------------------------------------


def _stored(run, metrics, protocol=None):
    protocol = {"model_sha256": weights_sha256(run / "model"), **(protocol or {})}
    (run / "eval.json").write_text(json.dumps({"metrics": metrics, "protocol": protocol}))


def test_eval_json_as_genlab_eval_writes_it_is_read(run):
    metrics = {"reconstruction": {"mse": 0.1, "psnr": float("nan")}, "quality": {"fid": 3.0, "fid_interval": [2.0, 4.0]},
               "representation": {"code_dim": 2, "code": {"logistic": 0.9, "knn": 0.8}}}
    _stored(run, metrics, {"seconds": {"quality": 1.0}, "likelihood": {"k": 10}})
    assert read_eval(run)["metrics"]["representation"]["code"]["knn"] == 0.8


EVAL_FILES = {
    "a list": "[1, 2]",
    "no metrics": '{"protocol": {}}',
    "protocol a list": '{"metrics": {}, "protocol": [1]}',
    "group a number": '{"metrics": {"reconstruction": 5}, "protocol": {}}',
    "value text": '{"metrics": {"reconstruction": {"mse": "low"}}, "protocol": {}}',
    "value a boolean": '{"metrics": {"reconstruction": {"mse": true}}, "protocol": {}}',
    "list of text": '{"metrics": {"quality": {"fid_interval": ["a", "b"]}}, "protocol": {}}',
    "value nested deep": '{"metrics": {"reconstruction": {"mse": ' + "[" * 5000 + "]" * 5000 + "}}, \"protocol\": {}}",
    "protocol seconds a list": '{"metrics": {}, "protocol": {"seconds": [1]}}',
    "protocol nested deep": '{"metrics": {}, "protocol": {"notes": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}}",
}


EVAL_PROBLEMS = {"a list": "no metrics object", "no metrics": "no metrics object",
                 "protocol a list": "the protocol is not an object", "value text": "metric reconstruction.mse is not a number",
                 "protocol seconds a list": "protocol seconds is not an object",
                 "protocol nested deep": "the protocol is nested too deeply"}


@pytest.mark.parametrize("name", EVAL_FILES)
def test_a_damaged_eval_json_is_one_line_saying_to_run_eval_again(run, name):
    (run / "eval.json").write_text(EVAL_FILES[name])
    with pytest.raises(GenlabError, match="run `genlab eval` again") as error:
        read_eval(run)
    assert "\n" not in str(error.value)
    if name in EVAL_PROBLEMS:
        assert f"({EVAL_PROBLEMS[name]})" in str(error.value)


def test_an_eval_json_nested_as_deep_as_allowed_is_read(run):
    from genlab.eval.stored import MAX_DEPTH

    nested = lambda depth: "1" if depth == 0 else '{"a": ' + nested(depth - 1) + "}"  # noqa: E731
    _stored(run, {}, {"notes": json.loads(nested(MAX_DEPTH - 1))})  # the protocol itself is the first level
    assert read_eval(run)["protocol"]["notes"]["a"]
    _stored(run, {}, {"notes": json.loads(nested(MAX_DEPTH))})
    with pytest.raises(GenlabError, match="nested too deeply"):
        read_eval(run)


def test_an_eval_json_read_as_a_file_without_a_protocol_gets_an_empty_one(run):
    from genlab.eval.stored import stale

    (run / "eval.json").write_text('{"metrics": {"quality": {"fid": 3.0}}}')
    assert read_eval(run / "eval.json") == {"metrics": {"quality": {"fid": 3.0}}, "protocol": {}}
    assert read_eval(run) is None and stale(run, {"metrics": {}})  # no model digest: not this model's results


def test_report_of_a_run_with_a_damaged_eval_json_exits_2(run, tmp_path, cli):
    (run / "eval.json").write_text(EVAL_FILES["value text"])
    code, _, err = cli("report", run, "-o", tmp_path / "r.html")
    assert code == 2 and "metric reconstruction.mse is not a number" in err and not (tmp_path / "r.html").exists()


# ---- genlab info --json ----------------------------------------------------------------------


def test_info_json_is_strict_json_when_a_loss_is_nan(run, cli):
    with open(run / "metrics.jsonl", "a") as metrics:
        metrics.write('{"split": "val", "step": 99, "epoch": 2, "loss": NaN}\n')
    code, out, _ = cli("info", run, "--json")

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    assert code == 0 and json.loads(out, parse_constant=refuse)["last_validation"]["loss"] is None
