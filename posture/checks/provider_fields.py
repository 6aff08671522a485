"""Reading a provider's document: field paths, and values shown as evidence.

A provider check says what it observed against what passes, with the REST field path, so the
verdict is evidence an auditor can re-check against the JSON: `legacyAbac.enabled = true
(expected false or absent)`. Provider APIs omit fields at their default (false, empty), so an
absent boolean reads as false, and the evidence says "absent" rather than guessing a value.
"""

from __future__ import annotations

from typing import Any

import orjson

from posture.checks.base import Affected

# Failure summaries quote this many objects' evidence; the affected list holds every one.
SHOWN_DETAILS = 3


class _Absent:
    """A field the document leaves out: falsy, so `value or default` reads like a missing key."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def at(document: Any, path: str) -> Any:
    """The value at a dotted path (`privateClusterConfig.enablePrivateNodes`), or ABSENT."""
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def truthy(document: Any, path: str) -> bool:
    return at(document, path) is True


def shown(value: Any) -> str:
    """A value as the JSON prints it; `absent` for a field the document leaves out."""
    if value is ABSENT:
        return "absent"
    return orjson.dumps(value).decode()


def observed(path: str, value: Any, expected: str) -> str:
    """`path = value (expected ...)`: one fact of a failure."""
    return f"{path} = {shown(value)} (expected {expected})"


def fact(path: str, value: Any) -> str:
    """`path = value`: one fact of a pass."""
    return f"{path} = {shown(value)}"


def said(document: Any, path: str, expected: str) -> str:
    """`observed` for the value the document holds at `path`."""
    return observed(path, at(document, path), expected)


def details_summary(what: str, affected: list[Affected], judged: int, objects: str) -> str:
    """`what (n of m objects): detail; detail; detail; and k more`."""
    shown = "; ".join(item.detail for item in affected[:SHOWN_DETAILS])
    more = len(affected) - SHOWN_DETAILS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{what} ({len(affected)} of {judged} {objects}): {shown}{tail}"
