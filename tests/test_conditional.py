"""The classifier, conditional generation judged by it, and the ex-post GMM sampler."""

import shutil

import numpy as np
import pytest
import torch
from conftest import QUICK

import genlab
from genlab.errors import GenlabError
from genlab.models.mixture import GaussianMixtureSampler
from genlab.models.reference import reference_classifier_dir
from genlab.runs import RunDirectory
from genlab.training.metrics import read_metrics


@pytest.fixture(scope="module")
def digits():
    return genlab.data.load_dataset("digits")


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("classifier") / "run"
    genlab.train("classifier", "digits", epochs=10, run_dir=run, overrides=QUICK, progress=False)
    return run


@pytest.fixture(scope="module")
def classifier(classifier_run):
    return genlab.load(classifier_run)


def test_classifier_predicts_the_test_set_and_exposes_features(classifier, digits):
    inputs = digits.preprocessing(digits.test.x)
    assert (classifier.predict(inputs) == digits.test.y).float().mean() > 0.95
    assert classifier.features(inputs).shape == (len(inputs), 128)
    assert torch.allclose(classifier.predict_proba(inputs[:5]).sum(1), torch.ones(5), atol=1e-4)


def test_classic_tutorial_cnn_learns_mnist_sized_images():
    model = genlab.create_model("classifier", data_shape=(1, 28, 28), num_classes=10, arch="classic")
    assert model.features(torch.rand(2, 1, 28, 28)).shape == (2, 64)
    with pytest.raises(GenlabError, match="at least 12x12"):
        genlab.create_model("classifier", data_shape=(1, 8, 8), num_classes=10, arch="classic")


def test_cvae_samples_the_class_it_is_asked_for(classifier, tmp_path, cli):
    run = tmp_path / "cvae"
    model = genlab.train("cvae", "digits", epochs=20, run_dir=run, progress=False,
                         overrides=[*QUICK, "model.latent_dim=4", "train.batch_size=32"])
    generator = torch.Generator().manual_seed(0)
    asked = torch.arange(10).repeat_interleave(30)
    judged = classifier.predict(model.sample(len(asked), generator, labels=asked))
    assert (judged == asked).float().mean() > 0.8

    code, out, _ = cli("sample", run, "-n", "40", "--class", "3", "-o", tmp_path / "threes.npy")
    assert code == 0
    threes = torch.from_numpy(np.load(tmp_path / "threes.npy")).float()
    assert (classifier.predict(threes) == 3).float().mean() > 0.8  # digits are stored in [0, 1], as the model sees them
    assert cli("sample", run, "--class", "12", "-o", tmp_path / "x.png")[0] == 2


class Identity:
    """A stand-in model whose codes are its inputs."""

    device = torch.device("cpu")

    def encode(self, x):
        return x

    def decode(self, z):
        return z


def test_gaussian_mixture_sampler_recovers_the_clusters(tmp_path):
    torch.manual_seed(0)
    codes = torch.cat([torch.randn(500, 2) * 0.1 + torch.tensor([3.0, 0.0]), torch.randn(500, 2) * 0.1 - 3.0])
    sampler = GaussianMixtureSampler(components=2).fit(Identity(), codes)
    drawn = sampler.sample(Identity(), 2000, torch.Generator().manual_seed(1))
    near_first = (drawn - torch.tensor([3.0, 0.0])).norm(dim=1) < 0.5
    near_second = (drawn + 3.0).norm(dim=1) < 0.5
    assert (near_first | near_second).float().mean() > 0.99
    assert 0.4 < near_first.float().mean() < 0.6
    sampler.save(tmp_path / "gmm.npz", "abc")
    loaded, digest = GaussianMixtureSampler.load(tmp_path / "gmm.npz")
    assert digest == "abc" and np.allclose(loaded.means_, sampler.means_)


def test_cli_gmm_sampler_is_fitted_once_and_cached(tmp_path, cli):
    run = tmp_path / "ae"
    genlab.train("ae", "digits", epochs=2, run_dir=run, overrides=QUICK, progress=False)
    code, _, err = cli("sample", run, "--sampler", "gmm", "--components", "5", "-o", tmp_path / "a.png")
    assert code == 0, err
    cache = run / "samplers" / "gmm-5.npz"
    stamp = cache.stat().st_mtime_ns
    assert cli("sample", run, "--sampler", "gmm", "--components", "5", "-o", tmp_path / "b.png")[0] == 0
    assert cache.stat().st_mtime_ns == stamp
    code, _, err = cli("sample", run, "--sampler", "gmm", "--class", "1", "-o", tmp_path / "c.png")
    assert code == 2 and "drop --class" in err


def test_gan_logs_the_class_histogram_of_its_samples(classifier_run, tmp_path):
    shutil.copytree(RunDirectory(classifier_run).model_dir, reference_classifier_dir("digits"))  # the reference classifier
    run = tmp_path / "cgan"
    genlab.train("cgan", "digits", epochs=2, run_dir=run, progress=False, overrides=[*QUICK, "model.width=8"])
    logged = [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "train"]
    assert all(len(r["class_histogram"]) == 10 for r in logged)
    last = logged[-1]
    assert sum(last["class_histogram"]) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= last["class_entropy"] <= last["class_entropy_max"] == pytest.approx(np.log(10), abs=1e-3)
    assert last["largest_class"] == pytest.approx(max(last["class_histogram"]))
