import math

import numpy as np
import pytest
import torch

from genlab.eval.bootstrap import bootstrap_mean_interval
from genlab.eval.diversity import class_histogram, classifier_score, entropy
from genlab.eval.manifold import knn_radii, precision_recall_density_coverage
from genlab.eval.quality import (
    bootstrap_frechet,
    frechet_distance,
    frechet_distance_from_moments,
    kernel_inception_distance,
)


def test_a_set_against_itself_is_about_zero():
    features = np.random.default_rng(0).normal(size=(2000, 16))
    assert abs(frechet_distance(features, features)) < 1e-6


def test_closed_form_for_two_gaussians():
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cov_b = rotation @ np.diag([4.0, 1.0]) @ rotation.T  # a full (non-diagonal) covariance
    # (I * cov_b)^(1/2) has eigenvalues 2 and 1: d^2 = |mu|^2 + (2 + 5 - 2 * 3)
    distance = frechet_distance_from_moments(np.zeros(2), np.eye(2), np.array([1.0, 2.0]), cov_b)
    assert distance == pytest.approx(5.0 + 1.0)
    cov_a = np.diag([1.0, 9.0])
    cov_c = np.diag([4.0, 1.0])
    expected = (1 + 4 - 2 * 2) + (9 + 1 - 2 * 3)  # diagonal case: sum of (sqrt(a) - sqrt(c))^2
    assert frechet_distance_from_moments(np.zeros(2), cov_a, np.zeros(2), cov_c) == pytest.approx(expected)


def test_sample_estimate_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(200000, 3))
    b = rng.normal(0.5, 2.0, size=(200000, 3))
    expected = 3 * 0.25 + 3 * (1 + 4 - 2 * 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


# ---- KID ---------------------------------------------------------------------------------

def test_kid_matches_the_kernel_formula_on_constant_sets():
    # 1-D features, all equal to a in one set and b in the other: with d = 1 the kernel
    # is (x*y + 1)^3, so MMD^2 = (a^2+1)^3 + (b^2+1)^3 - 2 (ab+1)^3 exactly.
    a, b = 0.5, 2.0
    kid, spread = kernel_inception_distance(np.full((50, 1), a), np.full((40, 1), b), subsets=3, subset_size=20)
    assert kid == pytest.approx((a * a + 1) ** 3 + (b * b + 1) ** 3 - 2 * (a * b + 1) ** 3)
    assert spread == pytest.approx(0.0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    same = kernel_inception_distance(rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8)), subsets=20)[0]
    shifted = kernel_inception_distance(rng.normal(size=(3000, 8)), rng.normal(0.5, 1, size=(3000, 8)), subsets=20)[0]
    assert abs(same) < 0.01 < shifted


def test_fid_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2000, 4)), rng.normal(0.3, 1, size=(2000, 4))
    low, high = bootstrap_frechet(real, fake, resamples=50)
    assert low < frechet_distance(real, fake) < high


# ---- precision, recall, density, coverage --------------------------------------------------

def test_manifold_metrics_on_a_hand_made_point_set():
    # real points 0..9 on a line; with k=1 every real ball has radius 1.
    real = np.arange(10, dtype=float)[:, None]
    # 0.5 lies in the balls of 0 and 1; 100 lies in none. The fake set's own k=1 radius
    # is 99.5, so its two balls cover every real point.
    fake = np.array([[0.5], [100.0]])
    values = precision_recall_density_coverage(real, fake, k_precision=1, k_density=1)
    assert values == pytest.approx({"precision": 0.5, "recall": 1.0, "density": (2 + 0) / 2, "coverage": 0.2})


def test_manifold_metrics_for_identical_and_disjoint_sets():
    points = np.random.default_rng(0).normal(size=(500, 3))
    same = precision_recall_density_coverage(points, points)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = precision_recall_density_coverage(points, points + 100)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_knn_radii_exclude_the_point_itself():
    assert knn_radii(np.array([[0.0], [1.0], [3.0]]), k=1).tolist() == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="more than k"):
        knn_radii(np.zeros((3, 2)), k=3)


# ---- diversity and bootstrap ---------------------------------------------------------------

def test_classifier_score_extremes():
    confident_even = torch.eye(10).repeat(100, 1)  # every sample sure of its class, classes evenly used
    assert classifier_score(confident_even)[0] == pytest.approx(10.0)
    undecided = torch.full((1000, 10), 0.1)
    assert classifier_score(undecided)[0] == pytest.approx(1.0)
    one_class = torch.eye(10)[torch.zeros(1000, dtype=torch.long)]  # collapse: one class only
    assert classifier_score(one_class)[0] == pytest.approx(1.0)


def test_histogram_and_entropy():
    probabilities = torch.eye(4)[torch.tensor([0, 0, 1, 3])]
    shares = class_histogram(probabilities)
    assert shares.tolist() == [0.5, 0.25, 0.0, 0.25]
    assert entropy(shares) == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    assert entropy(torch.full((10,), 0.1)) == pytest.approx(math.log(10))


def test_bootstrap_interval_of_a_mean():
    values = np.random.default_rng(0).normal(3.0, 1.0, size=4000)
    low, high = bootstrap_mean_interval(values, resamples=300)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 / math.sqrt(4000), rel=0.25)  # the normal-theory width


def test_without_a_reference_classifier_the_feature_space_is_the_raw_data_and_says_so():
    from genlab.eval.features import FeatureSpace
    from genlab.models import create_model

    model = create_model("vae", data_shape=(6,), value_range="real", latent_dim=2, hidden=[8])
    space = FeatureSpace.for_model(model, None)
    x = torch.randn(5, 6)
    assert torch.equal(space.features(x), x)
    assert space.describe() == {"name": "raw", "note": "no reference classifier for this data: distances in the model's "
                                                       "input space"}
