"""The default detector, an ensemble of small autoencoders: its training (robust scaling, member subsets,
trimming), its score (batch- and order-independent, explained feature by feature), its sizes from the data,
and its saved form through `genlab detect`."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import check_estimator

import genlab
from genlab.apps import AnomalyDetector
from genlab.apps.anomaly_defaults import MAX_STEPS, MIN_STEPS, ensemble_epochs, training_overrides
from genlab.apps.anomaly_ensemble import (
    IMAGE_RECONSTRUCTION_WEIGHT,
    RESTORING_RECONSTRUCTION_WEIGHT,
    TABLE_RECONSTRUCTION_WEIGHT,
    UPRIGHT_RECONSTRUCTION_WEIGHT,
    EnsembleScore,
)
from genlab.cli import main
from genlab.errors import GenlabError
from genlab.models import create_model
from genlab.models.ensemble import CONV_MEMBERS


def correlated_with_outliers(normal=600, outliers=12, seed=0):
    """Records on a 2-D plane inside 8 features, and outliers off the plane whose every value is ordinary."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(2, 8))
    inliers = rng.normal(size=(normal, 2)) @ basis + 0.05 * rng.normal(size=(normal, 8))
    # off the plane, but each feature within the inliers' range: no single value gives them away
    strays = rng.normal(size=(outliers, 8)) * inliers.std(0)
    X = np.r_[inliers, strays].astype(np.float32)
    return X, np.r_[np.zeros(normal), np.ones(outliers)]


def test_default_detector_is_the_ensemble_and_finds_off_plane_records():
    X, outlier = correlated_with_outliers()
    detector = AnomalyDetector().fit(X)
    assert detector.model_.model_name == "ae-ensemble" and detector.score_ == "ensemble"
    assert roc_auc_score(outlier, detector.anomaly_scores(X)) > 0.95


def test_default_detector_passes_check_estimator():
    # the default's model and score with every check; 3 epochs, because on check_estimator's tiny sets the
    # default length is 300 one-step epochs per fit (its rule is tested above and below)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(AnomalyDetector(epochs=3), on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']}" for r in results if r["status"] == "failed"]
    assert not failed, "\n".join(failed)


def test_scores_depend_on_the_record_alone():
    X, _ = correlated_with_outliers(normal=300, outliers=6)
    detector = AnomalyDetector(random_state=3).fit(X)
    together = detector.anomaly_scores(X)
    backwards = detector.anomaly_scores(X[::-1])[::-1]
    one_by_one = np.array([detector.anomaly_scores(X[i:i + 1])[0] for i in range(0, len(X), 37)])
    assert np.array_equal(together, backwards)
    assert np.array_equal(together[::37], one_by_one)


def test_explanation_sums_to_the_score_and_names_the_broken_feature():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    X[:, 3] = X[:, 0] + 0.05 * rng.normal(size=500)  # feature 3 follows feature 0
    odd = X[:5].copy()
    odd[:, 3] = -odd[:, 0]  # the relation broken, each value ordinary
    detector = AnomalyDetector().fit(X)
    parts = detector.explain(odd)
    assert parts.shape == (5, 6)
    np.testing.assert_allclose(parts.sum(1), detector.anomaly_scores(odd), rtol=1e-9, atol=1e-9)
    assert (parts.argmax(1) == 3).sum() + (parts.argmax(1) == 0).sum() >= 4

    # typical records score below 0; their parts still rank the features as their residuals do
    typical = X[100:160]
    scores = detector.anomaly_scores(typical)
    assert (scores < 0).sum() >= 10
    inputs = detector.model_.preprocess(typical).cpu()
    with torch.no_grad():
        ratios = detector.ensemble_._residuals_and_distances(detector.model_, inputs)[0].mean(0).numpy()  # (B, D)
    parts = detector.explain(typical)
    negative = scores < 0
    assert (parts[negative].argmax(1) == ratios[negative].argmax(1)).all()
    assert (parts[negative].argmin(1) == ratios[negative].argmin(1)).all()


def test_trimmed_rows_leave_the_loss():
    torch.manual_seed(0)
    model = create_model("ae-ensemble", data_shape=(3,), value_range="real", members=2, subsample=1.0,
                         trim_fraction=0.25, trim_start_step=5)
    x = torch.tensor([[0.1, 0.2, 0.3], [0.0, -0.1, 0.2], [0.2, 0.1, 0.0], [9.0, -9.0, 9.0]])
    u = model.scaled(x)
    per_row = (model.members_forward(u)[1] - u).square().mean(-1)  # (members, rows)
    before, after = model(x, step=4)["loss"], model(x, step=5)["loss"]
    worst = per_row.argmax(1)
    assert torch.equal(worst, torch.tensor([3, 3]))  # the far row is each member's worst
    kept = per_row[:, :3].mean(1).sum()
    torch.testing.assert_close(after, kept)
    torch.testing.assert_close(before, per_row.mean(1).sum())


def test_robust_scaling_ignores_extreme_values():
    model = create_model("ae-ensemble", data_shape=(2,), value_range="real", clip=10.0)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(5.0, 2.0, size=(1000, 2)), dtype=torch.float32)
    x[:10, 0] = 1e6  # a few absurd values must not set the scale
    model.initialise_from_data(x)
    assert abs(float(model.centre[0]) - 5.0) < 0.3 and abs(float(model.scale[0]) - 2.0) < 0.3
    assert float(model.scaled(x[:1])[0, 0]) == 10.0  # clipped


@pytest.mark.parametrize("rows, steps", [(80, (MIN_STEPS, 2 * MIN_STEPS)), (10_000, (MIN_STEPS, 400)),
                                         (100_000, (500, MAX_STEPS)), (200_000, (1563, 1563))])
def test_training_length_follows_the_data_size(rows, steps):
    per_epoch = -(-rows // min(128, rows))
    assert steps[0] <= ensemble_epochs(rows, 128) * per_epoch <= steps[1]


@pytest.mark.parametrize("rows, passes", [(100, 40), (6_000, 40), (60_000, 8), (10_000_000, 1)])
def test_images_train_for_more_passes_within_a_bound(rows, passes):
    assert ensemble_epochs(rows, 128, images=True) == passes
    images = np.zeros((rows if rows < 1000 else 2, 16, 16), dtype=np.float32)
    if rows < 1000:  # the detector takes the image length for image arrays, and the table length for tables
        assert training_overrides(AnomalyDetector(), images)["train.epochs"] == passes
        assert training_overrides(AnomalyDetector(arch="mlp"), images)["train.epochs"] == ensemble_epochs(rows, 128)
        assert training_overrides(AnomalyDetector(), images.reshape(rows, -1))["train.epochs"] == ensemble_epochs(rows, 128)


def test_pixels_share_one_scale_and_table_features_have_their_own():
    rng = np.random.default_rng(0)
    images = np.zeros((64, 1, 6, 6), dtype=np.float32)
    images[:, :, 1:5, 1:3] = rng.uniform(0.5, 1.0, size=(64, 1, 4, 2))  # strokes on the left; the right always 0
    fitted = AnomalyDetector(epochs=1, random_state=0).fit(images)
    scale, variance = fitted.model_.scale, fitted.ensemble_.residual_variance
    assert torch.allclose(scale, scale[0].expand_as(scale)) and float(scale[0]) > 0.1
    assert torch.allclose(variance, variance[:, :1].expand_as(variance))
    # a faint stroke where no training image has ink is an anomaly, but not an overwhelming one
    probe = images[:2].copy()
    probe[1, :, 1:5, 4] = 0.3
    scores = fitted.anomaly_scores(probe)
    assert scores[1] > scores[0] and scores[1] < 100 * max(1.0, abs(scores[0]))

    table = rng.normal(size=(64, 2)).astype(np.float32)
    table[:4, 1] = 50.0  # a few extreme values: the feature's spread, robustly measured, is far below its deviation
    scale = AnomalyDetector(epochs=1, random_state=0).fit(table).model_.scale
    assert float(scale[1]) < 0.5 * float(scale[0])  # each feature its own scale


def test_sizes_follow_the_data_width():
    narrow = create_model("ae-ensemble", data_shape=(4,), value_range="real")
    wide = create_model("ae-ensemble", data_shape=(1, 28, 28), arch="mlp")
    assert narrow.config.latent_dim < 4 and wide.config.latent_dim == 32 and wide.config.hidden == 256


@pytest.mark.parametrize("shape, arch", [((1, 28, 28), "conv"), ((3, 17, 18), "conv"), ((1, 12, 12), "mlp"),
                                         ((12,), "mlp")])
def test_images_get_convolutional_members_of_any_size(shape, arch):
    model = create_model("ae-ensemble", data_shape=shape, members=3)
    assert model.config.arch == arch
    codes, reconstructions = model.members_forward(torch.randn(5, int(np.prod(shape))))
    assert codes.shape == (3, 5, model.config.latent_dim) and reconstructions.shape == (3, 5, int(np.prod(shape)))


def test_convolutional_members_are_independent():
    model = create_model("ae-ensemble", data_shape=(2, 17, 16), members=3, channels=(4, 6))
    u = torch.randn(7, 544)
    codes, reconstructions = model.members_forward(u)
    (codes[1].sum() + reconstructions[1].sum()).backward()  # member 1's outputs alone
    for name, parameter in model.named_parameters():
        grad = parameter.grad.reshape(3, -1)  # members are contiguous blocks of the first dimension
        touched = [bool(grad[m].abs().sum() > 0) for m in range(3)]
        assert touched == [False, True, False], name  # no weight of members 0 or 2 shapes member 1
    # and each member's first convolution sees every colour of the image
    first = model.conv.encoder[0].weight.grad.reshape(3, 4, 2, 4, 4)[1]
    assert (first.abs().sum((0, 2, 3)) > 0).all()


@pytest.mark.parametrize("rotations, turns", [(2, {0, 2}), (4, {0, 1, 2, 3})])
def test_each_training_image_is_turned_whole_by_its_own_draw(rotations, turns):
    model = create_model("ae-ensemble", data_shape=(2, 16, 16), rotations=rotations)
    torch.manual_seed(0)
    images = torch.randn(64, 2, 16, 16)
    turned = model.turned(images.flatten(1)).reshape(64, 2, 16, 16)
    found = []
    for image, view in zip(images, turned):
        matches = [k for k in range(4) if torch.equal(view, torch.rot90(image, k, (1, 2)))]
        assert len(matches) == 1  # a whole turn of its own image, every colour alike
        found.append(matches[0])
    assert set(found) == turns


def test_restoring_members_see_turned_images_and_the_others_upright_ones():
    # members that copy their input lose nothing on upright images, and lose on turned ones: the target is upright
    for rotations, lossless in ((1, True), (4, False)):
        model = create_model("ae-ensemble", data_shape=(1, 16, 16), members=2, rotations=rotations, trim_fraction=0)
        seen = []
        model.members_forward = lambda u, seen=seen: (seen.append(u) or u[..., :2], u.expand(2, *u.shape[-2:]))
        torch.manual_seed(0)
        x = torch.rand(32, 1, 16, 16)
        loss = float(model(x)["loss"])
        assert (loss == 0.0) == lossless
        inputs = seen[0].expand(2, *seen[0].shape[-2:])
        upright = model.scaled(x)
        assert torch.equal(inputs[0], upright)  # the first member always sees them upright
        assert torch.equal(inputs[1], upright) == lossless


@pytest.mark.parametrize("settings, problem", [({"rotations": 3}, "must be 1"),
                                               ({"rotations": 4, "arch": "mlp"}, "model.arch conv"),
                                               ({"rotations": 4, "data_shape": (1, 16, 20)}, "square images")])
def test_impossible_rotations_are_refused_in_one_line(settings, problem):
    with pytest.raises(GenlabError, match=problem) as caught:
        create_model("ae-ensemble", **({"data_shape": (1, 16, 16)} | settings))
    assert "\n" not in str(caught.value)
    half_turns = create_model("ae-ensemble", data_shape=(1, 16, 20), rotations=2)  # any image turns upside down
    assert half_turns.config.rotations == 2


def test_detector_arch_chooses_the_members_and_refuses_mlp_widths_for_conv_members():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(40, 16, 16)).astype(np.float32)
    assert AnomalyDetector(epochs=1).fit(images).model_.config.arch == "conv"
    mlp = AnomalyDetector(epochs=1, arch="mlp", hidden=12).fit(images).model_
    assert mlp.config.arch == "mlp" and mlp.config.hidden == 12
    with pytest.raises(GenlabError, match="hidden .* convolutional") as caught:
        AnomalyDetector(epochs=1, hidden=12).fit(images)
    assert "\n" not in str(caught.value)


def test_detector_rotations_reach_the_members_and_the_score():
    images = np.random.default_rng(0).uniform(size=(40, 16, 16)).astype(np.float32)
    upright = AnomalyDetector(epochs=1, rotations=1).fit(images)
    assert upright.model_.config.rotations == 1 and upright.model_.config.restoring == 0
    assert upright.ensemble_.reconstruction_weight.tolist() == [IMAGE_RECONSTRUCTION_WEIGHT] * CONV_MEMBERS
    wide = np.random.default_rng(1).uniform(size=(40, 16, 20)).astype(np.float32)
    half_turns = AnomalyDetector(epochs=1, rotations=2).fit(wide)  # not square: half turns only
    assert half_turns.model_.config.rotations == 2 and half_turns.model_.config.restoring == 1
    with pytest.raises(GenlabError, match="rotations") as caught:
        AnomalyDetector(model="ae", rotations=4).fit(images)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("flags, arch, epochs", [((), "conv", 40), (("--arch", "mlp"), "mlp", 300),
                                                 (("--set", "model.arch=mlp"), "mlp", 300),
                                                 (("--model", "ae", "--arch", "linear"), "linear", 30)])
def test_cli_fit_sizes_training_for_the_members_it_trains(tmp_path, flags, arch, epochs):
    # 40 images in one batch: conv members train IMAGE_PASSES passes, mlp members MIN_STEPS steps
    images = np.random.default_rng(0).uniform(size=(40, 16, 16)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    run = tmp_path / "run"
    main(["detect", "fit", "--data", str(tmp_path / "images.npy"), "--run-dir", str(run), "--quiet", *flags])
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["model"]["arch"], config["train"]["epochs"]) == (arch, epochs)


def test_mismatched_settings_are_refused_in_one_line():
    X, _ = correlated_with_outliers(normal=50, outliers=2)
    for settings in ({"model": "vae", "score_by": "ensemble"}, {"score_by": "latent"}, {"hidden": (16, 8)}):
        with pytest.raises(GenlabError) as caught:
            AnomalyDetector(**settings).fit(X)
        assert "\n" not in str(caught.value)


def test_cli_fit_flags_planted_outliers_and_the_saved_detector_round_trips(tmp_path, capsys):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(500, 4))
    table[:10] = rng.normal(size=(10, 4)) * 0.5 + 8  # far from the rest in every feature
    data = tmp_path / "data.csv"
    np.savetxt(data, table, delimiter=",", header="a,b,c,d", comments="")
    run = tmp_path / "run"
    main(["detect", "fit", "--data", str(data), "--run-dir", str(run), "--contamination", "auto"])
    main(["detect", "score", str(run), str(data), "-o", str(tmp_path / "scores.csv")])
    flags = np.genfromtxt(tmp_path / "scores.csv", delimiter=",", names=True, dtype=None, encoding=None)["anomaly"]
    assert flags[:10].all() and flags[10:].mean() < 0.1
    loaded = AnomalyDetector.load(run, device="cpu")
    assert loaded.score_ == "ensemble"
    np.testing.assert_array_equal(loaded.anomaly_scores(table.astype(np.float32))[:10] > loaded.threshold_, True)

    main(["report", str(run), "-o", str(tmp_path / "report.html")])  # its detector section explains the top records
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Anomaly detector</h2>" in page and f"{loaded.threshold_:.5g}" in page
    first = re.search(r"<td class='number'>1</td><td class='number'>(\d+)</td><td class='number'>([-0-9.e+]+)</td>"
                      r"<td>([^<]+)</td>", page)
    assert first and int(first.group(1)) < 10  # a planted record heads the table
    parts = re.findall(r"(\w+) ([-+][0-9.e+-]+)", first.group(3))
    assert len({name for name, _ in parts}) == 4  # every feature named once
    assert sum(float(value) for _, value in parts) == pytest.approx(float(first.group(2)), rel=0.01)  # parts sum to it

    saved = (run / "detector.json").read_text()  # a detector.json from before the stored quantiles
    older = json.loads(saved)
    del older["training_scores"]["quantiles"]
    (run / "detector.json").write_text(json.dumps(older))
    main(["report", str(run), "-o", str(tmp_path / "older.html")])
    assert "<p class='note'>Not shown: this detector.json predates" in (tmp_path / "older.html").read_text()
    (run / "detector.json").write_text(saved)

    tensors = run / "detector.safetensors"
    blob = bytearray(tensors.read_bytes())
    blob[-3] ^= 0xFF  # one flipped bit in the tensor data
    tensors.write_bytes(bytes(blob))
    with pytest.raises(GenlabError, match="damaged") as caught:
        AnomalyDetector.load(run, device="cpu")
    assert "\n" not in str(caught.value)
    tensors.unlink()
    with pytest.raises(GenlabError, match="detector.json is damaged"):
        AnomalyDetector.load(run, device="cpu")


def test_reconstruction_weight_is_used_saved_and_defaults_for_older_files(tmp_path):
    X, _ = correlated_with_outliers(normal=200, outliers=4)
    detector = AnomalyDetector(epochs=2, random_state=0).fit(X)
    score, model = detector.ensemble_, detector.model_
    assert score.reconstruction_weight.tolist() == [TABLE_RECONSTRUCTION_WEIGHT] * model.config.members
    inputs = model.preprocess(X).cpu()
    moved = EnsembleScore(**{**vars(score), "reference_codes": score.reference_codes + 1.0})
    rescaled = EnsembleScore(**{**vars(score), "residual_variance": 3.0 * score.residual_variance})
    with torch.no_grad():
        for weight, unchanged_by, changed_by in ((1.0, moved, rescaled), (0.0, rescaled, moved)):
            for candidate in (score, moved, rescaled):
                candidate.reconstruction_weight = torch.full_like(score.reconstruction_weight, weight)
            base = score.scores(model, inputs)
            assert torch.equal(unchanged_by.scores(model, inputs), base)  # the other part weighs nothing
            assert not torch.allclose(changed_by.scores(model, inputs), base)

    images = np.random.default_rng(0).uniform(size=(30, 16, 16)).astype(np.float32)
    fitted = AnomalyDetector(epochs=1).fit(images, run_dir=tmp_path / "run")
    members = fitted.model_.config.members
    kinds = [UPRIGHT_RECONSTRUCTION_WEIGHT] * (members - 1) + [RESTORING_RECONSTRUCTION_WEIGHT]  # the last restores
    assert fitted.ensemble_.reconstruction_weight.tolist() == kinds
    loaded = AnomalyDetector.load(tmp_path / "run")
    assert loaded.ensemble_.reconstruction_weight.tolist() == kinds
    np.testing.assert_array_equal(loaded.anomaly_scores(images), fitted.anomaly_scores(images))
    older = {name: value for name, value in fitted.ensemble_.tensors().items() if name != "reconstruction_weight"}
    assert EnsembleScore.from_tensors(older, fitted.model_).reconstruction_weight.tolist() == [0.5] * members
    single = EnsembleScore.from_tensors(older | {"reconstruction_weight": torch.tensor([0.25])}, fitted.model_)
    assert single.reconstruction_weight.tolist() == [0.25] * members  # one weight, saved before members had their own
    for damaged in ([float("nan")], [0.5] * (members - 1) + [1.5], [0.1] * (members + 1)):
        with pytest.raises(GenlabError, match="reconstruction_weight"):
            EnsembleScore.from_tensors(older | {"reconstruction_weight": torch.tensor(damaged)}, fitted.model_)


def test_restoring_members_weigh_their_reconstruction_and_upright_ones_their_codes():
    # a score mixes each member's own parts: changing the restoring member's residual scale moves the score as
    # much as its weight says, and the upright member's codes as much as theirs
    images = np.random.default_rng(1).uniform(size=(40, 16, 16)).astype(np.float32)
    detector = AnomalyDetector(epochs=1).fit(images)
    score, model = detector.ensemble_, detector.model_
    assert model.config.restoring == 1 and model.config.rotations == 4
    inputs = model.preprocess(images).cpu()
    with torch.no_grad():
        errors, distances = score.parts(model, inputs)
        ez = (errors.double() - score.error_centre.double()) / score.error_spread.double()
        dz = (distances.double() - score.distance_centre.double()) / score.distance_spread.double()
        upright = UPRIGHT_RECONSTRUCTION_WEIGHT * ez[:, :-1] + (1 - UPRIGHT_RECONSTRUCTION_WEIGHT) * dz[:, :-1]
        restoring = RESTORING_RECONSTRUCTION_WEIGHT * ez[:, -1] + (1 - RESTORING_RECONSTRUCTION_WEIGHT) * dz[:, -1]
        expected = (upright.sum(1) + restoring) / model.config.members
        torch.testing.assert_close(score.scores(model, inputs), expected)
        terms = score.terms(model, inputs)
        torch.testing.assert_close(terms.sum(1), score.scores(model, inputs))


def test_restoring_members_resume_to_the_same_weights(tmp_path):
    # the turns are random draws: a run stopped mid-epoch resumes to the weights of one that was not stopped
    images = np.random.default_rng(0).uniform(size=(96, 1, 16, 16)).astype(np.float32)
    settings = ["train.batch_size=32", "train.log_every=1", "data.val_fraction=0", "data.test_fraction=0",
                "train.preview_samples=0", "train.tensorboard=false"]
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    model = genlab.train("ae-ensemble", images, epochs=3, run_dir=reference, progress=False, overrides=settings)
    assert model.config.restoring == 1
    calls = []

    def stop_in_the_second_epoch(model):  # runs at every step: 3 steps an epoch, this fails at the 5th
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("stopped on purpose")
        return {}

    with pytest.raises(RuntimeError, match="stopped on purpose"):
        genlab.train("ae-ensemble", images, epochs=3, run_dir=stopped, progress=False,
                     monitors=[stop_in_the_second_epoch], overrides=settings)
    genlab.train(run_dir=stopped, resume=True, progress=False, data=images)
    expected, resumed = (load_file(run / "model" / "model.safetensors") for run in (reference, stopped))
    assert expected.keys() == resumed.keys() and all(torch.equal(expected[k], resumed[k]) for k in expected)
