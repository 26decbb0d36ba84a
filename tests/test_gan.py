"""GANs: the losses against hand-computed values, the stability kit, EMA across resume."""

import json
import math

import pytest
import torch
from conftest import QUICK
from safetensors.torch import load_file
from torch import nn

import genlab
from genlab.errors import GenlabError
from genlab.models import create_model
from genlab.models.gan import discriminator_loss, generator_loss
from genlab.training.checkpoint import load_checkpoint


def softplus(v):
    return math.log1p(math.exp(v))


class TinyDiscriminator(nn.Module):
    """D(x) = sigmoid(2x + 0.5) as a logit: 2.5 for x = 1, -1.5 for x = -1."""

    def forward(self, x, labels=None):
        return (2 * x + 0.5).flatten(1).sum(1)


class ConstantGenerator(nn.Module):
    """G(z) = -1 for every z."""

    def forward(self, z, labels=None):
        return -torch.ones(len(z), 1)


def tiny_gan(loss):
    model = create_model("gan", data_shape=(1,), value_range="symmetric", loss=loss, hidden=[4], ema_decay=0.0)
    model.generator, model.discriminator = ConstantGenerator(), TinyDiscriminator()
    return model


def test_minimax_losses_match_the_original_game():
    model = tiny_gan("minimax")
    real = torch.ones(3, 1)
    d_loss = model(real, group="discriminator")["loss"]
    # D maximises log D(x) + log(1 - D(G(z))): its loss is -log sigmoid(2.5) - log(1 - sigmoid(-1.5))
    expected_d = -math.log(1 / (1 + math.exp(-2.5))) - math.log(1 - 1 / (1 + math.exp(1.5)))
    assert d_loss.item() == pytest.approx(expected_d, rel=1e-6)
    assert expected_d == pytest.approx(softplus(-2.5) + softplus(-1.5))
    # G minimises log(1 - D(G(z))) = log(1 - sigmoid(-1.5))
    assert model(real, group="generator")["loss"].item() == pytest.approx(math.log(1 - 1 / (1 + math.exp(1.5))), rel=1e-6)


def test_non_saturating_generator_loss_and_gradients():
    model = tiny_gan("non-saturating")
    assert model(torch.ones(2, 1), group="generator")["loss"].item() == pytest.approx(-math.log(1 / (1 + math.exp(1.5))))
    # when D confidently rejects the fakes (f = -5), the minimax generator's gradient vanishes, the NS one does not
    fake = torch.tensor([-5.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(generator_loss("minimax", fake), fake)
    (ns_grad,) = torch.autograd.grad(generator_loss("non-saturating", fake), fake)
    assert abs(minimax_grad.item()) == pytest.approx(1 / (1 + math.exp(5)), rel=1e-5)  # sigmoid(-5) = 0.0067
    assert abs(ns_grad.item()) == pytest.approx(1 / (1 + math.exp(-5)), rel=1e-5)  # sigmoid(5) = 0.9933


def test_other_losses_by_hand():
    real, fake = torch.tensor([2.5]), torch.tensor([-1.5])
    assert discriminator_loss("least-squares", real, fake).item() == pytest.approx(0.5 * (1.5**2 + 1.5**2))
    assert generator_loss("least-squares", fake).item() == pytest.approx(0.5 * 2.5**2)
    assert discriminator_loss("hinge", real, fake).item() == pytest.approx(0.0)  # both beyond the margin
    assert discriminator_loss("hinge", torch.tensor([0.5]), torch.tensor([0.5])).item() == pytest.approx(0.5 + 1.5)
    assert discriminator_loss("wasserstein-gp", real, fake).item() == pytest.approx(-4.0)
    assert generator_loss("hinge", fake).item() == pytest.approx(1.5)


class LinearCritic(nn.Module):
    def __init__(self, slope):
        super().__init__()
        self.slope = slope

    def forward(self, x, labels=None):
        return self.slope * x.flatten(1).sum(1)


def test_gradient_penalty_is_zero_for_a_unit_slope_critic():
    model = tiny_gan("wasserstein-gp")
    model.discriminator = LinearCritic(1.0)
    assert model.gradient_penalty(torch.ones(4, 1), -torch.ones(4, 1), None).item() == pytest.approx(0.0)
    model.discriminator = LinearCritic(3.0)
    assert model.gradient_penalty(torch.ones(4, 1), -torch.ones(4, 1), None).item() == pytest.approx(4.0)  # (3 - 1)^2


@pytest.mark.parametrize("loss", ["minimax", "non-saturating", "least-squares", "hinge", "wasserstein-gp"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (6,)])
def test_every_loss_runs_on_images_and_vectors(loss, shape):
    model = create_model("gan", data_shape=shape, value_range="symmetric" if len(shape) == 3 else "real", loss=loss,
                         width=8, hidden=[16], r1_weight=1.0, augment=["color", "translation", "cutout"] if len(shape) == 3 else [])
    x = torch.rand(4, *shape) * 2 - 1
    for group in ("discriminator", "generator"):
        losses = model(x, group=group)
        assert torch.isfinite(losses["loss"])
        losses["loss"].backward()
    assert model.sample(3).shape == (3, *shape)
    assert all(p.grad is not None for p in model.generator.parameters())


def test_wgan_updates_the_generator_every_n_critic_steps():
    model = create_model("gan", data_shape=(4,), value_range="real", loss="wasserstein-gp")
    schedule = [model.groups_to_update(step) for step in range(10)]
    assert sum("generator" in groups for groups in schedule) == 2 and all("discriminator" in g for g in schedule)
    with pytest.raises(GenlabError, match="gradient penalty is per sample"):
        create_model("gan", data_shape=(4,), loss="wasserstein-gp", d_norm="batch")


def test_wgan_trains_and_logs_generator_losses_averaged_over_its_own_steps(tmp_path):
    # Critic-only steps carry no generator losses; the logged mean must cover the steps that have them.
    genlab.train("gan", "digits", epochs=1, run_dir=tmp_path / "w", progress=False,
                 overrides=[*QUICK, "model.loss=wasserstein-gp", "model.width=8", "train.log_every=7"])
    rows = [json.loads(line) for line in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [row for row in rows if row["split"] == "train"]
    assert train_rows and all("generator/loss" in row and "discriminator/loss" in row for row in train_rows)
    assert all(math.isfinite(row["generator/loss"]) and row["generator/loss"] != 0.0 for row in train_rows)


def test_spectral_norm_gets_the_betas_it_trains_with():
    hinge = create_model("gan", data_shape=(4,), value_range="real", loss="hinge").config
    assert hinge.spectral_norm and hinge.betas == [0.0, 0.9]
    plain = create_model("gan", data_shape=(4,), value_range="real", loss="hinge", spectral_norm=False).config
    assert plain.betas == [0.5, 0.999]
    assert create_model("gan", data_shape=(4,), value_range="real", loss="hinge", betas=[0.5, 0.99]).config.betas == [0.5, 0.99]


def test_ttur_learning_rates_reach_the_optimizers(tmp_path):
    genlab.train("gan", "digits", epochs=1, run_dir=tmp_path / "g", progress=False,
                 overrides=[*QUICK, "model.lr_generator=1e-4", "model.lr_discriminator=4e-4", "model.width=8"])
    state = load_checkpoint(tmp_path / "g" / "checkpoints" / "last.pt")
    assert state["optimizers"]["generator"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert state["optimizers"]["discriminator"]["param_groups"][0]["lr"] == pytest.approx(4e-4)
    assert state["optimizers"]["generator"]["param_groups"][0]["betas"] == (0.5, 0.999)


def test_ema_is_checkpointed_and_restored_on_resume(tmp_path):
    overrides = [*QUICK, "model.width=8", "model.ema_decay=0.9"]
    genlab.train("gan", "digits", epochs=2, run_dir=tmp_path / "straight", overrides=overrides, progress=False)
    genlab.train("gan", "digits", epochs=1, run_dir=tmp_path / "resumed", overrides=overrides, progress=False)
    state = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    ema_keys = [key for key in state["model"] if key.startswith("generator_ema.")]
    assert ema_keys and not torch.equal(state["model"][ema_keys[0]], state["model"][ema_keys[0].replace("_ema", "")])
    genlab.train(run_dir=tmp_path / "resumed", resume=True, epochs=2, progress=False)
    straight = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    for key in ema_keys:
        assert torch.equal(straight[key], resumed[key]), key


def test_the_ema_warm_up_counts_updates_exactly_in_long_runs():
    model = create_model("gan", data_shape=(2,), value_range="real", hidden=[4], ema_decay=0.999)
    model.ema_updates.fill_(2**24)  # past the integers a float32 counts exactly
    model.after_update("generator")
    model.after_update("discriminator")  # only generator updates count
    assert int(model.ema_updates) == 2**24 + 1


def test_unconditional_models_refuse_a_class():
    model = create_model("gan", data_shape=(4,), value_range="real")
    with pytest.raises(GenlabError, match="not conditional"):
        model.sample(2, labels=torch.tensor([1, 1]))


def test_colour_augmentation_shifts_brightness_and_scales_contrast_about_the_image_mean():
    from genlab.models.augment import random_color

    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8) * 0.2 + 0.7  # bright images of data in [-1, 1]
    out = random_color(x)
    centred = lambda t: t - t.mean(dim=(1, 2, 3), keepdim=True)  # noqa: E731
    shift = out.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3))
    scale = centred(out).flatten(1).norm(dim=1) / centred(x).flatten(1).norm(dim=1)
    assert shift.abs().max() <= 0.5 + 1e-5  # brightness moves the mean by at most 0.5; contrast keeps it
    assert scale.min() >= 0.5 - 1e-4 and scale.max() <= 1.5 + 1e-4 and scale.std() > 0.1  # one draw per image
    assert torch.allclose(centred(out), centred(x) * scale.view(-1, 1, 1, 1), atol=1e-5)


def test_cutout_in_the_policy_zeroes_one_square_of_half_the_side_per_image():
    from genlab.models.augment import diff_augment

    torch.manual_seed(0)
    out = diff_augment(torch.ones(32, 1, 16, 16), ["cutout"])
    for image in out[:, 0]:
        rows, cols = torch.nonzero(image == 0, as_tuple=True)
        assert len(rows) == 64 and rows.max() - rows.min() == 7 and cols.max() - cols.min() == 7
    corners = torch.stack([torch.nonzero(image == 0)[0] for image in out[:, 0]])
    assert len({tuple(c.tolist()) for c in corners}) > 10  # placed at random


def test_the_wasserstein_critic_loss_adds_the_gradient_penalty_with_its_weight():
    torch.manual_seed(0)
    model = create_model("gan", data_shape=(1, 8, 8), loss="wasserstein-gp", gp_weight=10.0, width=8)
    losses = model(torch.rand(16, 1, 8, 8) * 2 - 1, group="discriminator")
    assert float(losses["gradient_penalty"]) > 0.01
    expected = losses["d_fake"] - losses["d_real"] + 10.0 * losses["gradient_penalty"]  # E[D(fake)] - E[D(real)] + w GP
    assert float(losses["loss"].detach()) == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
