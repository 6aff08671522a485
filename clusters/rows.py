"""Rows of the cluster pages' tables, formatted in Python rather than in templates.

The collection history (20 runs x ~25 kinds) and tables of many rows (the fleet, the affected
objects of dozens of failing checks) are where template includes, filters and {% url %} cost
most of a page's time (issue 5). Every value is escaped here; the output is what the
templates printed. posture.rows formats the posture tables with these helpers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from clusters.models import Cluster, CollectionRun

RUN_STATUS_LABELS = dict(CollectionRun.Status.choices)
_FIELDS_HTML: dict[tuple[Any, ...], str] = {}
_FIELDS_HTML_MAX = 512
_PLACEHOLDER = "PLACEHOLDER"  # a valid slug and str path argument
_URL_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what reverse() leaves unquoted


def decimal_text(value: float, places: int) -> str:
    """`value|floatformat:places` (places >= 0) at a tenth of the template filter's cost."""
    if not math.isfinite(value):
        return str(floatformat(value, places))
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    # floatformat never shows a minus on zero: -0.04 is "0.0", not "-0.0".
    return f"{rounded if rounded else rounded.copy_abs():f}"


def url_for_each(view: str, key: str, **kwargs: str) -> Callable[[str], str]:
    """reverse(view) for many values of its last argument `key`, at the cost of one reverse().

    A reverse() per row costs more than rendering the rest of the row (issue 5). Values are
    quoted as reverse() quotes them.
    """
    before, _, after = reverse(view, kwargs={**kwargs, key: _PLACEHOLDER}).rpartition(_PLACEHOLDER)
    return lambda value: f"{before}{quote(value, safe=_URL_SAFE)}{after}"


def run_row(run: CollectionRun) -> dict[str, Any]:
    """One row of the collection history, formatted here: 20 rows of ~25 kinds each would
    otherwise be ~500 template loop iterations, most of the cluster page's rendering time."""
    created = localtime(run.created_at)
    started = localtime(run.started_at) if run.started_at else None
    return {
        "run": run,
        "status_label": run.state[1],
        "state": run.state[0],
        "created_at": created.isoformat(),
        "created_text": created.strftime("%Y-%m-%d %H:%M"),
        "started_at": started.isoformat() if started else "",
        "started_text": started.strftime("%Y-%m-%d %H:%M:%S") if started else "",
        "objects": sum(v for v in run.object_counts.values() if isinstance(v, int)),
        # Counts are ints, so str() is what the template's localize() printed; this runs ~500
        # times a page and format_html() would cost ten times as much.
        "object_counts": mark_safe(  # noqa: S308  (every value is escaped)
            "".join(
                f"<li>{html.escape(str(kind))}: {html.escape(str(count))}</li>"
                for kind, count in run.object_counts.items()
            )
        ),
        "duration": duration_text(run.duration),
    }


def duration_text(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def references_html(references: list[dict[str, str]]) -> str:
    """A check's references as `_check.html` lists them; ~200 a page, so without format_html()."""
    return mark_safe(  # noqa: S308  (every value is escaped)
        "; ".join(
            f'<span class="ref">{html.escape(ref["guide_label"])} {html.escape(ref["id"])}'
            + (f" ({html.escape(ref['version'])})" if ref.get("version") else "")
            + "</span>"
            for ref in references
        )
    )


def affected_rows_html(objects: list[dict[str, Any]], *, select: str = "") -> str:
    """`_check.html`'s table rows: up to 20 for each of dozens of failing checks, so built here
    (escaped) rather than looped over by the template at four times the cost.

    An object a waiver covers ("waived" in the stored verdict) is marked so. With `select`, each
    row not yet waived starts with a checkbox of that name whose value is the object as a
    waiver names it (Kind/namespace/name).
    """

    def cell(value: Any) -> str:
        return f"<td>{html.escape(str(value))}</td>"

    def row(obj: dict[str, Any]) -> str:
        waived = bool(obj.get("waived"))
        first = ""
        if select:
            key = f"{obj.get('kind', '')}/{obj.get('namespace') or ''}/{obj.get('name', '')}"
            first = (
                "<td></td>"
                if waived
                else '<td><input type="checkbox" name="{}" value="{}" aria-label="{}"></td>'.format(
                    html.escape(select), html.escape(key), html.escape(f"Waive {key}")
                )
            )
        return (
            ('<tr class="object-waived">' if waived else "<tr>")
            + first
            + cell(obj.get("kind", ""))
            + cell(obj.get("namespace") or "—")
            + cell(obj.get("name", ""))
            + cell(obj.get("detail", ""))
            + (
                '<td><span class="badge status-waived">Waived</span></td>'
                if waived
                else "<td></td>"
            )
            + "</tr>"
        )

    return mark_safe(  # noqa: S308  (every value is escaped)
        "".join(row(obj) for obj in objects)
    )


RECENT_RUNS = 20


def runs_context(cluster: Cluster) -> dict[str, Any]:
    """The collection-history table of a cluster (its page and the polled partial)."""
    # The table shows neither kind statuses nor errors: never decode them.
    runs = list(
        cluster.runs.select_related("requested_by").defer(
            "kind_status", "kind_errors", "anonymous_probe"
        )[:RECENT_RUNS]
    )
    return {
        "cluster": cluster,
        "runs": runs,
        "run_rows": [run_row(run) for run in runs],
        "any_active": any(run.is_active for run in runs),
    }


_INPUT_LABELS = {
    "ok": "collected",
    "not_collected": "not collected",
    "forbidden": "forbidden",
    "error": "could not be read",
}


def cluster_rows(cluster: Cluster) -> dict[str, Any]:
    """The cluster page's owners, provider link and uploads, from the shared cache between
    writes (their models' saves and deletes bump the cluster's page data, ClustersConfig).

    Kept without what is secret or large: the link's encrypted credentials, the documents
    themselves and the uploaders' password hashes are never read here.
    """
    from clusters.models import ClusterOwner, NodeBenchmark, ProviderDocument, ProviderLink
    from clusters.page_cache import page_cached

    def build() -> dict[str, Any]:
        # Not through cluster.owners: a related manager puts the cluster (and its encrypted
        # kubeconfig) on every row it returns, and so into the cache.
        return {
            "owners": list(ClusterOwner.objects.filter(cluster_id=cluster.pk).order_by("email")),
            "provider_link": ProviderLink.objects.filter(cluster=cluster)
            .select_related("updated_by")
            .defer("credentials", "updated_by__password")
            .first(),
            "provider_documents": list(
                ProviderDocument.objects.filter(cluster=cluster)
                .select_related("uploaded_by")
                .defer("document", "uploaded_by__password")
                .order_by("kind")
            ),
            "kube_bench_uploads": list(
                NodeBenchmark.objects.filter(cluster=cluster)
                .select_related("uploaded_by")
                .defer("results", "uploaded_by__password")
            ),
        }

    return page_cached("cluster-rows", cluster_id=cluster.pk, build=build)


def provider_context(cluster: Cluster, *, stored: dict[str, Any], can_edit: bool) -> dict[str, Any]:
    """The cluster page's provider section: the link, uploads, and what the last run read.

    `stored`: the cluster's `cluster_rows`, read once by the page for every section."""
    from clusters.forms import ProviderDocumentForm, ProviderLinkForm
    from clusters.providers import PROVIDERS

    link, documents = stored["provider_link"], stored["provider_documents"]
    run = cluster.latest_run
    inputs = []
    if run is not None and run.status in CollectionRun.COMPLETED_STATUSES:
        for provider in PROVIDERS.values():
            status = (run.kind_status or {}).get(provider.input.key)
            if status is None or (status == "not_collected" and run.distribution != provider.kind):
                continue  # another provider's data, simply not there: nothing to say
            inputs.append(
                {
                    "label": provider.label,
                    "key": provider.input.key,
                    "status": status,
                    "status_label": _INPUT_LABELS.get(status, status),
                    "reason": (run.kind_errors or {}).get(provider.input.key, ""),
                }
            )
    initial = (
        {
            "kind": link.kind,
            "project": link.project,
            "location": link.location,
            "name": link.name,
            "credentials_kind": link.credentials_kind,
        }
        if link is not None
        else {}
    )
    return {
        "provider_link": link,
        "provider_documents": documents,
        "provider_inputs": inputs,
        "can_edit_provider": can_edit,
        "provider_link_fields": fields_html(ProviderLinkForm(initial=initial)) if can_edit else "",
        "provider_document_fields": fields_html(ProviderDocumentForm()) if can_edit else "",
    }


def fields_html(form: Any, *names: str, key: tuple[Any, ...] = ()) -> str:
    """The form's fields (`names`, or all) as the templates print them, each in its
    `<div class="field">`, rendered once per process for each form class and state.

    Django renders every field through three templates; the cluster page shows a dozen fields
    to whoever may edit, at more cost than the rest of its live part. The rendering depends on
    the form's class, its data or initial values and its choices only (no form token, no
    reader): `key` names whatever else the caller's form reads (choices from the database).
    """
    state = sorted(form.data.lists()) if form.is_bound else sorted(form.initial.items())
    memo = (type(form), form.is_bound, repr(state), names, key)
    found = _FIELDS_HTML.get(memo)
    if found is None:
        fields = [form[name] for name in names] if names else list(form)
        found = "".join(f'<div class="field">{field.as_field_group()}</div>' for field in fields)
        if len(_FIELDS_HTML) >= _FIELDS_HTML_MAX:
            _FIELDS_HTML.clear()  # bounded: query strings are the reader's to vary
        _FIELDS_HTML[memo] = found
    return mark_safe(found)  # noqa: S308  (Django's own rendering, escaped)


def node_benchmark_context(
    cluster: Cluster, *, stored: dict[str, Any], can_edit: bool
) -> dict[str, Any]:
    """The cluster page's kube-bench section: what the last run read, and the uploads
    (`stored`: the cluster's `cluster_rows`)."""
    from clusters.forms import NodeBenchmarkForm
    from clusters.kube_bench import KUBE_BENCH

    run = cluster.latest_run
    status = reason = ""
    if run is not None and run.status in CollectionRun.COMPLETED_STATUSES:
        status = (run.kind_status or {}).get(KUBE_BENCH.key, "")
        reason = (run.kind_errors or {}).get(KUBE_BENCH.key, "")
    return {
        "kube_bench_status": status,
        "kube_bench_status_label": _INPUT_LABELS.get(status, status.replace("_", " ")),
        "kube_bench_reason": reason,
        "kube_bench_uploads": stored["kube_bench_uploads"],
        "kube_bench_fields": fields_html(NodeBenchmarkForm()) if can_edit else "",
    }
