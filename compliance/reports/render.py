"""A report's data as a file: PDF (WeasyPrint from Django templates), CSV or JSON.

Every format is drawn from the same data dict, so the counts agree by construction:
    CSV   one row per guide item: id, title, status, evidence summary, affected count,
          attestation, waiver
    JSON  {"report": {cover, counts, content_sha256}, "items": [the same rows + every
          affected object]}
    PDF   cover, executive summary with the trend chart, checklist, evidence of failing items
          (affected objects capped, with their total), attestations, waivers, changes,
          methodology, fingerprint

The content fingerprint is the SHA-256 of the data as canonical JSON (sorted keys, orjson),
computed before rendering and printed in the PDF.
"""

from __future__ import annotations

import csv
import ctypes.util
import hashlib
import io
import ssl
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from charts import Point, Series, line_chart
from compliance.reports.data import COUNTED
from posture.status import Status

STYLESHEET = Path(__file__).resolve().parent / "report.css"
CSV_COLUMNS = (
    "id",
    "title",
    "status",
    "evidence_summary",
    "affected_count",
    "attestation",
    "waiver",
)
# Affected objects the PDF prints per failing check (the total is always printed beside them).
PDF_AFFECTED_CAP = 10
# Failing clusters the fleet PDF details per item; the rest are named in the item's summary.
PDF_FLEET_CLUSTERS_CAP = 10
PDF_FLEET_AFFECTED_CAP = 5
# Findings listed per change table in the PDF (the counts are complete; the JSON has them all).
PDF_CHANGES_CAP = 15
# A reason this many checklist items share is printed once above the checklist and named by
# its reference beside each item: a year's report of a cluster without node evidence otherwise
# repeats one three-line sentence ninety times, about a third of the PDF's layout time.
PDF_SHARED_REASON_MIN = 3
# ...when it is longer than this: a short one ("unknown on 100") prints where it is used.
PDF_SHARED_REASON_CHARS = 80


def canonical(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_sha256(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


@dataclass(frozen=True)
class Rendered:
    content: bytes
    pages: int | None = None


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{column: item[column] for column in CSV_COLUMNS} for item in data["items"]]


def render_csv(data: dict[str, Any]) -> Rendered:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(data))
    return Rendered(out.getvalue().encode())


def _affected(item: dict[str, Any]) -> list[dict[str, Any]]:
    if "failing" in item:  # a fleet item: each failing cluster's objects
        return [
            {"cluster": f["cluster"], "check": e["check"], **obj}
            for f in item["failing"]
            for e in f["evidence"]
            for obj in e["affected"]
        ]
    return [{"check": e["check"], **obj} for e in item["evidence"] for obj in e["affected"]]


def render_json(data: dict[str, Any], *, fingerprint: str) -> Rendered:
    document = {
        "report": {
            **data["cover"],
            "score": data["summary"]["score"],
            "coverage": data["summary"]["coverage"],
            "counts": data["summary"]["counts"],
            "content_sha256": fingerprint,
        },
        "items": [
            {**{column: item[column] for column in CSV_COLUMNS}, "affected": _affected(item)}
            for item in data["items"]
        ],
    }
    return Rendered(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def trend_chart(trend: list[dict[str, Any]], *, start: str, end: str) -> str:
    points = [(date.fromisoformat(row["day"]), row) for row in trend]
    return line_chart(
        title="Score and coverage by day",
        series=[
            Series("Score", [Point(day, row["score"]) for day, row in points], "series-overall"),
            Series(
                "Coverage", [Point(day, row["coverage"]) for day, row in points], "series-coverage"
            ),
        ],
        x_start=date.fromisoformat(start),
        x_end=date.fromisoformat(end),
        width=680,
        height=230,
        y_label="%",
        chart_id="report-trend",
        interactive=False,  # paper has no pointer: a year is two polylines, not 366 elements
    )


def _capped(rows: list[Any], cap: int) -> dict[str, Any]:
    return {"rows": rows[:cap], "total": len(rows), "more": max(0, len(rows) - cap)}


def pdf_context(data: dict[str, Any], *, fingerprint: str) -> dict[str, Any]:
    cover = data["cover"]
    fleet = cover["kind"] == "fleet"
    failing = [item for item in data["items"] if item["status"] == "fail"]
    for item in failing:
        if fleet:
            item["shown_failing"] = item["failing"][:PDF_FLEET_CLUSTERS_CAP]
            item["more_failing"] = max(0, len(item["failing"]) - PDF_FLEET_CLUSTERS_CAP)
            for row in item["shown_failing"]:
                for evidence in row["evidence"]:
                    evidence["shown"] = evidence["affected"][:PDF_FLEET_AFFECTED_CAP]
        else:
            for evidence in item["evidence"]:
                evidence["shown"] = evidence["affected"][:PDF_AFFECTED_CAP]
    changes = data["changes"]
    counts = data["summary"]["counts"]
    order = [status.value for status in COUNTED]
    ordered = sorted(counts, key=lambda s: order.index(s) if s in order else len(order))
    return {
        "data": data,
        "cover": cover,
        "fleet": fleet,
        "summary": data["summary"],
        "count_rows": [
            {"status": status, "label": Status.label_of(status), "count": count}
            for status in ordered
            for count in (counts[status],)
        ],
        "chart": mark_safe(  # noqa: S308 (the renderer escapes every label it writes)
            trend_chart(
                data["summary"]["trend"], start=cover["window_start"], end=cover["period_end"]
            )
        ),
        "shared_reasons": _shared_reasons(data["items"]),
        "sections": _sections(data["items"]),
        "failing": failing,
        "new": _capped(changes["new"], PDF_CHANGES_CAP),
        "resolved": _capped(changes["resolved"], PDF_CHANGES_CAP),
        "reopened": _capped(changes["reopened"], PDF_CHANGES_CAP),
        "regressions": _capped(changes["regressions"], PDF_CHANGES_CAP),
        "recoveries": _capped(changes["recoveries"], PDF_CHANGES_CAP),
        "fingerprint": fingerprint,
        "affected_cap": PDF_FLEET_AFFECTED_CAP if fleet else PDF_AFFECTED_CAP,
    }


def _shared_reasons(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reasons many items give, in order of first use; each item gets `reason_ref`."""
    uses = Counter(item["evidence_summary"] for item in items if item["evidence_summary"])
    refs: dict[str, dict[str, Any]] = {}
    for item in items:
        reason = item["evidence_summary"]
        if uses[reason] >= PDF_SHARED_REASON_MIN and len(reason) > PDF_SHARED_REASON_CHARS:
            shared = refs.setdefault(
                reason, {"ref": f"R{len(refs) + 1}", "text": reason, "items": uses[reason]}
            )
            item["reason_ref"] = shared["ref"]
    return list(refs.values())


def _sections(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = []
    for item in items:
        if not sections or sections[-1]["id"] != item["section"]:
            sections.append({"id": item["section"], "items": []})
        sections[-1]["items"].append(item)
    return sections


def weasyprint_import() -> None:
    """Import WeasyPrint (once per process) without its shared-library search on Linux.

    WeasyPrint tries each of GObject, Pango, HarfBuzz, fontconfig... under six platform names;
    for every name dlopen cannot open as given, cffi asks ctypes.util.find_library, which on
    Linux runs ldconfig, gcc and ld: 54 processes and 0.3-0.4 s of each report's start-up. The
    Linux sonames (libpango-1.0.so.0, ...) come later in each list and open directly, so during
    the import the search answers "not found". Where they do not open (an unusual layout), the
    import is done again with the real search.
    """
    if "weasyprint" in sys.modules or not sys.platform.startswith("linux"):
        return
    search = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        import weasyprint  # noqa: F401
    except OSError:
        pass  # imported below with the real search
    finally:
        ctypes.util.find_library = search


def render_pdf(data: dict[str, Any], *, fingerprint: str) -> Rendered:
    weasyprint_import()
    from weasyprint import CSS, HTML  # loaded by the worker that renders, not by every page
    from weasyprint.urls import URLFetcher

    # A copy: the context adds what the PDF shows (capped lists) to the data's rows.
    context = pdf_context(orjson.loads(canonical(data)), fingerprint=fingerprint)
    html = render_to_string("compliance/reports/report.html", context)
    # The report references nothing outside itself: one fetcher that refuses every URL (no file
    # or network read on behalf of stored text), with a bare TLS context, since WeasyPrint's
    # default fetcher loads the system CA store for each document and stylesheet it opens.
    fetcher = URLFetcher(allowed_protocols=(), ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    stylesheet = CSS(filename=str(STYLESHEET), url_fetcher=fetcher)
    document = HTML(string=html, url_fetcher=fetcher).render(stylesheets=[stylesheet])
    return Rendered(document.write_pdf(), pages=len(document.pages))


def render(data: dict[str, Any], *, format: str, fingerprint: str) -> Rendered:
    if format == "pdf":
        return render_pdf(data, fingerprint=fingerprint)
    if format == "csv":
        return render_csv(data)
    if format == "json":
        return render_json(data, fingerprint=fingerprint)
    raise ValueError(f"unknown report format {format!r}")
