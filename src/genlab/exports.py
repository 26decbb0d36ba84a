"""Lazy re-exports for package __init__ files (PEP 562).

A package names its public objects here without importing the modules that define
them, so that importing the package (or one of its light submodules, such as the CLI's)
costs nothing until an object is used.

    __getattr__, __dir__ = lazy_exports(__name__, {"genlab.training.trainer": ("Trainer",)})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]],
                 subpackages: tuple[str, ...] = ()) -> tuple[Callable, Callable]:
    """A package's __getattr__ and __dir__ for the public `names` of each of its `modules`, and for the
    `subpackages` reachable as attributes (`genlab.apps` after a bare `import genlab`)."""
    exports = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name in subpackages:
            return importlib.import_module(f"{package}.{name}")  # the import binds it on the package
        if name not in exports:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports) | set(subpackages))

    return __getattr__, __dir__
