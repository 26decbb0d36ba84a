import math

import pytest
import torch
from sklearn.decomposition import PCA
from torch import nn

import genlab
from genlab.errors import GenlabError
from genlab.models import GAN, VAE, create_model, list_models, load_model
from genlab.models.vae import gaussian_kl

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8), (2, 7, 9), (3, 64, 48), (1, 5, 5)]


def test_all_models_are_registered():
    assert set(list_models()) >= {"ae", "dae", "sparse-ae", "vae", "supervised-ae"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["ae", "vae"])
def test_conv_networks_round_trip_any_image_size(name, shape):
    model = create_model(name, data_shape=shape, arch="conv", latent_dim=5)
    x = torch.rand(3, *shape)
    assert model.encode(x).shape == (3, 5)
    assert model.reconstruct(x).shape == (3, *shape)
    assert model.sample(2).shape == (2, *shape)


@pytest.mark.parametrize("name", ["ae", "dae", "sparse-ae", "vae", "supervised-ae"])
def test_every_model_trains_on_vectors_and_images(name):
    for shape, value_range in (((11,), "real"), ((1, 8, 8), "unit")):
        model = create_model(name, data_shape=shape, value_range=value_range, num_classes=3, hidden=[16])
        x = torch.rand(4, *shape)
        losses = model(x, torch.tensor([0, 1, 2, 0]))
        assert losses["loss"].ndim == 0 and torch.isfinite(losses["loss"])
        losses["loss"].backward()
        assert all(p.grad is not None for p in model.parameter_groups()["model"])


def test_bad_model_settings_are_one_line_errors():
    with pytest.raises(GenlabError, match="arch conv needs images"):
        create_model("vae", data_shape=(10,), arch="conv")
    with pytest.raises(GenlabError, match="bernoulli needs data in"):
        create_model("vae", data_shape=(10,), value_range="real", likelihood="bernoulli")
    with pytest.raises(GenlabError, match="needs labels|learns from labels"):
        create_model("supervised-ae", data_shape=(10,))
    with pytest.raises(GenlabError, match="unknown vae setting 'latentdim'"):
        create_model("vae", latentdim=3)


def test_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    mu, logvar = torch.randn(2, 3), torch.randn(2, 3) * 0.5
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(200000, 2, 3)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_kl(mu, logvar), (log_q - log_p).mean(0), atol=0.02)


def linear_gaussian_vae(sigma=0.5):
    """A VAE whose decoder is linear with fixed Gaussian noise: p(x) = N(b, W W^T + sigma^2 I) exactly."""
    torch.manual_seed(0)
    model = create_model("vae", data_shape=(4,), value_range="real", latent_dim=2, hidden=[8],
                         likelihood="gaussian", variance="fixed", sigma=sigma)
    model.decoder = nn.Sequential(nn.Linear(2, 4), nn.Unflatten(1, (4,)))
    output_layer = model.encoder[1][-1]
    nn.init.zeros_(output_layer.weight)  # q(z|x) starts as the prior: a poor but well-behaved proposal
    with torch.no_grad():
        output_layer.bias.copy_(torch.tensor([0.3, -0.2, -0.5, -0.5]))  # shifted and narrowed a little
    return model.eval()


def test_importance_weighted_likelihood_converges_to_the_exact_marginal():
    model = linear_gaussian_vae()
    linear = model.decoder[0]
    covariance = linear.weight @ linear.weight.T + 0.25 * torch.eye(4)
    exact = torch.distributions.MultivariateNormal(linear.bias, covariance)
    x = exact.sample((6,)) + 0.3
    torch.manual_seed(1)
    estimate = model.log_likelihood(x, k=20000)
    assert torch.allclose(estimate, exact.log_prob(x), atol=0.05)
    draws = x.repeat(20000, 1)  # many independent single-sample estimates at once
    elbo = model.elbo(draws).reshape(20000, 6).mean(0)
    assert (elbo < exact.log_prob(x)).all()  # the ELBO is a lower bound
    one_sample = model.log_likelihood(draws, k=1).reshape(20000, 6).mean(0)
    assert torch.allclose(one_sample, elbo, atol=0.2)  # with k=1 the estimator is the ELBO


def test_kl_warmup_ramps_the_weight():
    model = create_model("vae", data_shape=(3,), value_range="real", beta=2.0, kl_warmup_steps=100)
    assert [model.kl_weight(s) for s in (0, 50, 100, 500)] == [0.0, 1.0, 2.0, 2.0]


@pytest.mark.parametrize("name", ["ae", "dae", "sparse-ae", "vae", "supervised-ae"])
def test_save_and_load_round_trip(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, data_shape=(1, 8, 8), arch="conv", num_classes=4, latent_dim=3,
                         preprocessing={"value_range": "unit", "scale": [0.0625], "shift": [0.0], "binarize": False}).eval()
    model(torch.rand(8, 1, 8, 8), torch.arange(8) % 4)  # move running statistics away from their start
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(loaded.encode(x), model.encode(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_damaged_weights_give_a_clear_error(tmp_path):
    model = create_model("vae", data_shape=(6,), value_range="real")
    model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(GenlabError, match="damaged or truncated"):
        load_model(tmp_path)
    create_model("vae", data_shape=(7,), value_range="real").save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "model.safetensors").replace(weights)
    with pytest.raises(GenlabError, match="does not fit the model"):
        load_model(tmp_path)


def test_a_model_class_loads_only_its_own_kind(tmp_path):
    create_model("vae", data_shape=(6,), value_range="real").save_pretrained(tmp_path / "vae")
    assert type(VAE.from_pretrained(tmp_path / "vae")) is VAE
    with pytest.raises(GenlabError, match="holds a VAE, not a GAN"):
        GAN.from_pretrained(tmp_path / "vae")


def test_vae_is_a_registered_latent_model():
    assert issubclass(VAE, nn.Module)
    assert math.isclose(VAE(VAE.config_class(data_shape=(3,), value_range="real")).kl_weight(0), 1.0)


def test_iwae_objective_tightens_towards_the_exact_marginal():
    model = linear_gaussian_vae()
    linear = model.decoder[0]
    with torch.no_grad():
        exact = torch.distributions.MultivariateNormal(linear.bias, linear.weight @ linear.weight.T + 0.25 * torch.eye(4))
        x = exact.sample((200,))
        exact_mean = float(exact.log_prob(x).mean())
    bounds = {}
    for k in (1, 10, 2000):
        model.config.iw_samples = k
        torch.manual_seed(0)
        losses = model(x) if k > 1 else None
        bounds[k] = float(-losses["neg_iw_bound"]) if k > 1 else float(model.elbo(x.repeat(50, 1)).mean())
    assert bounds[1] < bounds[10] < bounds[2000] <= exact_mean + 0.05  # more samples, tighter bound
    assert bounds[2000] == pytest.approx(exact_mean, abs=0.05)
    # the ELBO logged beside the bound is the plain ELBO, estimated from the same 2000 samples per point
    assert float(-losses["neg_elbo"]) == pytest.approx(bounds[1], abs=0.1)
    assert float(losses["reconstruction"] + losses["kl"]) == pytest.approx(float(losses["neg_elbo"]), abs=0.1)
    model.config.iw_samples = 10
    model.train()
    losses = model(x)
    losses["loss"].backward()  # the bound is differentiable end to end
    assert all(p.grad is not None for p in model.encoder.parameters())


@pytest.mark.parametrize("value_range, low, high", [("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0)])
def test_the_denoising_autoencoder_corrupts_within_the_data_range(value_range, low, high):
    torch.manual_seed(0)
    model = create_model("dae", data_shape=(1, 8, 8), value_range=value_range, noise="gaussian", noise_level=0.5)
    x = torch.rand(16, 1, 8, 8) * (high - low) + low
    noisy = model.corrupt(x)
    assert noisy.min() >= low and noisy.max() <= high and (noisy - x).abs().mean() > 0.1


def test_the_classifier_convolutions_before_batch_norm_carry_no_bias():
    # batch norm subtracts the mean right after: a bias there would be a parameter that never matters
    model = create_model("classifier", data_shape=(1, 28, 28), num_classes=10)
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convolutions and all(m.bias is None for m in convolutions)


def test_a_model_built_without_data_takes_its_inputs_as_they_are():
    model = create_model("ae", data_shape=(6,), value_range="real", latent_dim=2, hidden=[8])
    raw = torch.randn(5, 6)
    assert torch.equal(model.preprocess(raw).cpu(), raw) and torch.equal(torch.as_tensor(model.postprocess(raw)), raw)


def test_the_conditional_iw_bound_decodes_with_the_labels():
    torch.manual_seed(0)
    model = create_model("cvae", data_shape=(4,), value_range="real", num_classes=3, latent_dim=2, hidden=[8], iw_samples=5)
    x, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    seen = []
    decode = model.decoder_output
    model.decoder_output = lambda z, y=None: seen.append(y) or decode(z, y)
    losses = model(x, labels)
    assert torch.isfinite(losses["loss"]) and torch.equal(seen[-1], labels.repeat(5))  # k copies of each label


def test_linear_autoencoder_trains_from_the_principal_components(tmp_path):
    # PCA is the best linear autoencoder under squared error: after one epoch at a learning rate too
    # small to move it, the linear autoencoder must reconstruct held-out digits as well as PCA does.
    genlab.train("ae", "digits", epochs=1, run_dir=tmp_path / "linear", progress=False,
                 overrides=["model.arch=linear", "model.latent_dim=10", "model.reconstruction_loss=mse", "train.lr=1e-7",
                            "train.tensorboard=false"])
    model = genlab.load(tmp_path / "linear")
    data = genlab.data.load_dataset("digits")
    train, test = data.preprocessing(data.train.x).flatten(1), data.preprocessing(data.test.x)
    pca = PCA(10).fit(train.numpy())
    pca_error = float(((pca.inverse_transform(pca.transform(test.flatten(1).numpy())).clip(0, 1) - test.flatten(1).numpy()) ** 2).mean())
    model_error = float((model.reconstruct(test) - test).square().mean())
    assert model_error < 1.05 * pca_error
    assert torch.allclose(model.code_var, torch.from_numpy(pca.explained_variance_).float(), rtol=0.5)


def test_linear_autoencoder_refuses_more_codes_than_samples_allow():
    model = create_model("ae", data_shape=(6,), value_range="real", arch="linear", latent_dim=5, reconstruction_loss="mse")
    with pytest.raises(GenlabError, match="needs at least that many"):
        model.initialise_from_data(torch.rand(4, 6))


@pytest.mark.parametrize("name", list_models())
def test_capabilities_say_what_the_model_can_do(name):
    needs_labels = name in ("cvae", "cgan", "classifier", "supervised-ae")
    model = create_model(name, data_shape=(1, 8, 8), num_classes=10 if needs_labels else None)
    capabilities = model.capabilities
    assert capabilities.codes == (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None)))
    assert capabilities.samples == callable(getattr(model, "sample", None))
    assert capabilities.likelihood == callable(getattr(model, "log_likelihood", None))
    assert capabilities.predicts == callable(getattr(model, "predict", None))
    assert capabilities.conditional == (name in ("cvae", "cgan"))
    assert capabilities.denoiser == (name == "dae")
    assert capabilities.images  # (1, 8, 8) in [0, 1]
    if not capabilities.label_free_codes:
        with pytest.raises(GenlabError, match=f"a {name} model cannot denoise"):
            model.require("label_free_codes", "denoise")
