"""genlab: autoencoders, VAEs and GANs in PyTorch.

    model = genlab.train("vae", data="digits", epochs=5)
    model.sample(16)
    genlab.evaluate("runs/vae-digits-...")

The public names are loaded on first use (PEP 562), so that `import genlab` and
`genlab --help` stay instant, and importing genlab changes nothing in the process:
torch settings such as flushing denormal floats are made by the Trainer and the CLI.
"""

from genlab.errors import GenlabError
from genlab.exports import lazy_exports
from genlab.version import __version__

_EXPORTS = {
    "train": "genlab.api",
    "load": "genlab.api",
    "evaluate": "genlab.eval.runner",
    "create_model": "genlab.models.base",
    "list_models": "genlab.models",
}
__all__ = ["GenlabError", "__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
