"""What a model can be asked to do: the capabilities callers check instead of a model's class or name."""

from __future__ import annotations

from dataclasses import dataclass

from genlab.errors import GenlabError


@dataclass(frozen=True)
class Capabilities:
    """What a model can be asked to do."""

    codes: bool = False  # encode(x) -> codes and decode(z) -> data: a code space, and reconstruct(x)
    samples: bool = False  # sample(n) draws new data
    likelihood: bool = False  # elbo(x) and log_likelihood(x, k), in nats
    predicts: bool = False  # predict(x) and predict_proba(x): class labels
    conditional: bool = False  # generation and codes take class labels
    images: bool = False  # samples are images with a bounded range, shown as pictures
    denoiser: bool = False  # trained to remove a corruption from its inputs (dae)

    @property
    def label_free_codes(self) -> bool:
        """A code space that needs no class label: what maps, denoising, compression and detection use."""
        return self.codes and not self.conditional


# what a model lacks without each capability, and what to use instead
MISSING = {
    "codes": ("it has no encoder (no code space)", "an autoencoder or VAE"),
    "label_free_codes": ("it has no encoder that works without class labels (no code space)",
                         "an unconditional autoencoder or VAE (ae, dae, sparse-ae, vae)"),
    "samples": ("it does not generate samples", "a generator (vae, gan, ...)"),
    "likelihood": ("it has no likelihood", "a VAE"),
    "predicts": ("it does not predict classes", "a classifier or supervised-ae"),
    "conditional": ("it is not conditional", "a conditional model (cvae, cgan)"),
    "images": ("it works on vectors, not images", "an image model"),
    "denoiser": ("it was not trained to remove noise", "a dae"),
}


def require(capabilities: Capabilities, capability: str, cannot: str) -> None:
    """Raise "<cannot>: <what is missing>; use <what has it>" unless `capability` holds."""
    if not getattr(capabilities, capability):
        lacks, instead = MISSING[capability]
        raise GenlabError(f"{cannot}: {lacks}; use {instead}")
