"""genlab: autoencoders, VAEs and GANs in PyTorch.

    model = genlab.train("vae", data="digits", epochs=5)
    model.sample(16)
"""

from __future__ import annotations

__version__ = "0.1.0"

import os  # noqa: E402

import torch  # noqa: E402

# Denormal floats (below ~1e-38) appear as weights and gradients shrink, and make CPU
# arithmetic several times slower; flushing them to zero, as TensorFlow does by default,
# trained the MNIST VAE 1.5x faster with the same ELBO. CPU worker threads copy the
# setting when they start, so it is made here, before they exist. GENLAB_KEEP_DENORMALS=1
# leaves the process as it was.
if os.environ.get("GENLAB_KEEP_DENORMALS") != "1":
    torch.set_flush_denormal(True)

from genlab.api import load, train  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402
from genlab.models import create_model, list_models  # noqa: E402

__all__ = ["GenlabError", "__version__", "create_model", "list_models", "load", "train"]
