"""Typed settings: dataclasses filled from YAML files and `section.key=value` overrides.

The machinery every config section uses (data, train, a model's own): keys are checked
against a dataclass's fields, values against its type hints (converting where YAML is
ambiguous: 1e-3 reads as text), and mistakes become one-line errors that say what is
allowed. It knows no section in particular; `genlab.run_config` puts them together.

Whatever a file or override holds, only bounded work follows: a config file is at most
`MAX_CONFIG_BYTES` of UTF-8, a value at most `MAX_VALUE_NODES` items once YAML's aliases
are followed (so a "billion laughs" file is refused), numbers are finite and whole numbers
fit in 64 bits; a field's own range is its config class's `check()`.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import numbers
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from genlab.errors import GenlabError

SECTIONS = ("seed", "model", "data", "train")
MAX_CONFIG_BYTES = 1 << 20
MAX_VALUE_NODES = 100_000  # lists, mappings and scalars in one config, aliases counted each time they are used
MAX_DEPTH = 32
INT64 = 2**63


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
            raise GenlabError(unknown_key_message(f"{section}.{shown(key)}", [f"{section}.{name}" for name in settable]))
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
        raise GenlabError(f"config file '{shown(path)}' not found")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise GenlabError(f"config file '{shown(path)}' cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise GenlabError(f"config file '{shown(path)}' is larger than {MAX_CONFIG_BYTES >> 20} MiB; a config holds "
                          "settings only")
    try:
        tree = load_yaml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise GenlabError(f"config file '{shown(path)}' is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise GenlabError(f"config file '{shown(path)}' is not valid YAML{where}") from None
    except GenlabError as error:
        raise GenlabError(f"config file '{shown(path)}': {error}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise GenlabError(f"config file '{shown(path)}' must hold a mapping with model, data, train and seed keys")
    return tree


def load_yaml(text: str) -> Any:
    """YAML text -> plain values, refusing what would take unbounded work to use (deep nesting, alias bombs)."""
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise GenlabError(f"nested more than {MAX_DEPTH} levels deep; a config holds settings only") from None
    check_size(value)
    return value


def check_size(value: Any) -> None:
    """Refuse a value with more than MAX_VALUE_NODES items (aliases counted each time) or nested too deep."""
    budget = MAX_VALUE_NODES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > MAX_DEPTH:
            raise GenlabError(f"a value with more than {MAX_VALUE_NODES:,} items or {MAX_DEPTH} levels (or one "
                              "that contains itself); a config holds settings only")
        if isinstance(item, Mapping):
            stack += [(part, depth + 1) for pair in item.items() for part in pair]
        elif isinstance(item, (list, tuple)):
            stack += [(part, depth + 1) for part in item]


def copy_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, Mapping) else value for key, value in tree.items()}


def parse_overrides(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if not isinstance(key, str):
                raise GenlabError(f"override key {shown(repr(key))} must be text such as 'train.lr'")
            check_size(value)
        return list(overrides.items())
    if isinstance(overrides, str):
        overrides = [overrides]
    parsed = []
    for item in overrides:
        if not isinstance(item, str):
            raise GenlabError(f"override {shown(repr(item))} must be text such as 'train.lr=3e-4'")
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise GenlabError(f"override '{shown(item)}' must look like section.key=value (for example train.lr=3e-4)")
        try:
            value = load_yaml(text) if text else ""
        except yaml.YAMLError:
            value = text
        except GenlabError as error:
            raise GenlabError(f"override {shown(key)}: {error}") from None
        parsed.append((key.strip(), value))
    return parsed


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise GenlabError(unknown_key_message(shown(dotted), SECTIONS))
    if section == "seed":
        if key:
            raise GenlabError(f"unknown config key '{shown(dotted)}': seed is a single number (seed=3)")
        tree["seed"] = value
        return
    if not key:
        raise GenlabError(f"override '{shown(dotted)}' needs a key inside the section, for example {section}.name")
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
    """Check `value` against a type annotation, converting where YAML is ambiguous (1e-3 is a string).

    Numbers must be finite, and whole numbers fit in a signed 64-bit integer."""
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
        if float in args and _non_finite(value):
            raise GenlabError(f"{key} must be a finite number{' or null' if type(None) in args else ''} "
                              f"(got {shown(value)})")
        raise GenlabError(f"{key} must be {_describe(annotation)} (got {shown(repr(value))})")
    if origin is Literal:
        if isinstance(value, (str, int, float, bool, type(None))) and value in args:
            return value
        raise GenlabError(f"{key} must be one of {', '.join(map(str, args))} (got {shown(repr(value))})")
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise GenlabError(f"{key} must be a list such as [1, 2] (got {shown(repr(value))})")
        item_type = args[0] if args else Any
        return [coerce(item, item_type, key) for item in value]
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise GenlabError(f"{key} must be a mapping (got {shown(repr(value))})")
        key_type, item_type = args if len(args) == 2 else (Any, Any)
        return {coerce(name, key_type, key): coerce(item, item_type, key) for name, item in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise GenlabError(f"{key} must be true or false (got {shown(repr(value))})")
    if annotation is int:
        return _whole_number(value, key)
    if annotation is float:
        return _finite_number(value, key)
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise GenlabError(f"{key} must be text (got {shown(repr(value))})")
    return value


def _whole_number(value: Any, key: str) -> int:
    number = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and float(value).is_integer():
        number = int(value)
    if number is None:
        raise GenlabError(f"{key} must be a whole number (got {shown(repr(value))})")
    if not -INT64 <= number < INT64:
        raise GenlabError(f"{key} must fit in 64 bits, between -2^63 and 2^63-1 (got {shown(number)})")
    return number


def _finite_number(value: Any, key: str) -> float:
    number = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float's range
            number = math.inf
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None:
        raise GenlabError(f"{key} must be a number (got {shown(repr(value))})")
    if not math.isfinite(number):
        raise GenlabError(f"{key} must be a finite number (got {shown(value)})")
    return number


def _non_finite(value: Any) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return isinstance(value, int) and not isinstance(value, bool)  # too large for a float


def shown(value: Any, limit: int = 80) -> str:
    """User text fit for a one-line message: control characters escaped, long text shortened."""
    text = str(value).encode("unicode_escape").decode("ascii") if not str(value).isprintable() else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
