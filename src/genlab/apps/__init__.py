"""What trained models are used for: compression, denoising, inpainting, anomaly detection,
embeddings and latent-space maps. Each takes a loaded model, never a trainer."""

from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.compress import compress, decompress
from genlab.apps.denoise import denoise
from genlab.apps.embed import Embedder
from genlab.apps.inpaint import inpaint

__all__ = ["AnomalyDetector", "Embedder", "compress", "decompress", "denoise", "inpaint"]
