"""Run configuration: typed sections, YAML files and `key=value` overrides.

A run is described by four top-level keys:

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
import difflib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from genlab.errors import GenlabError

SECTIONS = ("seed", "model", "data", "train")


@dataclass
class DataConfig:
    """Where the data comes from and how it is turned into model inputs."""

    name: str = "digits"  # a named dataset (`genlab data list`), an array file or an image folder
    normalize: Literal["auto", "unit", "symmetric", "standardize", "none"] = "auto"
    binarize: Literal["none", "dynamic", "static"] = "none"
    val_fraction: float = 0.1  # of the training split, held out for validation
    test_fraction: float = 0.2  # only for data that has no test split of its own
    split_seed: int = 0  # fixed apart from the run seed, so every run sees the same splits
    label_column: str | None = None  # CSV column holding labels (default: label/target/class/y if present)
    image_size: list[int] | None = None  # [H, W] to resize an image folder to
    root: str | None = None  # dataset cache; default $GENLAB_DATA or ~/.cache/genlab

    def check(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise GenlabError(f"data.val_fraction must be in [0, 1) (got {self.val_fraction})")
        if not 0.0 < self.test_fraction < 1.0:
            raise GenlabError(f"data.test_fraction must be in (0, 1) (got {self.test_fraction})")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            raise GenlabError(f"data.image_size must be [height, width] (got {self.image_size})")


@dataclass
class TrainConfig:
    """How the Trainer optimises a model; shared by every model."""

    epochs: int = 10
    batch_size: int = 128  # per process
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # adam, adamw
    momentum: float = 0.9  # sgd
    weight_decay: float = 0.0
    scheduler: Literal["constant", "cosine", "linear", "step"] = "constant"
    warmup_steps: int = 0
    step_epochs: int = 10  # step scheduler: multiply the rate by step_gamma every step_epochs
    step_gamma: float = 0.1
    grad_clip: float | None = None  # max gradient norm per parameter group
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast where the hardware has it
    compile: bool = False  # torch.compile the model's training step
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    max_minutes: float | None = None  # stop when this much time has passed (checked every log_every steps)
    log_every: int = 50  # steps between metric lines
    checkpoint_every: int = 0  # steps between checkpoints (0: at epoch ends only)
    preview_samples: int = 64  # images in the per-epoch sample and reconstruction grids
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # progress bar on interactive terminals

    def check(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "log_every": self.log_every}
        for key, value in positive.items():
            if value <= 0:
                raise GenlabError(f"train.{key} must be positive (got {value})")
        if self.checkpoint_every < 0 or self.warmup_steps < 0:
            raise GenlabError("train.checkpoint_every and train.warmup_steps must be >= 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise GenlabError(f"train.betas must be two numbers in [0, 1) (got {self.betas})")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise GenlabError(f"train.max_minutes must be positive or null (got {self.max_minutes})")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise GenlabError(f"train.grad_clip must be positive or null (got {self.grad_clip})")
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise GenlabError(f"train.device must be auto, cpu, cuda, cuda:N or mps (got {self.device!r})")


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


def user_fields(config: Any) -> dict[str, Any]:
    """A config dataclass's settable fields (those not derived from the data)."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if not f.metadata.get("derived")
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
    from genlab.models import get_model_class

    tree = _read_config_file(config) if isinstance(config, (str, Path)) else _copy_tree(config or {})
    for section in tree:
        if section not in SECTIONS:
            raise GenlabError(_unknown_key_message(str(section), SECTIONS))
    if model is not None:
        _set_dotted(tree, "model.name", model)
    if data is not None:
        _set_dotted(tree, "data.name", data)
    if epochs is not None:
        _set_dotted(tree, "train.epochs", epochs)
    for key, value in _parse_overrides(overrides):
        _set_dotted(tree, key, value)

    model_tree = dict(tree.get("model") or {})
    model_name = model_tree.pop("name", None)
    if model_name is None:
        raise GenlabError("no model given: name one (genlab train vae ...) or set model.name in the config file")
    model_class = get_model_class(str(model_name))
    model_values = check_fields(model_class.config_class, model_tree, "model")
    data_config = build_dataclass(DataConfig, tree.get("data") or {}, "data")
    train_config = build_dataclass(TrainConfig, tree.get("train") or {}, "train")
    data_config.check()
    train_config.check()
    seed = _coerce(tree.get("seed", 0), int, "seed")
    return RunConfig(str(model_name), model_values, data_config, train_config, seed)


def run_config_from_dict(tree: Mapping[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from its YAML form (a run directory's config.yaml)."""
    return resolve_run_config(config=tree)


def build_dataclass(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """Instantiate a config dataclass from user values, checking keys and types."""
    return cls(**check_fields(cls, values, section))


def check_fields(cls: type, values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Check user values against a config dataclass's settable fields; return them coerced."""
    if not isinstance(values, Mapping):
        raise GenlabError(f"'{section}' must be a mapping of settings (got {type(values).__name__})")
    hints = get_type_hints(cls)
    settable = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived")]
    checked = {}
    for key, value in values.items():
        if key not in settable:
            raise GenlabError(_unknown_key_message(f"{section}.{key}", [f"{section}.{name}" for name in settable]))
        checked[key] = _coerce(value, hints[key], f"{section}.{key}")
    return checked


def dump_yaml(tree: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(tree), sort_keys=False, default_flow_style=None)


def _plain(value: Any) -> Any:
    """Tuples to lists, so that YAML stays readable and safe_load-able."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"config file '{path}' not found")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise GenlabError(f"config file '{path}' is not valid YAML{where}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise GenlabError(f"config file '{path}' must hold a mapping with model, data, train and seed keys")
    return tree


def _copy_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, Mapping) else value for key, value in tree.items()}


def _parse_overrides(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    parsed = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise GenlabError(f"override '{item}' must look like section.key=value (for example train.lr=3e-4)")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        parsed.append((key.strip(), value))
    return parsed


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise GenlabError(_unknown_key_message(dotted, SECTIONS))
    if section == "seed":
        if key:
            raise GenlabError(f"unknown config key '{dotted}': seed is a single number (seed=3)")
        tree["seed"] = value
        return
    if not key:
        raise GenlabError(f"override '{dotted}' needs a key inside the section, for example {section}.name")
    current = tree.get(section)
    if current is None:
        current = tree[section] = {}
    elif not isinstance(current, dict):
        raise GenlabError(f"'{section}' must be a mapping of settings (got {type(current).__name__})")
    current[key] = value


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
    return f"unknown config key '{key}' ({hint})"


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a type annotation, converting where YAML is ambiguous (1e-3 is a string)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except GenlabError:
                continue
        raise GenlabError(f"{key} must be {_describe(annotation)} (got {value!r})")
    if origin is Literal:
        if value in args:
            return value
        raise GenlabError(f"{key} must be one of {', '.join(map(str, args))} (got {value!r})")
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise GenlabError(f"{key} must be a list such as [1, 2] (got {value!r})")
        item_type = args[0] if args else Any
        return [_coerce(item, item_type, key) for item in value]
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise GenlabError(f"{key} must be a mapping (got {value!r})")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise GenlabError(f"{key} must be true or false (got {value!r})")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GenlabError(f"{key} must be a whole number (got {value!r})")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise GenlabError(f"{key} must be a number (got {value!r})")
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise GenlabError(f"{key} must be text (got {value!r})")
    return value


def _describe(annotation: Any) -> str:
    names = []
    for option in get_args(annotation):
        if option is type(None):
            names.append("null")
        elif get_origin(option) is Literal:
            names.append(" | ".join(map(str, get_args(option))))
        else:
            names.append(getattr(option, "__name__", str(option)))
    return " or ".join(names)
