"""genlab eval: reconstruction, probe and likelihood metrics on known answers, and the command end to end."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import QUICK
from test_models import linear_gaussian_vae

from genlab.errors import GenlabError
from genlab.eval.likelihood import likelihood_metrics
from genlab.eval.probes import KNN_NEIGHBOURS, probe_accuracy
from genlab.eval.reconstruction import psnr, ssim
from genlab.models.base import weights_sha256
from genlab.models.reference import reference_classifier_dir

QUICK_SET = [arg for setting in QUICK for arg in ("--set", setting)]


def test_psnr_of_a_known_error_and_ssim_of_identical_images():
    images = torch.rand(5, 1, 28, 28) * 0.8
    assert psnr(images, images + 0.1).tolist() == pytest.approx([20.0] * 5)  # MSE 0.01 with peak 1
    assert ssim(images, images).tolist() == pytest.approx([1.0] * 5)
    noisy = (images + 0.2 * torch.randn_like(images)).clamp(0, 1)
    assert (ssim(images, noisy) < 0.9).all()


def test_probes_separate_separable_codes_and_not_random_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    codes = rng.normal(size=(400, 3)) + 6.0 * labels[:, None]  # two far-apart clusters
    assert probe_accuracy(codes[:300], labels[:300], codes[300:], labels[300:]) == {"logistic": 1.0, "knn": 1.0}
    shuffled = rng.permutation(labels)
    scores = probe_accuracy(codes[:300], shuffled[:300], codes[300:], shuffled[300:])
    assert max(scores.values()) < 0.75


def test_bits_per_dim_are_measured_in_stored_units():
    # the model sees x = 2 * stored, so log p(stored) = log p(x) + D log 2 exactly
    model = linear_gaussian_vae()
    model.config.preprocessing = {"value_range": "real", "scale": [2.0], "shift": [0.0], "binarize": False}
    linear = model.decoder[0]
    with torch.no_grad():
        exact = torch.distributions.MultivariateNormal(linear.bias, linear.weight @ linear.weight.T + 0.25 * torch.eye(4))
        x = exact.sample((50,))
    result = likelihood_metrics(model, x, k=5000, progress=False)
    with torch.no_grad():
        exact_nll = float(-exact.log_prob(x).mean())
    assert result["nll"] == pytest.approx(exact_nll, abs=0.05)
    assert result["bits_per_dim"] == pytest.approx((exact_nll - 4 * math.log(2)) / (4 * math.log(2)), abs=0.02)
    assert result["nll"] < -result["elbo"]  # the k=5000 bound is tighter than the ELBO


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """A reference classifier for digits, a small VAE, an AE, a GAN and a cVAE, all trained on digits."""
    from genlab.cli import main

    root = tmp_path_factory.mktemp("eval")
    data_root = root / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENLAB_DATA", str(data_root))
        assert main(["eval", "--prepare-features", "digits", "--quiet"]) == 0
        runs = {}
        for name, epochs in (("vae", 15), ("ae", 3), ("gan", 2), ("cvae", 2)):
            runs[name] = root / name
            assert main(["train", name, "--data", "digits", "--epochs", str(epochs), "--run-dir", str(runs[name]),
                         "--quiet", *QUICK_SET]) == 0
    return data_root, runs


def test_eval_writes_every_applicable_group_with_its_protocol(digits_runs, tmp_path, cli, monkeypatch):
    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    output = tmp_path / "vae.json"
    code, out, err = cli("eval", runs["vae"], "--samples", "400", "--k", "50", "--bootstrap", "20", "-o", output, "--quiet")
    assert code == 0, err
    results = json.loads(output.read_text())
    metrics, protocol = results["metrics"], results["protocol"]
    assert set(metrics) == {"likelihood", "reconstruction", "quality", "diversity", "representation"}
    assert protocol["feature_space"] == {"name": "genlab reference classifier", "dataset": "digits", "layer": "penultimate",
                                         "sha256": weights_sha256(reference_classifier_dir("digits", data_root)),
                                         "dimensions": protocol["feature_space"]["dimensions"]}
    assert protocol["feature_space"]["dimensions"] > 8
    assert protocol["likelihood"]["k"] == 50 and protocol["generation"]["samples"] == 400
    assert protocol["representation"]["knn_neighbours"] == KNN_NEIGHBOURS  # the record names what the probe used
    assert {"torch", "machine", "split", "examples", "seed", "model_sha256"} <= set(protocol)
    assert set(protocol["machine"]) == {"platform", "processor", "cpus", "torch_threads", "cuda"}
    assert metrics["likelihood"]["nll"] < -metrics["likelihood"]["elbo"]
    quality = metrics["quality"]
    assert quality["fid_interval"][0] <= quality["fid"] <= quality["fid_interval"][1]
    assert 0 <= quality["precision"] <= 1 and 1 <= quality["classifier_score"] <= 10
    # a trained model's codes carry the labels: the probe beats chance by far
    assert metrics["representation"]["code"]["logistic"] > 0.5
    assert "fid" in out and "likelihood" in out  # the readable table


def test_a_better_generator_scores_a_lower_fid(digits_runs, cli, monkeypatch, tmp_path):
    """The 15-epoch VAE against a 2-epoch GAN: the Fréchet distance must rank them."""
    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    scores = {}
    for name in ("vae", "gan"):
        output = tmp_path / f"{name}.json"
        code, _, err = cli("eval", runs[name], "--metrics", "quality", "--samples", "400", "--bootstrap", "0",
                           "-o", output, "--quiet")
        assert code == 0, err
        scores[name] = json.loads(output.read_text())["metrics"]["quality"]["fid"]
    assert scores["vae"] < scores["gan"]


def test_reference_classifier_is_itself_an_evaluable_run(digits_runs, cli, monkeypatch):
    data_root, _ = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    code, out, err = cli("eval", reference_classifier_dir("digits", data_root), "--quiet")
    assert code == 0, err
    accuracy = float(out.split("accuracy")[1].split()[0])
    assert accuracy > 0.9


def test_gmm_sampler_and_bad_requests(digits_runs, cli, monkeypatch, tmp_path):
    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    code, out, err = cli("eval", runs["ae"], "--metrics", "quality", "--sampler", "gmm", "--samples", "300",
                         "--bootstrap", "0", "--quiet")
    assert code == 0, err
    assert (runs["ae"] / "samplers" / "gmm-10.npz").is_file()

    output = tmp_path / "never.json"
    for args, message in (
        (["--metrics", "likelihood"], "does not apply to a ae model"),
        (["--metrics", "beauty"], "unknown metric group 'beauty'"),
        (["--samples", "1"], "(--samples) must be from 2"),
    ):
        code, _, err = cli("eval", runs["ae"], *args, "-o", output, "--quiet")
        assert code == 2 and err.startswith("error:") and message in err and err.count("\n") == 1
    assert not output.exists()
    code, _, err = cli("eval", "--quiet")
    assert code == 2 and "name the run" in err


def test_conditional_models_are_evaluated_with_their_labels(digits_runs, cli, monkeypatch):
    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    code, out, err = cli("eval", runs["cvae"], "--samples", "300", "--k", "10", "--bootstrap", "0", "--quiet")
    assert code == 0, err
    for group in ("likelihood", "reconstruction", "quality", "diversity", "representation"):
        assert f"  {group}" in out


def test_inception_has_the_published_architecture_and_reads_a_weights_file(tmp_path):
    from genlab.errors import GenlabError
    from genlab.eval.inception import InceptionFeatures, inception_features, load_inception

    network = InceptionFeatures(classes=1000)
    # torchvision documents 27,161,264 parameters for Inception-v3 with its auxiliary head
    # (3,326,696) and 1000-class layer (2,049,000): the feature part must have the rest
    features_part = sum(p.numel() for name, p in network.named_parameters() if not name.startswith("fc."))
    assert features_part == 27_161_264 - 3_326_696 - 2_049_000
    torch.manual_seed(0)
    fid_file = InceptionFeatures(classes=1008)
    state = fid_file.state_dict()
    state["AuxLogits.fc.weight"] = torch.zeros(3)  # files carrying the auxiliary head are accepted
    torch.save(state, tmp_path / "pt_inception.pth")
    loaded = load_inception(tmp_path / "pt_inception.pth")
    images = torch.rand(3, 1, 28, 28)
    assert torch.allclose(inception_features(loaded, images), inception_features(fid_file.eval(), images))
    assert inception_features(loaded, images).shape == (3, 2048)

    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(GenlabError, match="missing Mixed_7c.branch_pool.conv.weight"):
        load_inception(tmp_path / "broken.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a weights file")
    with pytest.raises(GenlabError, match="not a readable PyTorch weights file"):
        load_inception(tmp_path / "junk.pth")


def test_eval_adds_the_inception_space_when_given_weights(digits_runs, cli, monkeypatch, tmp_path):
    from genlab.eval.inception import InceptionFeatures

    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    torch.manual_seed(0)
    weights = tmp_path / "pt_inception.pth"
    torch.save(InceptionFeatures(classes=1008).state_dict(), weights)
    output = tmp_path / "inception.json"
    code, _, err = cli("eval", runs["vae"], "--metrics", "quality", "--samples", "24", "--limit", "24",
                       "--bootstrap", "0", "--inception-weights", weights, "-o", output, "--quiet")
    assert code == 0, err
    results = json.loads(output.read_text())
    assert results["metrics"]["quality_inception"]["fid"] > 0
    assert len(results["protocol"]["inception"]["sha256"]) == 64
    code, _, err = cli("eval", runs["vae"], "--metrics", "likelihood", "--inception-weights", weights, "--quiet")
    assert code == 2 and "include it in --metrics" in err


def test_default_groups_skip_diversity_without_a_reference_classifier(digits_runs, cli, tmp_path, monkeypatch):
    _, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "empty-cache"))  # no classifier for digits here
    code, out, err = cli("eval", runs["ae"], "--samples", "100", "--bootstrap", "0", "--quiet", "-o", tmp_path / "a.json")
    assert code == 0, err
    assert "skipped diversity" in out and "diversity" not in json.loads((tmp_path / "a.json").read_text())["metrics"]
    assert (runs["ae"] / "eval.json").is_file()  # the run keeps its latest results for reports
    code, _, err = cli("eval", runs["ae"], "--metrics", "diversity", "--quiet", "-o", tmp_path / "b.json")
    assert code == 2 and "reference classifier" in err and not (tmp_path / "b.json").exists()


def test_a_registered_metric_group_is_offered_to_the_models_it_applies_to(digits_runs, monkeypatch):
    import genlab.eval.runner  # noqa: F401  (registers the built-in groups)
    from genlab.eval import registry

    calls = []

    def compute(context):
        calls.append(context.model.model_name)
        return {"code_norm": float(context.model.encode(context.inputs[0][:10]).detach().norm(dim=1).mean())}

    group = registry.MetricGroup("code_norm", "mean norm of codes", lambda model: model.capabilities.codes, compute,
                                 lambda context: {"examples": 10})
    monkeypatch.setitem(registry.GROUPS, "code_norm", group)
    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    assert "code_norm" in registry.applicable_metrics(genlab.load(runs["vae"]))
    assert "code_norm" not in registry.applicable_metrics(genlab.load(runs["gan"]))
    results = genlab.evaluate(runs["vae"], ["code_norm"], progress=False)
    assert calls == ["vae"] and results["metrics"]["code_norm"]["code_norm"] > 0
    assert results["protocol"]["code_norm"] == {"examples": 10}
    with pytest.raises(GenlabError, match="does not apply to a gan"):
        genlab.evaluate(runs["gan"], ["code_norm"], progress=False)


def test_metric_groups_come_in_the_documented_order():
    from genlab.eval.runner import METRIC_GROUPS

    assert METRIC_GROUPS == ("likelihood", "reconstruction", "quality", "diversity", "representation", "classification")


def test_throughput_is_the_median_of_its_recorded_repeats(digits_runs, monkeypatch):
    import statistics

    from genlab.eval.throughput import measure_throughput

    data_root, runs = digits_runs
    monkeypatch.setenv("GENLAB_DATA", str(data_root))
    measured = measure_throughput([runs["vae"]], steps=2, batch_size=16, samples=16, repeats=3)[str(runs["vae"])]
    assert [len(v) for v in measured["repeats"].values()] == [3, 3]
    for key in ("train_images_per_s", "samples_per_s"):
        assert measured[key] == statistics.median(measured["repeats"][key]) > 0
