"""Check tests build inventories by hand; they get objects exactly as collection leaves them.

Every list a test puts into an Inventory goes through the real `trim`, as the live and bundle
sources do, so a field that collection drops can never pass unnoticed in a check's unit test.
"""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import Inventory, trim


@pytest.fixture(autouse=True)
def _objects_as_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    untrimmed = Inventory.set_objects

    def set_objects(self: Inventory, key: str, items: list[dict[str, Any]]) -> None:
        untrimmed(self, key, [trim(key, item) for item in items])

    monkeypatch.setattr(Inventory, "set_objects", set_objects)
