"""The model contract, the registry of model names, and the on-disk format.

A genlab model is an `nn.Module` with a dataclass config. It owns its objective:
it names its parameter groups (one for an autoencoder; a discriminator and a
generator for a GAN) and `forward` returns the named losses for one group, with
"loss" being what that group's optimizer minimises. The Trainer treats every model
the same way through this contract and never asks which model it holds.

A model also states what it can do (`capabilities`): callers such as the applications,
evaluation, reports and the explorer ask it, instead of testing its class or its name.

On disk a model is a folder with `config.json` (class, genlab version, every config
field) and `model.safetensors` (weights); nothing is pickled. The weights file records the
SHA-256 of its tensor data in its own header (metadata "genlab_sha256"), checked on every
load, so a flipped bit is refused instead of used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from genlab.bounds import check_whole
from genlab.data.preprocessing import check_preprocessing
from genlab.data.spectrogram import check_front_end
from genlab.errors import GenlabError
from genlab.files import file_sha256, write_bytes_atomic, write_text_atomic
from genlab.models import units
from genlab.models.capabilities import Capabilities, require
from genlab.resources import check_fits
from genlab.settings import coerce
from genlab.version import __version__

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
DIGEST_KEY = "genlab_sha256"  # safetensors metadata: SHA-256 of the file's tensor data
MAX_HEADER_BYTES = 100 << 20  # the safetensors library's own bound on a header


def derived(default: Any) -> Any:
    """A config field filled in from the data, not set by the user."""
    return field(default=default, metadata={"derived": True})


@dataclass
class ModelConfig:
    data_shape: tuple[int, ...] = derived((1, 28, 28))  # one sample: (C, H, W) or (D,)
    num_classes: int | None = derived(None)
    class_names: list[str] | None = derived(None)  # the name of each class index, when the labels had names
    value_range: str = derived("unit")  # model inputs live in: unit [0, 1], symmetric [-1, 1], real
    preprocessing: dict | None = derived(None)  # how raw data becomes inputs (genlab.data.Preprocessing)
    dataset: str | None = derived(None)  # the name or path of the training data
    table: dict | None = derived(None)  # a mixed-type table's column encoding (genlab.data.tables.TableEncoding)
    audio: dict | None = derived(None)  # spectrograms of audio: the front end's settings (genlab.data.spectrogram)
    networks: dict | None = derived(None)  # user networks by role: {"encoder": {"class": ..., "config": ...}}

    def __post_init__(self) -> None:
        self.data_shape = tuple(int(d) for d in self.data_shape)

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3


_REGISTRY: dict[str, type[GenerativeModel]] = {}


def register_model(name: str):
    """Class decorator: make a model available by name to create_model, the CLI and loading."""

    def decorator(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.model_name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def get_model_class(name: str) -> type[GenerativeModel]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise GenlabError(f"unknown model '{name}' (available: {', '.join(sorted(_REGISTRY))})") from None


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, **config: Any) -> GenerativeModel:
    """Build a registered model, e.g. create_model("vae", data_shape=(1, 28, 28), latent_dim=16)."""
    cls = get_model_class(name)
    known = {f.name for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise GenlabError(f"unknown {name} setting '{unknown[0]}' (settings: {', '.join(sorted(known))})")
    return cls(cls.config_class(**config))


class GenerativeModel(nn.Module):
    """Base class of every genlab model."""

    model_name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    requires_labels: ClassVar[bool] = False  # trained on (x, y) pairs
    prefers_bf16: ClassVar[bool] = False  # precision "auto" may use bf16 on CPUs that compute it natively
    image_range: ClassVar[str] = "unit"  # what data.normalize=auto scales images to: unit [0, 1] or symmetric [-1, 1]
    # what the class can do; `capabilities` adds what depends on the config (labels, images)
    has_codes: ClassVar[bool] = False
    generates: ClassVar[bool] = False
    has_likelihood: ClassVar[bool] = False
    predicts: ClassVar[bool] = False
    removes_noise: ClassVar[bool] = False

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        if self.requires_labels and not config.num_classes:
            raise GenlabError(f"{self.model_name} learns from labels, and this data has none; use labelled data")

    # ---- training contract -------------------------------------------------------------

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by optimizer group; each group gets its own optimizer."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def groups_to_update(self, step: int) -> Sequence[str]:
        """Which groups take an optimizer step at this training step, in order."""
        return ("model",)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, *, group: str = "model", step: int = 0):
        """Losses for `group` on a batch: a dict of scalar tensors, "loss" being minimised."""
        raise NotImplementedError

    def optimizer_settings(self, group: str) -> dict:
        """Per-group changes to the train config's optimizer settings, e.g. {"lr": 4e-4} (TTUR)."""
        return {}

    def initialise_from_data(self, x: torch.Tensor) -> None:
        """A data-dependent start, called once by the Trainer before the first step of a new run.

        `x` is up to `INIT_SAMPLES` training inputs, already preprocessed and on the model's
        device. The default does nothing; the linear autoencoder starts at the data's
        principal components.
        """

    @property
    def starts_from_data(self) -> bool:
        """Whether this class overrides initialise_from_data: the Trainer prepares its inputs only then."""
        return type(self).initialise_from_data is not GenerativeModel.initialise_from_data

    def after_update(self, group: str) -> None:
        """Called after `group`'s optimizer step (for running averages such as EMA)."""

    @torch.no_grad()
    def validation_metrics(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Batch-mean metrics on held-out data; by default the training losses."""
        return self(x, y, group=self.groups_to_update(0)[0])

    def preview(
        self, x: torch.Tensor, y: torch.Tensor | None, count: int, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Named image batches in [0, 1] (N, C, H, W) to show progress, e.g. samples."""
        return {}

    # ---- capabilities ------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            codes=self.has_codes, samples=self.generates, likelihood=self.has_likelihood, predicts=self.predicts,
            conditional=self.conditional, images=self.config.is_image and self.config.value_range != "real",
            denoiser=self.removes_noise,
        )

    def require(self, capability: str, action: str) -> None:
        """Raise a one-line error unless the model has `capability` (a Capabilities field or property)."""
        require(self.capabilities, capability, f"a {self.model_name} model cannot {action}")

    # ---- class labels ------------------------------------------------------------------

    @property
    def conditional(self) -> bool:
        """Whether generation takes a class label (cgan, cvae)."""
        return bool(getattr(self.config, "conditional", False))

    def class_index(self, label) -> int:
        """A class given by index or by name (as the training labels spelled it) -> its index."""
        names = self.config.class_names or []
        if isinstance(label, str) and label in names:
            return names.index(label)
        try:
            index = int(label)
        except (TypeError, ValueError):
            known = f" (classes: {', '.join(names[:10])})" if names else ""
            raise GenlabError(f"unknown class '{str(label)[:40]}'{known}") from None
        if self.config.num_classes and not 0 <= index < self.config.num_classes:
            raise GenlabError(f"class must be in 0..{self.config.num_classes - 1} (got {str(label)[:40]})")
        return index

    def check_sample_count(self, count) -> int:
        """`count` as an int when it is at least 1 and that many samples fit in free memory."""
        count = check_whole(count, "the number of samples", 1, 10**12)
        check_fits(count, self.config.data_shape, "samples", "ask for fewer and draw them in several calls")
        return count

    def sample_labels(self, count: int, generator: torch.Generator | None = None, labels=None) -> torch.Tensor | None:
        """The labels to generate with: given ones checked, random ones drawn, None when unconditional."""
        if not self.conditional:
            if labels is not None:
                raise GenlabError(f"this {self.model_name} is not conditional; train a conditional model to pick classes")
            return None
        if labels is None:
            device = generator.device if generator is not None else self.device
            labels = torch.randint(0, self.config.num_classes, (count,), generator=generator, device=device)
        labels = torch.as_tensor(labels, device=self.device).long().reshape(-1)
        if len(labels) and (labels.min() < 0 or labels.max() >= self.config.num_classes):
            raise GenlabError(f"class must be in 0..{self.config.num_classes - 1}")
        return labels

    # ---- raw data in, raw data out ----------------------------------------------------

    def preprocess(self, raw) -> torch.Tensor:
        """Raw data in its own units (8-bit images, floats, a DataFrame of records) -> model inputs on this
        model's device, exactly as the training data was prepared (see genlab.models.units)."""
        return units.preprocess(self, raw)

    def postprocess(self, x: torch.Tensor):
        """Model-space values (inputs, reconstructions, samples) -> raw data in the training data's units:
        uint8 arrays for 8-bit images, float32 arrays, or a DataFrame with the original columns."""
        return units.postprocess(self, x)

    # ---- conveniences ------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- artefact ----------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json and model.safetensors into `directory` (each atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {key: tensor.detach().cpu().contiguous() for key, tensor in self.state_dict().items()}
        write_bytes_atomic(directory / WEIGHTS_FILE, weights_bytes(state))
        description = {
            "_class_name": type(self).__name__,
            "model": self.model_name,
            "genlab_version": __version__,
            "config": dataclasses.asdict(self.config),
        }
        write_text_atomic(directory / CONFIG_FILE, json.dumps(description, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
        """Rebuild a model from a folder written by save_pretrained (any registered class)."""
        directory = Path(directory)
        if not directory.is_dir():
            raise GenlabError(f"model directory '{directory}' not found")
        description = read_description(directory)
        model_cls = get_model_class(str(description.get("model")))
        if cls is not GenerativeModel and not issubclass(model_cls, cls):
            raise GenlabError(f"{directory} holds a {model_cls.__name__}, not a {cls.__name__}")
        config = _config_from_dict(model_cls.config_class, description.get("config", {}), directory)
        weights = directory / WEIGHTS_FILE
        if not weights.is_file():
            raise GenlabError(f"{weights} is missing; the run did not finish writing its model")
        try:
            _check_size(model_cls, config, weights)
            model = model_cls(config)
        except (TypeError, ValueError, RuntimeError, KeyError, IndexError, OverflowError) as error:
            if isinstance(error, GenlabError):
                raise
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise GenlabError(f"{directory / CONFIG_FILE} describes a model that cannot be built ({first}); "
                              "restore it or retrain") from None
        state = read_weights(weights)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[-1].strip()
            raise GenlabError(f"{weights} does not fit the model in {CONFIG_FILE} ({first})") from None
        return model.to(device).eval()


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    return GenerativeModel.from_pretrained(directory, device=device)


def weights_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """A safetensors file whose metadata holds the SHA-256 of its tensor data, byte-identical for identical weights.

    The header is written here rather than by the library, whose metadata map has no fixed key order.
    """
    plain = save_safetensors(state, metadata={"format": "pt"})
    size = struct.unpack("<Q", plain[:8])[0]  # the header's length; the tensor data follows it
    header, data = json.loads(plain[8 : 8 + size]), plain[8 + size :]
    header["__metadata__"] = {"format": "pt", DIGEST_KEY: hashlib.sha256(data).hexdigest()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    return struct.pack("<Q", len(text)) + text + data


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, once its header is sound and its data matches the recorded SHA-256."""
    damaged = f"{path} is damaged or truncated"
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise GenlabError(f"{path} cannot be read ({error.strerror}); check its permissions") from None
    if len(blob) < 8:
        raise GenlabError(f"{damaged} ({len(blob)} bytes); restore it or retrain")
    (header_size,) = struct.unpack("<Q", blob[:8])
    if header_size > min(MAX_HEADER_BYTES, len(blob) - 8):
        raise GenlabError(f"{damaged} (its header claims {header_size} bytes); restore it or retrain")
    try:
        header = json.loads(blob[8 : 8 + header_size])
        recorded = (header.get("__metadata__") or {}).get(DIGEST_KEY)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise GenlabError(f"{damaged} (its header is not valid JSON); restore it or retrain") from None
    if recorded is not None and hashlib.sha256(blob[8 + header_size :]).hexdigest() != recorded:
        raise GenlabError(f"{path} is damaged: its tensor data does not match the SHA-256 recorded when it was "
                          "written; restore it or retrain")
    try:
        return load_safetensors(blob)
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        first = (str(error).strip().splitlines() or ["unreadable"])[0][:200]
        raise GenlabError(f"{damaged} ({first}); restore it or retrain") from None


def weights_sha256(model_dir: str | Path) -> str:
    """SHA-256 of a model folder's weights file: the identity of these exact weights."""
    return file_sha256(Path(model_dir) / WEIGHTS_FILE)


def read_description(directory: str | Path) -> dict:
    """A model folder's config.json: class, genlab version and every config field (one-line errors when damaged)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise GenlabError(f"{path} is missing; this is not a genlab model folder")
    try:
        description = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GenlabError(f"{path} is not valid JSON; restore it or retrain") from None
    if not isinstance(description, dict) or "model" not in description:
        raise GenlabError(f"{path} does not describe a genlab model (no 'model' entry)")
    return description


def _check_size(model_cls: type[GenerativeModel], config: ModelConfig, weights: Path) -> None:
    """Refuse a config.json that describes a larger model than its weights file holds, before allocating it
    (the model is first built on the meta device, which allocates nothing)."""
    with torch.device("meta"):
        shell = model_cls(config)
    needed = sum(t.numel() * t.element_size() for t in [*shell.parameters(), *shell.buffers()])
    if needed > weights.stat().st_size:
        raise GenlabError(f"{weights} is damaged or truncated, or not the weights of the model in {CONFIG_FILE}: it "
                          f"holds {weights.stat().st_size:,} bytes and that model needs {needed:,}; restore it or retrain")


def _config_from_dict(config_cls: type[ModelConfig], values: dict, directory: Path) -> ModelConfig:
    if not isinstance(values, dict):
        raise GenlabError(f"{directory / CONFIG_FILE}: 'config' must be a mapping of settings; restore it or retrain")
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise GenlabError(
            f"{directory / CONFIG_FILE} has settings this genlab does not know ({', '.join(unknown)}); "
            "it was probably saved by a newer version"
        )
    try:
        checked = {key: coerce(value, hints[key], key) for key, value in values.items()}
        config = config_cls(**checked)
        if config.preprocessing is not None:
            check_preprocessing(config.preprocessing, config.data_shape)
        check_front_end(config.audio, config.data_shape)
        return config
    except GenlabError as error:
        raise GenlabError(f"{directory / CONFIG_FILE}: {error}; restore it or retrain") from None
    except (TypeError, ValueError, OverflowError) as error:
        raise GenlabError(f"{directory / CONFIG_FILE}: {error}") from None
