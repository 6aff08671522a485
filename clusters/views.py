"""Views of the clusters app: registration, collection requests, runs, connection tests.

The fleet and cluster pages show posture and live in posture.views. Every view starts with
`get_cluster_for_user` (clusters.access) or a permission check; nothing else decides who may
see or do what.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from clusters import kube, node_benchmarks, provider_links, services
from clusters.access import get_cluster_for_user, person
from clusters.crypto import CredentialsUnreadable
from clusters.forms import (
    BundleUploadForm,
    ClusterRegisterForm,
    NodeBenchmarkForm,
    ProviderDocumentForm,
    ProviderLinkForm,
)
from clusters.kube_bench import KubeBenchError
from clusters.kubeconfig import Credentials, KubeconfigError, in_cluster_credentials
from clusters.models import Cluster, CollectionRun
from clusters.resources import BY_KEY
from clusters.rows import runs_context


@require_GET
def cluster_runs_partial(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    context = {**runs_context(cluster), "polled": request.GET.get("polled") == "1"}
    return render(request, "clusters/_runs.html", context)


@require_POST
def cluster_collect(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.add_collectionrun")
    try:
        services.collection_request(
            cluster=cluster, trigger=CollectionRun.Trigger.MANUAL, by=person(request)
        )
    except services.CollectionAlreadyActive as exc:
        messages.warning(request, f"A collection is already {exc.run.status}; wait for it.")
    except services.RegistrationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Collection requested; its status updates below.")
    return redirect(cluster)


def _after_upload(request: HttpRequest, cluster: Cluster) -> HttpResponse:
    """Where an upload leads: the cluster page, whose messages say how the upload went.

    static/js/upload.js sends uploads itself, to show their progress. It is told the page to
    open instead of being redirected: XMLHttpRequest would follow a redirect out of sight and
    the page it fetched would spend the messages meant for the one the user then opens.
    """
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"location": cluster.get_absolute_url()})
    return redirect(cluster)


@require_POST
def cluster_upload(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.add_collectionrun")
    form = BundleUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("bundle", []):
            messages.error(request, str(error))
        return _after_upload(request, cluster)
    bundle = form.cleaned_data["bundle"]
    try:
        services.bundle_upload(
            cluster=cluster, upload=bundle, upload_name=bundle.name, by=person(request)
        )
    except services.CollectionAlreadyActive as exc:
        messages.warning(request, f"A collection is already {exc.run.status}; upload afterwards.")
    except services.RegistrationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Bundle uploaded; it is being evaluated.")
    return _after_upload(request, cluster)


def _form_errors(request: HttpRequest, form: Any) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


@require_POST
def provider_link_save(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    form = ProviderLinkForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(cluster)
    try:
        link = provider_links.provider_link_set(
            cluster=cluster, request=form.link_request(), by=person(request)
        )
    except provider_links.ProviderLinkError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Provider link saved: {link.target} is read in the next collection."
        )
    return redirect(cluster)


@require_POST
def provider_link_remove(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    provider_links.provider_link_remove(cluster=cluster, by=person(request))
    messages.success(request, "Provider link removed; its stored key is deleted.")
    return redirect(cluster)


@require_POST
def provider_document_upload(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    form = ProviderDocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _after_upload(request, cluster)
    upload = form.cleaned_data["document"]
    try:
        document = provider_links.provider_document_upload(
            cluster=cluster,
            kind=form.cleaned_data["kind"],
            upload=upload,
            upload_name=upload.name or "provider.json",
            by=person(request),
        )
    except provider_links.ProviderLinkError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{document.file_name} stored; the next collection uses it unless the bundle or a "
            "provider link supplies this provider's data.",
        )
    return _after_upload(request, cluster)


@require_POST
def provider_document_remove(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    provider_links.provider_document_remove(cluster=cluster, kind=kind, by=person(request))
    messages.success(request, "Uploaded provider document removed.")
    return redirect(cluster)


@require_POST
def node_benchmark_upload(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    form = NodeBenchmarkForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _after_upload(request, cluster)
    upload = form.cleaned_data["results"]
    try:
        stored = node_benchmarks.node_benchmark_upload(
            cluster=cluster,
            node=form.cleaned_data["node"],
            upload=upload,
            upload_name=upload.name or "kube-bench.json",
            by=person(request),
        )
    except KubeBenchError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"kube-bench results for node {stored.node} stored; the next collection judges CIS "
            "sections 1-4 from them unless its bundle or the cluster's kube-bench Job has any.",
        )
    return _after_upload(request, cluster)


@require_POST
def node_benchmark_remove(request: HttpRequest, name: str, node: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    node_benchmarks.node_benchmark_remove(cluster=cluster, node=node, by=person(request))
    messages.success(request, f"Uploaded kube-bench results for node {node} removed.")
    return redirect(cluster)


@require_POST
def cluster_test_connection(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    if not cluster.is_live:
        messages.error(request, f"{cluster} is assessed from evidence bundles; nothing to connect.")
        return redirect(cluster)
    credentials: Credentials | None = None
    try:
        if cluster.source_kind == Cluster.SourceKind.IN_CLUSTER:
            credentials = in_cluster_credentials()
        else:
            credentials = services.cluster_credentials(cluster)
    except (KubeconfigError, CredentialsUnreadable) as exc:
        report = kube.ConnectionReport(ok=False, error=str(exc))
    else:
        report = kube.test_connection(
            credentials, timeout=min(settings.RAMPART_KUBE_REQUEST_TIMEOUT, 15)
        )
    resources = [
        {"key": key, "kind": BY_KEY[key].kind if key in BY_KEY else key, "status": status}
        for key, status in sorted(report.resources.items())
    ]
    context = {
        "cluster": cluster,
        "report": report,
        "error": _scrub(report.error or "", credentials),
        "resources": resources,
        "listable": sum(1 for row in resources if row["status"] == "ok"),
    }
    return render(request, "clusters/connection_report.html", context)


def _scrub(text: str, credentials: Credentials | None) -> str:
    """Belt and braces: kube scrubs its messages, and the view never shows a secret either."""
    if credentials is None:
        return text
    for secret in (
        credentials.token,
        credentials.client_key_data,
        credentials.client_certificate_data,
    ):
        if secret:
            text = text.replace(secret, "***")
    return text


def cluster_register(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.add_cluster"):
        raise PermissionDenied
    form = ClusterRegisterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = data["source_kind"]
        bundle = data.get("bundle") if kind == Cluster.SourceKind.BUNDLE else None
        kubeconfig = data.get("kubeconfig") if kind == Cluster.SourceKind.KUBECONFIG else None
        try:
            cluster = services.cluster_register(
                name=data["name"],
                source_kind=kind,
                kubeconfig=kubeconfig,
                context=data.get("context") or None,
                bundle_upload=bundle,
                bundle_upload_name=bundle.name if bundle else "bundle.tar.gz",
                environment=data.get("environment", ""),
                description=data.get("description", ""),
                owners=data["owners"],
                by=person(request),
            )
        except services.RegistrationError as exc:
            form.add_error(None, _without_secrets(str(exc), kubeconfig))
        else:
            messages.success(request, f"{cluster} registered; its first collection is queued.")
            return redirect(cluster)
    return render(request, "clusters/register.html", {"form": form})


_KUBECONFIG_VALUE = re.compile(r":\s*[\"']?([^\s\"']{8,})")


def _without_secrets(message: str, kubeconfig: str | None) -> str:
    """A YAML error quotes the offending line; never let it echo any part of the kubeconfig."""
    if not kubeconfig:
        return message
    kept = []
    for line in message.splitlines():
        quoted = line.strip().removeprefix("... ").removesuffix(" ...").strip()
        if quoted and (quoted in kubeconfig or set(quoted) <= {"^"}):
            continue  # a snippet of the uploaded text, or the caret under it
        kept.append(line)
    message = "\n".join(kept)
    for value in sorted(set(_KUBECONFIG_VALUE.findall(kubeconfig)), key=len, reverse=True):
        message = message.replace(value, "***")
    return message
