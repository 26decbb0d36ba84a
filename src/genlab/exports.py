"""Lazy re-exports for package __init__ files (PEP 562).

A package names its public objects here without importing the modules that define
them, so that importing the package (or one of its light submodules, such as the CLI's)
costs nothing until an object is used.

    __getattr__, __dir__ = lazy_exports(__name__, {"Trainer": "genlab.training.trainer"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
