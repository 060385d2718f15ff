"""Validated config fields with help text: one helper for SpyConfig, SPOConfig and the SFT config.

Declare each field of a frozen dataclass with `setting` (or `one_of`, `fraction`, `positive`, `at_least`),
call `validate(self)` in `__post_init__`, and the type and value checks, `from_mapping`, the CLI's help and
the docs' tables (`help_table`) all come from the declarations.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


def setting(
    default: Any,
    help: str,
    allowed: str | None = None,
    check: Callable[[Any], bool] | None = None,
) -> Any:
    """A dataclass field with its help text and, optionally, a value rule (`allowed` words it for errors)."""
    metadata = {"help": help, "allowed": allowed, "check": check}
    return dataclasses.field(default=default, metadata=metadata)


def one_of(default: str, options: tuple[str, ...], help: str) -> Any:
    """A string field restricted to `options`."""
    return setting(default, help, f"one of {options}", lambda v: v in options)


def member_of(default: Enum, options: tuple[Enum, ...], help: str) -> Any:
    """An enum field restricted to `options`; config files and flags name a member by its str."""
    return setting(default, help, f"one of {tuple(str(o) for o in options)}", lambda v: v in options)


def named(cls: type[E], text: str) -> E | None:
    """The member of enum `cls` whose str is `text` (how config files and checkpoints write it), or None."""
    return next((member for member in cls if str(member) == text), None)


def fraction(default: float, help: str) -> Any:
    """A number field in [0, 1] (EMA factors, rates, thresholds)."""
    return setting(default, help, "in [0, 1]", lambda v: 0 <= v <= 1)


def positive(default: float, help: str) -> Any:
    """A number field strictly above 0."""
    return setting(default, help, "> 0", lambda v: v > 0)


def at_least(default: float, low: float, help: str) -> Any:
    """A number field at or above `low`."""
    return setting(default, help, f">= {low}", lambda v: v >= low)


def validate(config: Any) -> None:
    """Check every field's type and rule (ValueError names the field); ints given for floats become floats."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = _checked_type(f.name, hints[f.name], getattr(config, f.name))
        object.__setattr__(config, f.name, value)
        check = f.metadata.get("check")
        if check is not None and value is not None and not check(value):
            raise ValueError(f"{f.name} must be {f.metadata['allowed']}, got {value!r}")


def from_mapping(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build `cls` from a mapping (e.g. parsed JSON); unknown keys are rejected, the valid names listed."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__} settings must be a mapping of names to values, got {data!r}")
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} field(s) {', '.join(map(str, unknown))}; valid names: {', '.join(valid)}"
        )
    return cls(**data)


def to_plain_dict(config: Any) -> dict[str, Any]:
    """Every field as a JSON-friendly value (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, tuple):
            value = list(value)
        out[f.name] = str(value) if isinstance(value, Enum) else value
    return out


def describe(cls: type, name: str) -> str:
    """One field's help text followed by its default and rule, for a CLI flag's help."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    rule = f.metadata.get("allowed")
    default = f.default if f.default is not dataclasses.MISSING else None
    return field_help(cls, name) + f" (default {_shown(default)}" + (f"; {rule})" if rule else ")")


def field_help(cls: type, name: str) -> str:
    """One field's declared help text, escaped for argparse."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.metadata.get("help", "").replace("%", "%%")


def help_table(cls: type, skip: tuple[str, ...] = ()) -> str:
    """A Markdown table of the fields of `cls`: name, default, rule and help text."""
    lines = ["| field | default | allowed | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = _shown(f.default).replace("|", "\\|").replace("\n", "\\n")
        if len(default) > 40:
            default = default[:37] + "..."
        rule = (f.metadata.get("allowed") or "").replace("|", "\\|")
        lines.append(f"| `{f.name}` | `{default}` | {rule} | {f.metadata.get('help', '')} |")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return repr(str(value)) if isinstance(value, (str, Enum)) else str(value)


def _checked_type(name: str, hint: Any, value: Any) -> Any:
    """The value, if it matches the field's type hint (int, float, bool, str, X | None, tuple[int, int])."""
    if hint is Any:
        return value
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    if options:
        if value is None and type(None) in options:
            return None
        (hint,) = [option for option in options if option is not type(None)]
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is bool and not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    if hint is int and not (is_number and isinstance(value, int)):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if hint is float:
        if not is_number or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {type(value).__name__} {value!r}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    if typing.get_origin(hint) is tuple:
        return _checked_tuple(name, typing.get_args(hint), value)
    if isinstance(hint, type) and issubclass(hint, Enum) and not isinstance(value, hint):
        if not isinstance(value, str):
            kind = type(value).__name__
            raise ValueError(f"{name} must be a {hint.__name__} or its name, got {kind} {value!r}")
        member = named(hint, value)
        return value if member is None else member
    return value


def _checked_tuple(name: str, kinds: tuple[Any, ...], value: Any) -> tuple[Any, ...]:
    """A fixed-length tuple of ints (a JSON list is accepted and converted)."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != len(kinds)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"{name} must be {len(kinds)} ints, got {value!r}")
    return tuple(value)


__all__ = [
    "at_least",
    "describe",
    "fraction",
    "from_mapping",
    "help_table",
    "member_of",
    "named",
    "one_of",
    "positive",
    "setting",
    "to_plain_dict",
    "validate",
]
