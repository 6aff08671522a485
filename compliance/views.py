"""Views of the compliance app: checklists, attestations, waivers, the catalog, the audit log.

Every view starts with an access helper that raises PermissionDenied; nothing else decides
who may see or do what. Writes go through compliance.services.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters.access import get_cluster_for_user
from clusters.models import Cluster
from compliance import services
from compliance.approvals import APPROVE_PERMISSION, Approval, approval_for, approvers
from compliance.catalog import catalog_rows
from compliance.checklist import checklists, cluster_state, item_row
from compliance.forms import AttestationForm, AuditFilterForm, CatalogFilterForm, WaiverRequestForm
from compliance.models import Attestation, AuditEvent, Waiver
from compliance.page_data import checklist_page
from posture.checks.base import REGISTRY
from posture.guides import Guide, guide_get, guide_label, guides, verdict_key_check
from posture.status import Status
from posture.verdicts import check_views

AUDIT_PAGE_SIZE = 100


def _get_cluster(
    request: HttpRequest, name: str, permission: str = "clusters.view_cluster"
) -> Cluster:
    if not request.user.has_perm("compliance.view_attestation"):
        raise PermissionDenied
    return get_cluster_for_user(request, name, permission)


def _get_guide(slug: str) -> Guide:
    guide = guide_get(slug)
    if guide is None:
        raise Http404("No such guide")
    return guide


def _get_attestation(request: HttpRequest, pk: int, permission: str) -> Attestation:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(Attestation.objects.select_related("cluster"), pk=pk)


def _get_waiver(request: HttpRequest, pk: int, permission: str) -> Waiver:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(Waiver.objects.select_related("cluster"), pk=pk)


def _item_url(cluster: Cluster, guide: str, item_id: str) -> str:
    return reverse(
        "checklist_item", kwargs={"name": cluster.name, "guide": guide, "item_id": item_id}
    )


@require_GET
def guide_index(request: HttpRequest, name: str) -> HttpResponse:
    cluster = _get_cluster(request, name)
    state = cluster_state(cluster)
    return render(
        request,
        "compliance/guide_index.html",
        {"cluster": cluster, "checklists": checklists(state), "distribution": state.distribution},
    )


@require_GET
def checklist_view(request: HttpRequest, name: str, guide: str) -> HttpResponse:
    cluster = _get_cluster(request, name)
    found = _get_guide(guide)
    context = {
        "cluster": cluster,
        **checklist_page(cluster=cluster, guide=found),
        "statuses": {status.value: status.label for status in Status},
    }
    return render(request, "compliance/checklist.html", context)


@require_GET
def checklist_item(request: HttpRequest, name: str, guide: str, item_id: str) -> HttpResponse:
    cluster = _get_cluster(request, name)
    found = _get_guide(guide)
    item = found.item(item_id)
    if item is None:
        raise Http404("No such item")
    state = cluster_state(cluster, with_affected={verdict_key_check(key) for key in item.checks})
    row = item_row(found, item, state)
    applied = {
        pk for check_row in row.checks if check_row.result for pk in check_row.result.waiver_ids
    }
    waivers = {waiver.pk: waiver for waiver in Waiver.objects.filter(pk__in=applied)}
    for check_row in row.checks:
        if check_row.result:
            check_row.waivers = [waivers[pk] for pk in check_row.result.waiver_ids if pk in waivers]
    user = request.user
    context = {
        "cluster": cluster,
        "guide": found,
        "row": row,
        "today": timezone.localdate(),
        "can_attest": row.attestable and user.has_perm("compliance.add_attestation"),
        "can_revoke_attestation": user.has_perm("compliance.revoke_attestation"),
        "can_request_waiver": user.has_perm("compliance.add_waiver"),
        "form": AttestationForm(),
    }
    return render(request, "compliance/checklist_item.html", context)


@require_POST
def attestation_create(request: HttpRequest, name: str, guide: str, item_id: str) -> HttpResponse:
    cluster = _get_cluster(request, name, "compliance.add_attestation")
    _get_guide(guide)
    form = AttestationForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.attestation_create(
                cluster=cluster,
                guide=guide,
                item_id=item_id,
                by=request.user,
                justification=data["justification"],
                reattest_by=data["reattest_by"],
                evidence_file=data.get("evidence_file"),
                evidence_link=data.get("evidence_link") or "",
            )
        except services.ComplianceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{guide} {item_id} attested.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect(_item_url(cluster, guide, item_id))


@require_POST
def attestation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    attestation = _get_attestation(request, pk, "compliance.revoke_attestation")
    try:
        services.attestation_revoke(attestation=attestation, by=request.user)
    except services.ComplianceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Attestation revoked; the item is manual again.")
    return redirect(_item_url(attestation.cluster, attestation.guide, attestation.item_id))


@require_GET
def attestation_evidence(request: HttpRequest, pk: int) -> FileResponse:
    attestation = _get_attestation(request, pk, "compliance.view_attestation")
    if not attestation.evidence_file:
        raise Http404("No evidence file")
    response = FileResponse(
        attestation.evidence_file.open("rb"),
        as_attachment=True,
        filename=(attestation.evidence_file.name or "evidence").rsplit("/", 1)[-1],
    )
    # Never let the browser render an uploaded file as a page of this origin.
    response["Content-Type"] = "application/octet-stream"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def waiver_list(request: HttpRequest, name: str) -> HttpResponse:
    cluster = _get_cluster(request, name)
    now = timezone.now()
    waivers = list(
        Waiver.objects.for_cluster(cluster).select_related(
            "requested_by", "approved_by", "revoked_by"
        )
    )
    may_approve = approvers(excluding=None)
    for waiver in waivers:
        waiver.current_state = waiver.state(now=now)  # type: ignore[attr-defined]
        check = REGISTRY.get(waiver.check_id)
        waiver.check_title = check.title if check else waiver.check_id  # type: ignore[attr-defined]
        waiver.approvers = [  # type: ignore[attr-defined]
            user.get_username() for user in may_approve if user.pk != waiver.requested_by_id
        ]
    context = {
        "cluster": cluster,
        "waivers": waivers,
        "approval": approval_for(requester=None, approving=may_approve),
        "can_approve": request.user.has_perm("compliance.approve_waiver"),
        "can_revoke": request.user.has_perm("compliance.revoke_waiver"),
    }
    return render(request, "compliance/waiver_list.html", context)


@require_http_methods(["GET", "POST"])
def waiver_request(request: HttpRequest, name: str, check_id: str) -> HttpResponse:
    cluster = _get_cluster(request, name, "compliance.add_waiver")
    check = REGISTRY.get(check_id)
    if check is None:
        raise Http404("No such check")
    evaluation = cluster.latest_evaluation
    views = check_views(evaluation, check_ids=[check_id]) if evaluation else []
    result = views[0] if views else None
    # The cluster and check pages link here with the objects ticked there (?object=...).
    initial = {
        "owner_email": getattr(request.user, "email", ""),
        "objects": request.GET.getlist("object"),
        "whole": request.GET.get("whole") == "1",
    }
    form = WaiverRequestForm(
        request.POST or None, initial=initial, affected=result.affected if result else []
    )
    approval = approval_for(requester=request.user.pk)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            waiver = services.waiver_request(
                cluster=cluster,
                check_id=check_id,
                by=request.user,
                owner_email=data["owner_email"],
                reason=data["reason"],
                expires_at=form.expires_at,
                namespaces=form.chosen_namespaces,
                workloads=form.workloads,
            )
        except services.ComplianceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Waiver #{waiver.pk} requested. It applies once someone other than you "
                f"approves it: {_approvers_sentence(approval)}.",
            )
            return redirect(
                reverse("waiver_list", kwargs={"name": cluster.name}) + f"#waiver-{waiver.pk}"
            )
    context = {
        "cluster": cluster,
        "check": check,
        "form": form,
        "result": result,
        "approval": approval,
    }
    return render(request, "compliance/waiver_request.html", context)


def _approvers_sentence(approval: Approval) -> str:
    if not approval.people:
        return f"nobody can yet (give the {APPROVE_PERMISSION} permission or the Admin role)"
    return approval.people_text


@require_POST
def waiver_approve(request: HttpRequest, pk: int) -> HttpResponse:
    waiver = _get_waiver(request, pk, "compliance.approve_waiver")
    if waiver.requested_by_id == request.user.pk:
        raise PermissionDenied("A waiver must be approved by someone other than its requester.")
    try:
        services.waiver_approve(waiver=waiver, by=request.user)
    except services.ComplianceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Waiver of {waiver.check_id} approved; the stored verdict was derived again."
        )
    return redirect("waiver_list", name=waiver.cluster.name)


@require_POST
def waiver_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    waiver = _get_waiver(request, pk, "compliance.revoke_waiver")
    try:
        services.waiver_revoke(waiver=waiver, by=request.user)
    except services.ComplianceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Waiver of {waiver.check_id} revoked; the stored verdict was derived again."
        )
    return redirect("waiver_list", name=waiver.cluster.name)


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    choices = [(g.slug, g.title) for g in guides().values()]
    choices.append(("rampart", guide_label("rampart")))
    form = CatalogFilterForm(request.GET, guides=choices)
    rows = catalog_rows(**form.filters())
    return render(
        request, "compliance/catalog.html", {"form": form, "rows": rows, "total": len(REGISTRY)}
    )


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("compliance.view_auditevent"):
        raise PermissionDenied
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.for_listing()
    if form.is_valid():
        if form.cleaned_data["cluster"]:
            events = events.filter(cluster_name=form.cleaned_data["cluster"])
        if form.cleaned_data["action"]:
            events = events.filter(action=form.cleaned_data["action"])
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compliance/audit_log.html", {"form": form, "page": page})
