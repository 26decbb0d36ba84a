"""genlab: autoencoders, VAEs and GANs in PyTorch.

    model = genlab.train("vae", data="digits", epochs=5)
    model.sample(16)
"""

from __future__ import annotations

__version__ = "0.1.0"

from genlab.api import load, train  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402
from genlab.models import create_model, list_models  # noqa: E402

__all__ = ["GenlabError", "__version__", "create_model", "list_models", "load", "train"]
