"""Data: named datasets with verified downloads, array files and image folders, held in memory."""

from genlab.data.batches import Batch, BatchLoader
from genlab.data.catalog import NAMED_DATASETS, get_named_dataset
from genlab.data.dataset import Dataset, Split, ensure_named_dataset, load_dataset
from genlab.data.download import data_root
from genlab.data.preprocessing import Preprocessing

__all__ = [
    "NAMED_DATASETS",
    "Batch",
    "BatchLoader",
    "Dataset",
    "Preprocessing",
    "Split",
    "data_root",
    "ensure_named_dataset",
    "get_named_dataset",
    "load_dataset",
]
