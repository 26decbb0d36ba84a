"""genlab: autoencoders, VAEs and GANs in PyTorch.

    model = genlab.train("vae", data="digits", epochs=5)
    model.sample(16)
    genlab.evaluate("runs/vae-digits-...")
    genlab.apps.sample(model, 16)            # raw data out: uint8 images, arrays, DataFrames

The public names are loaded on first use (PEP 562), so that `import genlab` and
`genlab --help` stay instant, and importing genlab changes nothing in the process:
torch settings such as flushing denormal floats are made by the Trainer and the CLI.
"""

from genlab.errors import GenlabError
from genlab.exports import lazy_exports
from genlab.version import __version__

_EXPORTS = {
    "genlab.api": ("train", "load"), "genlab.eval.runner": ("evaluate",),
    "genlab.models.base": ("create_model",), "genlab.models": ("list_models",),
}
__all__ = ["GenlabError", "__version__", *(name for names in _EXPORTS.values() for name in names)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, subpackages=("apps", "data", "models"))
