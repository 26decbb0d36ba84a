"""A run's configuration: the seed and the model, data and train sections, resolved and checked.

    seed: 0
    model: {name: vae, latent_dim: 32, ...}   # fields of the model's config dataclass
    data:  {name: digits, normalize: auto, ...}
    train: {epochs: 10, batch_size: 128, ...}

`resolve_run_config` merges, in this order, the defaults, a YAML file, explicit
arguments (model, data, epochs) and `--set section.key=value` overrides, and rejects
unknown keys and ill-typed values with one-line errors that say what is allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.data.config import DataConfig, check_seed
from genlab.errors import GenlabError
from genlab.models.base import get_model_class
from genlab.settings import (
    SECTIONS,
    build_dataclass,
    check_fields,
    check_size,
    coerce,
    copy_tree,
    parse_overrides,
    read_config_file,
    set_dotted,
    shown,
    unknown_key_message,
    user_fields,
)
from genlab.training.config import TrainConfig


@dataclass
class RunConfig:
    """Everything needed to reproduce a training run."""

    model_name: str
    model: dict[str, Any]  # the user's model settings; the model's config class fills the rest
    data: DataConfig
    train: TrainConfig
    seed: int = 0

    def to_dict(self, model_config: Any | None = None) -> dict[str, Any]:
        """The YAML form; with `model_config`, every model field is written out resolved."""
        if model_config is not None:
            model = {"name": self.model_name, **user_fields(model_config)}
        else:
            model = {"name": self.model_name, **self.model}
        return {
            "seed": self.seed,
            "model": model,
            "data": dataclasses.asdict(self.data),
            "train": dataclasses.asdict(self.train),
        }


def resolve_run_config(
    *,
    model: str | None = None,
    data: str | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    epochs: int | None = None,
) -> RunConfig:
    """Merge defaults, a config file, explicit arguments and overrides into a checked RunConfig."""
    if isinstance(config, (str, Path)):
        tree = read_config_file(config)
    elif config is None or isinstance(config, Mapping):
        check_size(config)
        tree = copy_tree(config or {})
    else:
        raise GenlabError(f"config must be a YAML file or a dict of sections (got a {type(config).__name__})")
    for section in tree:
        if section not in SECTIONS:
            raise GenlabError(unknown_key_message(shown(section), SECTIONS))
    if model is not None:
        set_dotted(tree, "model.name", model)
    if data is not None:
        set_dotted(tree, "data.name", data)
    if epochs is not None:
        set_dotted(tree, "train.epochs", epochs)
    for key, value in parse_overrides(overrides):
        set_dotted(tree, key, value)

    for section in ("model", "data", "train"):
        if tree.get(section) is not None and not isinstance(tree[section], Mapping):
            raise GenlabError(f"'{section}' must be a mapping of settings (got {shown(repr(tree[section]))})")
    model_tree = dict(tree.get("model") or {})
    model_name = model_tree.pop("name", None)
    if model_name is None:
        raise GenlabError("no model given: name one (genlab train vae ...) or set model.name in the config file")
    if not isinstance(model_name, str):
        raise GenlabError(f"model.name must be a model's name such as vae (got {shown(repr(model_name))})")
    try:
        model_class = get_model_class(model_name)
    except GenlabError as error:
        raise GenlabError(shown(error, 300)) from None  # the name is the user's text
    model_values = check_fields(model_class.config_class, model_tree, "model")
    data_config = build_dataclass(DataConfig, tree.get("data") or {}, "data")
    train_config = build_dataclass(TrainConfig, tree.get("train") or {}, "train")
    data_config.check()
    train_config.check()
    seed = check_seed(coerce(tree.get("seed", 0), int, "seed"), "seed")
    return RunConfig(model_name, model_values, data_config, train_config, seed)


def run_config_from_dict(tree: Mapping[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from its YAML form (a run directory's config.yaml)."""
    return resolve_run_config(config=tree)


