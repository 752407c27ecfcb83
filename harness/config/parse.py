"""Config files to nested dataclasses: YAML reading, ``key=value`` overrides, strict keys and type checks.

Unknown keys are errors that name the full dotted key and suggest the closest known one; values are
checked against the field's type hint (int, float, bool, str, Optional, list, dict, Literal and nested
dataclasses), so a bad config fails before any model is loaded. Overrides beat the YAML, which beats the
dataclass defaults.
"""

from __future__ import annotations

import copy
import dataclasses
import types
from pathlib import Path
from typing import Any, Iterable, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from harness.config.errors import ConfigError, suggest
from harness.config.ranges import range_problems


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got null")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, allowed))}, got {value!r}.{suggest(str(value), map(str, allowed))}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        item_type = args[0] if args else Any
        items = [_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        args = get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 5e-6 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


REST = "rest"  # field metadata: the field collects the mapping's other keys (a kind's settings written beside it)


def rest_field(cls: type) -> str | None:
    """The field of dataclass ``cls`` marked ``metadata={"rest": True}``, if any."""
    return next((f.name for f in dataclasses.fields(cls) if f.metadata.get(REST)), None)


def from_dict(cls: type, data: dict[str, Any] | None, prefix: str = "", also_accepted: Iterable[str] = ()) -> Any:
    """Instantiate dataclass ``cls`` from ``data``, rejecting unknown keys and mistyped values.

    A field marked ``rest`` receives every key that is not a field (checked later against the Config of
    the kind named beside it); ``also_accepted`` names keys accepted elsewhere, for the suggestions."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping of settings, got {type(data).__name__} {data!r}")
    data = dict(data or {})
    hints = get_type_hints(cls)
    rest = rest_field(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != rest}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full_key = f"{prefix}.{key}" if prefix else str(key)
        if key in fields:
            kwargs[key] = _convert(value, hints[key], full_key)
        elif rest is not None:
            kwargs.setdefault(rest, {})[str(key)] = value
        else:
            accepted = sorted({*fields, *also_accepted})
            raise ConfigError(f"unknown key {full_key!r}.{suggest(str(key), accepted)} Accepted keys here: {', '.join(accepted)}.")
    missing = [
        name for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        keys = ", ".join(f"{prefix}.{name}" if prefix else name for name in missing)
        raise ConfigError(f"{keys}: required, but missing")
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{prefix}: {error}" if prefix and not str(error).startswith(prefix) else str(error)) from None


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict (JSON/YAML ready); a ``rest`` field's keys sit beside the other fields."""
    if dataclasses.is_dataclass(obj):
        rest = rest_field(type(obj))
        out = {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != rest}
        if rest is not None:
            out.update(to_dict(getattr(obj, rest)))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def config_problems(obj: Any, prefix: str = "") -> list[str]:
    """Every ``"key: problem"`` of a nested config, with each key's full path (``train.batch_size: ...``): each
    dataclass's values outside their declared ranges (``harness.config.ranges``), else what it states of itself
    (its ``problems()``, which may rely on the ranges), then its fields' in field order."""
    if isinstance(obj, (list, tuple)):
        return [problem for i, item in enumerate(obj) for problem in config_problems(item, f"{prefix}[{i}]")]
    if isinstance(obj, dict):
        return [problem for key, item in obj.items() for problem in config_problems(item, f"{prefix}.{key}")]
    if not dataclasses.is_dataclass(obj):
        return []
    own = list(range_problems(obj))
    if not own and hasattr(obj, "problems"):
        own = list(obj.problems())
    found = [f"{'.'.join(part for part in (prefix, key) if part)}: {problem}" for key, problem in own]
    for f in dataclasses.fields(obj):
        found += config_problems(getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name)
    return found


def raise_first_problem(obj: Any, prefix: str = "") -> None:
    """A ConfigError of the first of ``config_problems(obj, prefix)``, if any: the checks of a config as it is read."""
    problems = config_problems(obj, prefix)
    if problems:
        raise ConfigError(problems[0])


def apply_override(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``a.b.c = value`` in nested dicts, creating intermediate mappings; a numeric part indexes a
    list (``reward_models.2.sigma``); ``*`` stands for every element of a list that already has the rest of the
    key (``reward_models.*.sigma``: the sigma of every noisy RM; one grid axis for all of them)."""
    parts = dotted_key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list) and part == "*":
            rest = parts[depth + 1:]
            matching = [element for element in node if not last and _has_key(element, rest)]
            if not matching:
                raise ConfigError(f"override {dotted_key!r}: no element of the list has {'.'.join(rest) or 'a key'!r}")
            for element in matching:
                apply_override(element, ".".join(rest), copy.deepcopy(value))
            return
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {dotted_key!r}: {part!r} is not an index of a list of {len(node)}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if last:
            node[part] = value
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]


def _has_key(node: Any, parts: list[str]) -> bool:
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def parse_with_overrides(cls: type, data: dict[str, Any], overrides: list[tuple[str, Any]], source: str) -> Any:
    """``cls`` from ``data`` after applying (dotted key, value) overrides, its ranges and rules checked
    (``config_problems``); errors name ``source``."""
    data = dict(data)
    for key, value in overrides:
        apply_override(data, key, value)
    try:
        config = from_dict(cls, data)
        raise_first_problem(config)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    return config


def parse_value(text: str) -> Any:
    """A command-line override value, read as YAML (``3`` -> int, ``[a, b]`` -> list, ``x`` -> str)."""
    return yaml.safe_load(text) if text != "" else ""


def _yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: where (line:column) and what."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    return f"{where}{what}" + (f" ({context})" if context else "")


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. train.iterations=2")
        try:
            pairs.append((key.strip(), parse_value(value)))
        except yaml.YAMLError as error:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({_yaml_problem(error)}); "
                              "quote it, e.g. 'seeds=[0, 1]'") from None
    return pairs


def read_utf8(path: Path) -> str:
    """A text file's contents; bytes that are not UTF-8 are a ConfigError naming the file and line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: expected UTF-8 text, found byte 0x{data[error.start]:02x}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: expected a YAML config file, found a folder")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(read_utf8(path)) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML at {_yaml_problem(error)}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
