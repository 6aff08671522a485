"""What the PDF prints from a report's data, before WeasyPrint: shared reasons, the import."""

from __future__ import annotations

import ctypes.util
import gc
from typing import Any

from clusters.inventory import gc_paused
from compliance.reports.render import (
    PDF_SHARED_REASON_MIN,
    _shared_reasons,
    weasyprint_import,
)

NODE = (
    "needs node-level evidence (no kube-bench results imported): import kube-bench --json "
    "output (kube-bench/<node>.json in a bundle, an upload on the cluster page)"
)


def item(item_id: str, reason: str) -> dict[str, Any]:
    return {"id": item_id, "evidence_summary": reason}


def test_it_prints_a_reason_many_items_share_once_and_names_it_beside_each() -> None:
    items = [item(f"1.{n}", NODE) for n in range(PDF_SHARED_REASON_MIN)]
    items += [item("2.1", "3 privileged containers."), item("2.2", ""), item("2.3", NODE)]

    shared = _shared_reasons(items)

    assert shared == [{"ref": "R1", "text": NODE, "items": PDF_SHARED_REASON_MIN + 1}]
    assert [row.get("reason_ref") for row in items] == ["R1"] * 3 + [None, None, "R1"]


def test_it_keeps_reasons_few_items_share_or_short_ones_beside_their_items() -> None:
    items = [item("1.1", NODE), item("1.2", NODE)]
    items += [item(f"2.{n}", "unknown on 100") for n in range(PDF_SHARED_REASON_MIN)]

    assert _shared_reasons(items) == []
    assert all("reason_ref" not in row for row in items)


def test_it_imports_weasyprint_and_gives_the_library_search_back() -> None:
    search = ctypes.util.find_library

    weasyprint_import()

    import weasyprint

    assert ctypes.util.find_library is search
    assert weasyprint.HTML(string="<p>x</p>").write_pdf().startswith(b"%PDF")


def test_it_pauses_the_cyclic_collector_for_a_build_and_leaves_it_as_it_was() -> None:
    assert gc.isenabled()
    with gc_paused(cycles=True):
        assert not gc.isenabled()
    assert gc.isenabled()

    gc.disable()
    try:
        with gc_paused(cycles=True):
            pass
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()
