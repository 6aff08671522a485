"""A small grammar for the shapes of JSON objects, compiled to fast checking functions.

`shape({...})` is an object whose listed fields must fit when present (others are free),
`list_of(x)` a list of x, `map_of(x)` an object of string keys to x. Each checker returns None
or (path, expected): `("spec.containers[0].ports", "a list")`. Objects are checked by the tens
of thousands per collection, so checkers are plain closures with no per-call allocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (path inside the value, what was expected there); None when the value fits.
Problem = tuple[str, str] | None
Checker = Callable[[Any], Problem]


def _scalar(kinds: tuple[type, ...], expected: str) -> Checker:
    def check(value: Any) -> Problem:
        # type() rather than isinstance(): True is an int to Python but not to Kubernetes.
        return None if type(value) in kinds else ("", expected)

    return check


STRING = _scalar((str,), "a string")
BOOLEAN = _scalar((bool,), "true or false")
INTEGER = _scalar((int,), "an integer")
INT_OR_STRING = _scalar((int, str), "an integer or a string")


def _join(key: str, inner: str) -> str:
    return key + inner if not inner or inner.startswith("[") else f"{key}.{inner}"


def shape(
    fields: dict[str, Checker], *, required: tuple[str, ...] = (), not_null: tuple[str, ...] = ()
) -> Checker:
    """An object whose listed fields fit when present; other keys are free.

    A listed field may be null (unset, to Kubernetes) unless it is `required` or `not_null`
    (read by code that iterates it without a fallback).
    """
    must = tuple(required)
    never_null = frozenset(not_null)

    def check(value: Any) -> Problem:
        if type(value) is not dict:
            return ("", "an object")
        for key, item in value.items():
            checker = fields.get(key)
            if checker is None:
                continue
            if item is None:
                if key in never_null:
                    return (key, "not null")
                continue
            problem = checker(item)
            if problem:
                return (_join(key, problem[0]), problem[1])
        for key in must:
            if value.get(key) is None:
                return (key, "present")
        return None

    return check


def list_of(checker: Checker) -> Checker:
    def check(value: Any) -> Problem:
        if type(value) is not list:
            return ("", "a list")
        for index, item in enumerate(value):
            problem = checker(item)
            if problem:
                return (_join(f"[{index}]", problem[0]), problem[1])
        return None

    return check


def map_of(checker: Checker) -> Checker:
    """A mapping from strings to values (labels, annotations, selectors, resource limits)."""

    def check(value: Any) -> Problem:
        if type(value) is not dict:
            return ("", "an object")
        for key, item in value.items():
            problem = checker(item)
            if problem:
                return (_join(f"[{key[:60]!r}]", problem[0]), problem[1])
        return None

    return check


STRINGS = list_of(STRING)
STRING_MAP = map_of(STRING)
