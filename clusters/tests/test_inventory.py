"""The Inventory's shared derived views, and the collector pause around big parses."""

from __future__ import annotations

import gc

from clusters.inventory import Inventory, KindStatus, gc_paused


def test_it_builds_a_derived_view_once_and_forgets_it_when_objects_change() -> None:
    inventory = Inventory()
    inventory.set_objects("pods", [{"metadata": {"name": "web"}}])
    builds: list[int] = []

    def count_pods(inv: Inventory) -> int:
        builds.append(1)
        return len(inv.items("pods"))

    assert inventory.derived("pod_count", count_pods) == 1
    assert inventory.derived("pod_count", count_pods) == 1
    assert len(builds) == 1

    inventory.set_objects("pods", [])
    assert inventory.derived("pod_count", count_pods) == 0
    inventory.set_missing("pods", KindStatus.FORBIDDEN, "403")
    inventory.derived("pod_count", lambda inv: 0)
    assert len(builds) == 2


def test_it_moves_what_survives_a_pause_out_of_the_young_generation() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        pile = [{"n": [i]} for i in range(50_000)]
    assert gc.isenabled()
    # Left young, the next collections would rescan all 100,000 containers of the pile.
    assert gc.get_count()[0] < 1_000
    assert all(o is not pile for o in gc.get_objects(generation=0))
    del pile


def test_it_leaves_the_collector_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
