"""Declarative validation of frozen config dataclasses.

A field states its checks in its metadata (`param`: bounds, choices, percent, a field it may
not fall below); `validate` type-checks and coerces an instance from its type hints and that
metadata, then runs the class's cross-field rules. Messages start with the field's name.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jaxaxon.echo import brief
from jaxaxon.suggest import did_you_mean

__all__ = [
    "Bound",
    "NON_NEGATIVE",
    "POSITIVE",
    "Rule",
    "check_keys",
    "interval",
    "param",
    "unknown_choice",
    "validate",
]

# A cross-field rule: returns the message (starting with a field name) when violated, else None.
Rule = Callable[[Any], "str | None"]


@dataclasses.dataclass(frozen=True)
class Bound:
    """An interval a number must lie in; a None end is unbounded.

    Attributes:
      low: lower end, or None.
      high: upper end, or None.
      low_open: the lower end itself is excluded.
      high_open: the upper end itself is excluded.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, x: float) -> bool:
        """True when ``x`` lies in the interval."""
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return self.high is None or (x < self.high if self.high_open else x <= self.high)

    def describe(self, noun: str, unit: str = "") -> str:
        """``noun`` qualified by the interval: ``"a positive number"``, ``"an integer in 1..8"``,
        ``"a number in (0.0, 10.0]"``, ``"an integer >= 1"``; ``unit`` follows the interval."""
        lo, hi = self.low, self.high
        if hi is None and lo == 0:
            return _qualified("positive" if self.low_open else "non-negative", noun)
        unit = f" {unit}" if unit else ""
        if hi is None:
            return f"{noun} {'>' if self.low_open else '>='} {lo}{unit}"
        if lo is None:
            return f"{noun} {'<' if self.high_open else '<='} {hi}{unit}"
        if not (self.low_open or self.high_open):
            return f"{noun} in {lo}..{hi}{unit}"
        if self.low_open and self.high_open:
            return f"{noun} strictly between {lo} and {hi}{unit}"
        return f"{noun} in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}{unit}"


POSITIVE = Bound(0, low_open=True)
NON_NEGATIVE = Bound(0)


def interval(bounds: Iterable[Bound]) -> Bound:
    """The intersection of ``bounds``: the interval a value must lie in to pass all of them
    (``Bound()``, unbounded, for none)."""
    low = high = None
    low_open = high_open = False
    for b in bounds:
        if b.low is not None and (low is None or b.low > low or (b.low == low and b.low_open)):
            low, low_open = b.low, b.low_open
        if b.high is not None and (high is None or b.high < high or (b.high == high and b.high_open)):
            high, high_open = b.high, b.high_open
    return Bound(low, high, low_open, high_open)


def _qualified(adjective: str, noun: str) -> str:
    for article in ("a ", "an "):
        if noun.startswith(article):
            return f"a {adjective} {noun[len(article):]}"
    return f"{adjective} {noun}"


def param(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    bounds: Bound | Sequence[Bound] = (),
    choices: Sequence[str] | None = None,
    percent: bool = False,
    what: str | None = None,
    unit: str = "",
    not_below: str | None = None,
    margin: float = 0,
    **extra: Any,
) -> Any:
    """A dataclass field whose metadata holds its checks (read by `validate`).

    Args:
      default: the default value (immutable).
      doc: a one-line description.
      bounds: interval(s) a number, or both ends of a ``(min, max)`` range, must lie in;
        checked in order, so a coarse bound (`POSITIVE`) can come before a finer one.
      choices: the allowed strings (for a tuple of strings: the allowed items).
      percent: a percentage: adds the bound 0..100 and names the value "a percentage".
      what: how messages name the expected value (default from the type: "an integer",
        "a number", "a range").
      unit: unit written after an interval in messages (``"pixels"``).
      not_below: a field this one may not be smaller than (the ``Min...`` of a ``Max...``).
      margin: with ``not_below``: this field must exceed that one by at least ``margin``.
      **extra: further metadata for other readers (e.g. ``to_dict``).
    """
    bounds = (bounds,) if isinstance(bounds, Bound) else tuple(bounds)
    if percent:
        bounds += (Bound(0, 100),)
        what = what or "a percentage"
    meta = {
        "doc": doc,
        "bounds": bounds,
        "choices": tuple(choices) if choices else None,
        "percent": percent,
        "what": what,
        "unit": unit,
        "not_below": not_below,
        "margin": margin,
        **extra,
    }
    return dataclasses.field(default=default, metadata=meta)


def unknown_choice(value: object, choices: Sequence[str], noun: str = "value") -> str:
    """``"unknown value 'x' (choose one of a, b); did you mean 'a'?"``."""
    return f"unknown {noun} {brief(value)} (choose one of {', '.join(choices)}){did_you_mean(value, choices)}"


def check_keys(
    keys: Iterable[object], known: type | Iterable[str], error: type[Exception], *, noun: str = "key", prefix: str = ""
) -> None:
    """Raises ``error("unknown key 'x'; did you mean 'y'?")`` for the first key not in ``known``.

    Args:
      keys: the given names.
      known: the valid names, or a dataclass whose field names they are.
      error: the exception type to raise.
      noun: what a key is called in the message ("key", "option").
      prefix: written before the key and the suggestion (``"real."``).
    """
    names = [f.name for f in dataclasses.fields(known)] if isinstance(known, type) else list(known)
    for key in keys:
        if key not in names:
            raise error(f"unknown {noun} {brief(prefix + str(key))}{did_you_mean(key, names, prefix)}")


def validate(obj: Any, error: type[Exception] = ValueError, *, prefix: str = "", rules: Iterable[Rule] = ()) -> None:
    """Checks a frozen dataclass instance in place; call it from ``__post_init__``.

    In order: every field's type (JSON spellings are coerced and stored: 0/1 for booleans,
    integral floats for integers, a number for a ``(min, max)`` range, a string for a tuple
    of strings) and choices; every field's bounds; every ``not_below`` pair; then ``rules``.

    Args:
      obj: the dataclass instance.
      error: the exception type raised.
      prefix: written before field names in messages (``"model."``).
      rules: cross-field rules, run in order once every field is valid.

    Raises:
      error: naming the first invalid field.
    """
    specs = _specs(type(obj))
    given = {spec.name: getattr(obj, spec.name) for spec in specs}
    for spec in specs:
        try:
            value = _coerce(spec, given[spec.name])
        except _Invalid as err:
            raise error(f"{prefix}{spec.name}: {err}") from None
        if value is not given[spec.name]:
            object.__setattr__(obj, spec.name, value)
    messages = itertools.chain(  # lazily, so that rules only see valid fields
        (_outside_bounds(spec, getattr(obj, spec.name), given[spec.name]) for spec in specs),
        (_below_floor(spec, obj, prefix) for spec in specs),
        (rule(obj) for rule in rules),
    )
    message = next((m for m in messages if m), None)
    if message:
        raise error(prefix + message)


def _outside_bounds(spec: _Spec, value: Any, given: Any) -> str | None:
    if value is None or spec.kind not in ("int", "float", "range"):
        return None
    ends = value if spec.kind == "range" else (value,)
    for bound in spec.meta.get("bounds", ()):
        if not all(bound.holds(x) for x in ends):
            return f"{spec.name}: expected {bound.describe(spec.noun, spec.meta.get('unit', ''))}, got {brief(given)}"
    return None


def _below_floor(spec: _Spec, obj: Any, prefix: str) -> str | None:
    low_name = spec.meta.get("not_below")
    if low_name is None:
        return None
    low, high, margin = getattr(obj, low_name), getattr(obj, spec.name), spec.meta.get("margin", 0)
    if low is None or high is None:
        return None
    if margin and high - low < margin:
        unit = " (percent)" if spec.meta.get("percent") else ""
        got = f"{brief(low)}..{brief(high)}"
        return f"{spec.name}: must exceed {prefix}{low_name} by at least {margin}{unit}, got {got}"
    if low > high:
        return f"{low_name} > {prefix}{spec.name}: {brief(low)} > {brief(high)}"
    return None


# --- fields: kinds from the type hints -------------------------------------------------------


class _Invalid(Exception):
    """A field's value is invalid; the message lacks the field name."""


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    kind: str  # bool, int, float, str, range, strs, instance or any
    cls: type | None  # the class of an "instance" field
    optional: bool  # None is allowed
    meta: Any

    @property
    def noun(self) -> str:
        default = {"int": "an integer", "float": "a number", "range": "a range"}[self.kind]
        return self.meta.get("what") or default


@functools.cache
def _specs(cls: type) -> tuple[_Spec, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(_spec(f.name, hints[f.name], f.metadata) for f in dataclasses.fields(cls))


def _spec(name: str, hint: Any, meta: Any) -> _Spec:
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        optional = True
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else Any
    cls = None
    if hint in (bool, int, float, str):
        kind = hint.__name__
    elif typing.get_origin(hint) is tuple and typing.get_args(hint) == (float, float):
        kind = "range"
    elif typing.get_origin(hint) is tuple and typing.get_args(hint) == (str, Ellipsis):
        kind = "strs"
    elif isinstance(hint, type):
        kind, cls = "instance", hint
    else:
        kind = "any"
    return _Spec(name, kind, cls, optional, meta)


def _coerce(spec: _Spec, value: Any) -> Any:
    kind, choices = spec.kind, spec.meta.get("choices")
    if value is None and spec.optional:
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise _Invalid(f"expected 0/1 or true/false, got {brief(value)}")
    if kind in ("int", "float"):
        return _number(value, spec, integer=kind == "int")
    if kind == "range":
        items = list(value) if isinstance(value, (list, tuple)) else [value, value]
        if len(items) != 2:
            raise _Invalid(f"expected a number or a [min, max] pair, got {brief(value)}")
        pair = tuple(_number(item, spec, integer=False) for item in items)
        if pair[0] > pair[1]:
            raise _Invalid(f"min > max in range {list(pair)!r}")
        return pair
    if kind == "str":
        if not isinstance(value, str):
            raise _Invalid(f"expected a string, got {type(value).__name__} {brief(value)}")
        _check_choice(value, choices)
        return value
    if kind == "strs":
        items = (value,) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) and v for v in items):
            raise _Invalid(f"expected a list of non-empty strings, got {brief(value)}")
        for item in items:
            _check_choice(item, choices)
        return items if type(items) is tuple else tuple(items)
    if kind == "instance" and not isinstance(value, spec.cls):
        name = spec.cls.__name__
        raise _Invalid(f"expected {'an' if name[0].lower() in 'aeiou' else 'a'} {name}, got {type(value).__name__}")
    return value


def _number(value: Any, spec: _Spec, integer: bool) -> int | float:
    noun = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"expected {noun}, got {type(value).__name__} {brief(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        allowed = interval(spec.meta.get("bounds", ()))
        if allowed == Bound():
            expected = "an integer" if integer else "a finite number"
        else:
            expected = allowed.describe(spec.noun, spec.meta.get("unit", ""))
        raise _Invalid(f"expected {expected}, got {value!r}")
    if integer:
        if value != int(value):
            raise _Invalid(f"expected an integer, got {brief(value)}")
        return value if type(value) is int else int(value)
    return value if type(value) is float else float(value)


def _check_choice(value: str, choices: Sequence[str] | None) -> None:
    if choices and value not in choices:
        raise _Invalid(unknown_choice(value, choices))
