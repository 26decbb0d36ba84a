"""Networks the user brings: their own nn.Module as an encoder, decoder, generator or discriminator.

The shape contract (B is the batch size, `data_shape` one sample as the model sees it):

    encoder        (B, *data_shape) -> (B, F)  F = latent_dim (ae family), 2 * latent_dim (vae: mean, log-variance)
    decoder        (B, latent_dim) -> (B, *data_shape)  before the output activation (logits for [0, 1] data);
                   a cvae's decoder takes (B, latent_dim + num_classes): the code and a one-hot label
    generator      (B, latent_dim) -> (B, *data_shape)  before the output activation (genlab squashes to the range)
    discriminator  (B, *data_shape) -> (B,) or (B, 1)  one logit (critic value) per sample

The model records each network as the import path of its class and the keyword
arguments of its constructor, taken from the module's `get_config()` (a dict of plain
values) when it has one, else none. `genlab.load` imports the class and calls it with
those arguments, then loads the weights from safetensors: nothing is unpickled, and a
class that cannot be imported is a clear error, not a silent substitute.
"""

from __future__ import annotations

import importlib
import json
import logging

import torch
from torch import nn

from genlab.errors import GenlabError
from genlab.models.likelihoods import squash

logger = logging.getLogger(__name__)
ROLES = ("encoder", "decoder", "generator", "discriminator")


def network_spec(module: nn.Module, role: str) -> dict:
    """How to rebuild `module`: {"class": "package.module:Class", "config": {...}}."""
    if role not in ROLES:
        raise GenlabError(f"unknown network '{role}' (networks: {', '.join(ROLES)})")
    if not isinstance(module, nn.Module):
        raise GenlabError(f"the {role} must be a torch nn.Module (got {type(module).__name__})")
    cls = type(module)
    try:
        config = module.get_config() if hasattr(module, "get_config") else {}
        json.dumps(config)
    except (TypeError, ValueError) as error:
        raise GenlabError(f"{cls.__name__}.get_config() must return a dict of plain values (numbers, text, lists, "
                          f"dicts) ({error})") from None
    except Exception as error:  # noqa: BLE001 - the user's method, whatever it raises
        raise GenlabError(f"{cls.__name__}.get_config() failed ({type(error).__name__}: {error})") from None
    if not isinstance(config, dict):
        raise GenlabError(f"{cls.__name__}.get_config() must return a dict of constructor arguments "
                          f"(got a {type(config).__name__})")
    if "<locals>" in cls.__qualname__:
        raise GenlabError(f"the {role} class {cls.__qualname__} is defined inside a function; define it at module "
                          "level so that the saved model can be loaded again")
    if cls.__module__ == "__main__":
        logger.warning(f"the {role} class {cls.__qualname__} is defined in the script being run (__main__): only "
                       "that script can load this model again; move the class to a module to share the model")
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "config": config}


def build_network(spec: dict, role: str) -> nn.Module:
    """Import the class a spec names and instantiate it with its recorded config."""
    path = str(spec.get("class", ""))
    module_name, _, qualname = path.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError):
        hint = " (it was defined in a script run as __main__: move it to an importable module)" \
            if module_name == "__main__" else ""
        raise GenlabError(f"this model's {role} is the class {path}, which cannot be imported here{hint}; "
                          "install or put on PYTHONPATH the code that defines it") from None
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise GenlabError(f"the {role} {path} is not an nn.Module class")
    try:
        return target(**dict(spec.get("config") or {}))
    except TypeError as error:
        raise GenlabError(f"the {role} {path} could not be built from its recorded config ({error})") from None


def check_output(network: nn.Module, role: str, inputs: torch.Tensor, expected: tuple[int, ...], model: str) -> None:
    """Run the network once on `inputs` and refuse an output of the wrong shape, naming the contract."""
    with torch.no_grad():
        was_training = network.training
        network.train(False)
        try:
            output = network(inputs)
        except Exception as error:  # noqa: BLE001 - whatever the user's forward raises, say where
            raise GenlabError(f"the {role} failed on a batch of shape {tuple(inputs.shape)} ({error})") from None
        finally:
            network.train(was_training)
    if not isinstance(output, torch.Tensor):
        raise GenlabError(f"the {role} returns a {type(output).__name__}; it must return one tensor")
    shape = tuple(output.shape)
    if role == "discriminator" and shape in ((len(inputs),), (len(inputs), 1)):
        return
    if shape != expected:
        raise GenlabError(f"the {role} maps {tuple(inputs.shape)} to {shape}; the {model} needs {expected} "
                          "(see genlab.models.custom for the shape contract)")


class GeneratorAdapter(nn.Module):
    """A user's generator, squashed to the data's range like genlab's own."""

    def __init__(self, net: nn.Module, value_range: str):
        super().__init__()
        self.net, self.value_range = net, value_range

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return squash(self.net(z), self.value_range)


class DiscriminatorAdapter(nn.Module):
    """A user's discriminator, giving (B,) float32 logits like genlab's own."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).reshape(len(x)).float()
