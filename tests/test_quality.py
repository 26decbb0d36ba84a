import numpy as np
import pytest

from genlab.eval.quality import frechet_distance, frechet_distance_from_moments


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
