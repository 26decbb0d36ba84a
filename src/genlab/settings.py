"""Typed settings: dataclasses filled from YAML files and `section.key=value` overrides.

The machinery every config section uses (data, train, a model's own): keys are checked
against a dataclass's fields, values against its type hints (converting where YAML is
ambiguous: 1e-3 reads as text), and mistakes become one-line errors that say what is
allowed. It knows no section in particular; `genlab.run_config` puts them together.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from genlab.errors import GenlabError

SECTIONS = ("seed", "model", "data", "train")


def user_fields(config: Any) -> dict[str, Any]:
    """A config dataclass's settable fields (those not derived from the data)."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if not f.metadata.get("derived")
    }


def build_dataclass(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """Instantiate a config dataclass from user values, checking keys and types."""
    return cls(**check_fields(cls, values, section))


def check_fields(cls: type, values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Check user values against a config dataclass's settable fields; return them coerced."""
    if not isinstance(values, Mapping):
        raise GenlabError(f"'{section}' must be a mapping of settings (got {type(values).__name__})")
    hints = get_type_hints(cls)
    settable = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived")]
    checked = {}
    for key, value in values.items():
        if key not in settable:
            raise GenlabError(unknown_key_message(f"{section}.{key}", [f"{section}.{name}" for name in settable]))
        checked[key] = coerce(value, hints[key], f"{section}.{key}")
    return checked


def dump_yaml(tree: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(tree), sort_keys=False, default_flow_style=None)


def _plain(value: Any) -> Any:
    """Tuples to lists, so that YAML stays readable and safe_load-able."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GenlabError(f"config file '{path}' not found")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise GenlabError(f"config file '{path}' is not valid YAML{where}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise GenlabError(f"config file '{path}' must hold a mapping with model, data, train and seed keys")
    return tree


def copy_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, Mapping) else value for key, value in tree.items()}


def parse_overrides(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    parsed = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise GenlabError(f"override '{item}' must look like section.key=value (for example train.lr=3e-4)")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        parsed.append((key.strip(), value))
    return parsed


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise GenlabError(unknown_key_message(dotted, SECTIONS))
    if section == "seed":
        if key:
            raise GenlabError(f"unknown config key '{dotted}': seed is a single number (seed=3)")
        tree["seed"] = value
        return
    if not key:
        raise GenlabError(f"override '{dotted}' needs a key inside the section, for example {section}.name")
    current = tree.get(section)
    if current is None:
        current = tree[section] = {}
    elif not isinstance(current, dict):
        raise GenlabError(f"'{section}' must be a mapping of settings (got {type(current).__name__})")
    current[key] = value


def unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
    return f"unknown config key '{key}' ({hint})"


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a type annotation, converting where YAML is ambiguous (1e-3 is a string)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return coerce(value, option, key)
            except GenlabError:
                continue
        raise GenlabError(f"{key} must be {_describe(annotation)} (got {value!r})")
    if origin is Literal:
        if value in args:
            return value
        raise GenlabError(f"{key} must be one of {', '.join(map(str, args))} (got {value!r})")
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise GenlabError(f"{key} must be a list such as [1, 2] (got {value!r})")
        item_type = args[0] if args else Any
        return [coerce(item, item_type, key) for item in value]
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise GenlabError(f"{key} must be a mapping (got {value!r})")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise GenlabError(f"{key} must be true or false (got {value!r})")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GenlabError(f"{key} must be a whole number (got {value!r})")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise GenlabError(f"{key} must be a number (got {value!r})")
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise GenlabError(f"{key} must be text (got {value!r})")
    return value


def _describe(annotation: Any) -> str:
    names = []
    for option in get_args(annotation):
        if option is type(None):
            names.append("null")
        elif get_origin(option) is Literal:
            names.append(" | ".join(map(str, get_args(option))))
        else:
            names.append(getattr(option, "__name__", str(option)))
    return " or ".join(names)


def field_table(config_class: type) -> list[tuple[str, Any, str]]:
    """(name, default, help) of a config dataclass's settable fields; the help is the comment beside each field."""
    comments: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue  # built-in classes, or source not shipped
        for match in re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE):
            comments[match.group(1)] = match.group(2).strip()
    table = []
    for item in dataclasses.fields(config_class):
        if item.metadata.get("derived"):
            continue
        default = item.default if item.default is not dataclasses.MISSING else item.default_factory()
        table.append((item.name, default, comments.get(item.name, "")))
    return table
