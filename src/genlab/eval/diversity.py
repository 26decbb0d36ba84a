"""What a classifier says about a set of samples: class histogram, entropy, classifier score.

The classifier score is the Inception Score's formula (Salimans et al. 2016) with
genlab's reference classifier in place of Inception: exp(E_x KL(p(y|x) || p(y))).
It rises when each sample is confidently one class (quality) and the classes are
evenly used (diversity); its maximum is the number of classes.
"""

from __future__ import annotations

import math

import torch


def class_histogram(probabilities: torch.Tensor) -> torch.Tensor:
    """Share of samples whose most likely class is each class, (C,)."""
    counts = torch.bincount(probabilities.argmax(1), minlength=probabilities.shape[1]).double()
    return counts / counts.sum()


def entropy(shares: torch.Tensor) -> float:
    """Entropy in nats of a histogram; log(C) means every class equally often."""
    positive = shares[shares > 0].double()
    return float(-(positive * positive.log()).sum())


def classifier_score(probabilities: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over `splits` equal parts (the Inception Score's protocol)."""
    p = probabilities.double().clamp_min(1e-12)
    scores = []
    for part in p.chunk(splits):
        marginal = part.mean(0, keepdim=True)
        kl = (part * (part.log() - marginal.log())).sum(1).mean()
        scores.append(math.exp(float(kl)))
    tensor = torch.tensor(scores)
    return float(tensor.mean()), float(tensor.std(unbiased=False)) if len(scores) > 1 else 0.0
