"""Data for a trained model: a split of a dataset, preprocessed exactly as its training data was."""

from __future__ import annotations

import dataclasses

import torch

from genlab.data.config import DataConfig
from genlab.data.dataset import load_dataset
from genlab.data.preprocessing import Preprocessing
from genlab.data.tables import TableEncoding
from genlab.errors import GenlabError


def model_inputs(model, data: str | DataConfig, split: str, limit: int | None = None,
                 binarize_seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Inputs and labels of one split of `data`, mapped to the model's input space.

    Dynamic binarisation is a training-time augmentation: inputs come as expected pixel
    values, or, with `binarize_seed`, as one fixed Bernoulli draw (for likelihoods).
    """
    table = TableEncoding.from_dict(model.config.table) if model.config.table else None
    data = DataConfig(name=data) if isinstance(data, str) else data
    if model.config.audio and data.audio is None:  # other clips are heard through the model's own front end
        data = dataclasses.replace(data, audio=dict(model.config.audio))
    dataset = load_dataset(data, image_range=type(model).image_range, table=table)
    if tuple(dataset.shape) != tuple(model.config.data_shape):
        name = data if isinstance(data, str) else data.name
        raise GenlabError(f"data '{name}' has samples of shape {_shape(dataset.shape)} "
                          f"but the model was trained on {_shape(model.config.data_shape)}")
    chosen = dataset.split(split)
    x, y = chosen.x[:limit], (chosen.y[:limit] if chosen.y is not None else None)
    if len(x) == 0:
        raise GenlabError(f"the {split} split of '{dataset.name}' is empty")
    preprocessing = Preprocessing.from_dict(model.config.preprocessing) if model.config.preprocessing else dataset.preprocessing
    binarize, preprocessing.binarize = preprocessing.binarize, False
    inputs = preprocessing(x)
    if binarize and binarize_seed is not None:
        inputs = torch.bernoulli(inputs.clamp(0, 1), generator=torch.Generator().manual_seed(binarize_seed))
    return inputs, y


def _shape(shape) -> str:
    return "x".join(str(s) for s in shape)
