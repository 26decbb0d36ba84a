"""genlab: autoencoders, VAEs and GANs in PyTorch.

    model = genlab.train("vae", data="digits", epochs=5)
    model.sample(16)
    genlab.evaluate("runs/vae-digits-...")
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

__all__ = ["GenlabError", "__version__", "create_model", "evaluate", "list_models", "load", "train"]


def __getattr__(name: str):
    if name == "evaluate":  # imported on first use: it brings scikit-learn and scikit-image
        from genlab.eval.runner import evaluate

        return evaluate
    raise AttributeError(f"module 'genlab' has no attribute '{name}'")
