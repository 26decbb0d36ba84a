import math

import pytest
import torch

from genlab.training.config import TrainConfig
from genlab.training.optim import build_optimizer, build_scheduler, lr_factor


def test_schedules_follow_their_formulas():
    steps_per_epoch = 10
    cosine = lr_factor(TrainConfig(epochs=2, scheduler="cosine", warmup_steps=4), steps_per_epoch)
    assert [cosine(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert cosine(4 + 8) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cosine(19) == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 16)))
    linear = lr_factor(TrainConfig(epochs=2, scheduler="linear"), steps_per_epoch)
    assert linear(0) == 1.0 and linear(10) == pytest.approx(0.5)
    step = lr_factor(TrainConfig(epochs=5, scheduler="step", step_epochs=2, step_gamma=0.5), steps_per_epoch)
    assert [step(s) for s in (0, 19, 20, 40)] == [1.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_every_optimizer_minimises_a_quadratic(name):
    target = torch.tensor([3.0, -2.0])
    weight = torch.nn.Parameter(torch.zeros(2))
    config = TrainConfig(optimizer=name, lr=0.1, momentum=0.9, scheduler="cosine", epochs=1)
    optimizer = build_optimizer([weight], config, torch.device("cpu"))
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=300)
    for _ in range(300):
        optimizer.zero_grad()
        (weight - target).square().sum().backward()
        optimizer.step()
        scheduler.step()
    assert torch.allclose(weight.detach(), target, atol=0.05)
    assert optimizer.param_groups[0]["lr"] < 1e-3  # the cosine schedule has run down
    if name == "sgd":
        assert optimizer.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize("name, after_one_step", [("adam", 0.9), ("adamw", 1.0 - 0.1 * 0.01)])
def test_weight_decay_is_coupled_in_adam_and_decoupled_in_adamw(name, after_one_step):
    # with no loss gradient, Adam's decay is a gradient (a full step of lr); AdamW's shrinks the weight by lr * decay
    weight = torch.nn.Parameter(torch.ones(1))
    optimizer = build_optimizer([weight], TrainConfig(optimizer=name, lr=0.1, weight_decay=0.01), torch.device("cpu"))
    weight.grad = torch.zeros(1)
    optimizer.step()
    assert float(weight.detach()) == pytest.approx(after_one_step, abs=1e-4)
