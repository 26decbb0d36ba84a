import pytest
import yaml

from genlab.errors import GenlabError
from genlab.run_config import resolve_run_config
from genlab.settings import dump_yaml


def test_overrides_are_typed_and_applied_last(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("model: {name: vae, latent_dim: 4}\ntrain: {lr: 0.1, epochs: 3}\n")
    config = resolve_run_config(
        config=config_file, epochs=7, overrides=["train.lr=3e-4", "model.hidden=[64, 32]", "seed=5", "train.grad_clip=null"]
    )
    assert config.model_name == "vae"
    assert config.model == {"latent_dim": 4, "hidden": [64, 32]}
    assert config.train.epochs == 7  # explicit argument beats the file
    assert config.train.lr == pytest.approx(3e-4)  # YAML reads 3e-4 as text; the field's type makes it a number
    assert config.train.grad_clip is None
    assert config.seed == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.lrr=0.1"], "did you mean 'train.lr'"),
        (["model.latnt_dim=3"], "did you mean 'model.latent_dim'"),
        (["optim.lr=0.1"], "unknown config key 'optim.lr'"),
        (["train.epochs=many"], "train.epochs must be a whole number"),
        (["train.optimizer=adm"], "train.optimizer must be one of adam, adamw, sgd"),
        (["train.epochs=0"], "train.epochs must be positive"),
        (["data.val_fraction=1.5"], "data.val_fraction must be in [0, 1)"),
        (["train.lr"], "must look like section.key=value"),
    ],
)
def test_bad_settings_name_the_key(overrides, message):
    with pytest.raises(GenlabError, match=None) as caught:
        resolve_run_config(model="ae", overrides=overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(GenlabError) as caught:
        resolve_run_config(model="vea")
    assert "unknown model 'vea'" in str(caught.value) and "vae" in str(caught.value)


def test_dumped_config_resolves_to_the_same_settings():
    config = resolve_run_config(model="dae", data="digits", overrides=["model.noise=masking", "train.betas=[0.5, 0.9]"])
    again = resolve_run_config(config=yaml.safe_load(dump_yaml(config.to_dict())))
    assert again == config


def test_config_file_errors(tmp_path):
    with pytest.raises(GenlabError, match="not found"):
        resolve_run_config(config=tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(GenlabError, match="not valid YAML"):
        resolve_run_config(config=broken)
