"""Data: named datasets with verified downloads, array files and image folders, held in memory.
The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {
    "NAMED_DATASETS": "genlab.data.catalog",
    "get_named_dataset": "genlab.data.catalog",
    "Batch": "genlab.data.batches",
    "BatchLoader": "genlab.data.batches",
    "Dataset": "genlab.data.dataset",
    "Split": "genlab.data.dataset",
    "ensure_named_dataset": "genlab.data.dataset",
    "load_dataset": "genlab.data.dataset",
    "data_root": "genlab.data.download",
    "Preprocessing": "genlab.data.preprocessing",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
