"""Data: named datasets with verified downloads, array files and image folders, held in memory.
The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {
    "genlab.data.catalog": ("NAMED_DATASETS", "get_named_dataset"), "genlab.data.batches": ("Batch", "BatchLoader"),
    "genlab.data.dataset": ("Dataset", "Split", "ensure_named_dataset", "load_dataset"),
    "genlab.data.download": ("data_root",), "genlab.data.preprocessing": ("Preprocessing",),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
