"""What trained models are used for: compression, denoising, inpainting, anomaly detection,
embeddings, latent-space maps, and samples written to files. Each takes a loaded model,
never a trainer. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {
    "genlab.apps.anomaly": ("AnomalyDetector",), "genlab.apps.embed": ("Embedder",),
    "genlab.apps.codec": ("compress", "decompress"), "genlab.apps.denoising": ("denoise",),
    "genlab.apps.inpainting": ("inpaint",), "genlab.apps.raw": ("encode", "decode", "reconstruct", "sample"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
