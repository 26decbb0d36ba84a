"""Models: the autoencoder family and the VAE, registered by name."""

from genlab.models.autoencoder import Autoencoder, AutoencoderConfig
from genlab.models.base import (
    GenerativeModel,
    ModelConfig,
    create_model,
    get_model_class,
    list_models,
    load_model,
    register_model,
)
from genlab.models.classifier import Classifier, ClassifierConfig
from genlab.models.denoising import DenoisingAutoencoder, DenoisingConfig
from genlab.models.ensemble import AutoencoderEnsemble, EnsembleConfig
from genlab.models.gan import GAN, ConditionalGAN, GANConfig
from genlab.models.latent import LatentModel
from genlab.models.sparse import SparseAutoencoder, SparseConfig
from genlab.models.supervised import SupervisedAutoencoder, SupervisedConfig
from genlab.models.vae import VAE, ConditionalVAE, VAEConfig

__all__ = [
    "GAN",
    "ConditionalGAN",
    "GANConfig",
    "VAE",
    "Autoencoder",
    "Classifier",
    "ClassifierConfig",
    "AutoencoderConfig",
    "AutoencoderEnsemble",
    "EnsembleConfig",
    "DenoisingAutoencoder",
    "DenoisingConfig",
    "GenerativeModel",
    "LatentModel",
    "ModelConfig",
    "SparseAutoencoder",
    "SparseConfig",
    "SupervisedAutoencoder",
    "SupervisedConfig",
    "VAEConfig",
    "ConditionalVAE",
    "create_model",
    "get_model_class",
    "list_models",
    "load_model",
    "register_model",
]
