"""What trained models are used for: compression, denoising, inpainting, anomaly detection,
embeddings, latent-space maps, and samples written to files. Each takes a loaded model,
never a trainer. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {
    "AnomalyDetector": "genlab.apps.anomaly",
    "Embedder": "genlab.apps.embed",
    "compress": "genlab.apps.codec",
    "decompress": "genlab.apps.codec",
    "denoise": "genlab.apps.denoising",
    "inpaint": "genlab.apps.inpainting",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
