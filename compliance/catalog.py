"""The check catalog as a browsable list: search and filters run on the in-memory REGISTRY."""

from __future__ import annotations

from dataclasses import dataclass

from posture.checks.base import REGISTRY, Check
from posture.guides import Guide, Item, items_for_check


@dataclass
class CatalogRow:
    check: Check
    items: list[tuple[Guide, Item]]

    @property
    def guide_slugs(self) -> set[str]:
        return {ref.guide for ref in self.check.references} | {g.slug for g, _ in self.items}


def _matches(check: Check, words: list[str]) -> bool:
    text = " ".join(
        [check.id, check.title, check.rationale, *(f"{r.id} {r.title}" for r in check.references)]
    ).lower()
    return all(word in text for word in words)


def catalog_rows(
    *, q: str = "", area: str = "", severity: str = "", guide: str = ""
) -> list[CatalogRow]:
    """Checks matching every given filter, in area then id order."""
    words = q.lower().split()
    rows = []
    for check in sorted(REGISTRY.values(), key=lambda c: (c.area.value, c.id)):
        if area and check.area.value != area:
            continue
        if severity and check.severity.value != severity:
            continue
        if words and not _matches(check, words):
            continue
        row = CatalogRow(check=check, items=items_for_check(check.id))
        if guide and guide not in row.guide_slugs:
            continue
        rows.append(row)
    return rows
