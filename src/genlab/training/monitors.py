"""Training monitors: numbers logged beside the losses, handed to the Trainer from outside.

A monitor is any callable `monitor(model) -> dict`; the Trainer calls each at every log
interval, in eval mode, without gradients and without touching the training random
stream, and writes what they return into metrics.jsonl. The model never knows it is
watched: the API and the CLI choose the monitors (`genlab.api.default_monitors`).
"""

from __future__ import annotations

import math

import torch

from genlab.data.preprocessing import convert_preprocessing
from genlab.models.base import GenerativeModel

COLLAPSE_SEED = 1234  # the same codes at every interval, so the histogram moves only with the weights


class ClassBalanceMonitor:
    """Mode-collapse diagnostic: the class histogram of a fixed batch of samples, and its entropy.

    `classifier` is the dataset's reference classifier; a generator that covers every class
    keeps the entropy near log(classes), one that collapses puts most samples in few classes.
    """

    def __init__(self, classifier: GenerativeModel, samples: int = 256):
        self.classifier = classifier
        self.samples = samples

    @torch.no_grad()
    def __call__(self, model: GenerativeModel) -> dict:
        classifier = self.classifier.to(model.device)
        samples = model.sample(self.samples, torch.Generator(model.device).manual_seed(COLLAPSE_SEED))
        inputs = convert_preprocessing(samples, model.config.preprocessing, classifier.config.preprocessing)
        counts = torch.bincount(classifier.predict(inputs), minlength=classifier.config.num_classes).float()
        share = counts / counts.sum()
        entropy = -(share[share > 0] * share[share > 0].log()).sum()
        return {"class_histogram": [round(v, 4) for v in share.tolist()], "class_entropy": round(float(entropy), 4),
                "class_entropy_max": round(math.log(len(share)), 4), "largest_class": round(float(share.max()), 4)}
