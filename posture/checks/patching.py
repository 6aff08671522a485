"""Patching checks: the control plane and version-bearing add-ons against the release catalog.

Versions come from `/version` and add-on image tags; the facts they are judged against (minor
support windows, latest patches, CVE ranges) come from `posture.release_catalog`, never from
this module. Provider builds (`-gke.N`, `+k3s1`) are judged by their upstream patch and say
that the provider may have backported fixes. Node checks live in `patching_nodes.py`; importing
it registers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.image_refs import ImageRef, parse_image
from posture.checks.patching_nodes import (
    PATCH_REFERENCES,
    api_version,
    behind_text,
    control_plane_affected,
    cve_list,
    fix_advice,
    skew_limit,
    today_of,
    unknown_minor,
    with_note,
)
from posture.release_catalog import get_catalog
from posture.release_schema import SupportStatus
from posture.release_versions import parse_version
from posture.workloads import WORKLOAD_NEEDS, Workload, workloads

CONTROL_PLANE_COMPONENTS = ("apiserver", "controller-manager")


# -- control plane --------------------------------------------------------------------------


@check(
    id="patching.control_plane_eol",
    title="Control plane runs an end-of-life Kubernetes minor",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "An end-of-life minor gets no more patches: every CVE found from now on stays open. "
        "Critical when a critical CVE is already unfixed for it."
    ),
    remediation=(
        "Upgrade one minor at a time (newest patch of the current minor first) to a supported "
        "minor; on GKE enrol in a release channel."
    ),
    needs_version=True,
    references=PATCH_REFERENCES,
)
def control_plane_eol(inventory: Inventory, context: CheckContext) -> Outcome:
    version = api_version(inventory)
    if isinstance(version, Outcome):
        return version
    catalog, today = get_catalog(), today_of(context)
    status = catalog.minor_status(version.minor_key, today)
    release = catalog.release(version.minor_key)
    if status == SupportStatus.UNKNOWN:
        return unknown_minor(catalog, version)
    if status == SupportStatus.EOL:
        since = f"on {release.eol}" if release else "before every minor in the catalog"
        detail = f"v{version.upstream}: Kubernetes {version.minor_key} reached end of life {since}"
        critical = [
            cve
            for component in CONTROL_PLANE_COMPONENTS
            for cve in catalog.cves_affecting(component, version)
            if cve.severity == "critical"
        ]
        if critical:
            detail += f"; critical: unfixed critical CVE {cve_list(critical)}"
        summary = detail
        if version.is_provider_build:
            summary += f" (upstream dates; {version.provider}'s own support window may be longer)"
        return Outcome.failed([control_plane_affected(detail)], with_note(summary, version))
    assert release is not None  # known status implies a catalogued minor
    if status == SupportStatus.MAINTENANCE:
        # Dates only, no "in N days": a text that changes daily would defeat shared verdicts.
        return Outcome.passed(
            f"{version.minor_key} is in maintenance mode since {release.maintenance_start}: "
            f"security fixes only, end of life on {release.eol}: plan the upgrade"
        )
    return Outcome.passed(
        f"{version.minor_key} is supported; maintenance mode from {release.maintenance_start}, "
        f"end of life {release.eol}"
    )


@check(
    id="patching.control_plane_patch",
    title="Control plane is behind the latest patch of its minor",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "Patch releases carry the security fixes of a minor; every patch behind is a set of "
        "known, published bugs still open."
    ),
    remediation="Upgrade the control plane to the newest patch of its minor.",
    needs_version=True,
    references=PATCH_REFERENCES,
)
def control_plane_patch(inventory: Inventory, context: CheckContext) -> Outcome:
    version = api_version(inventory)
    if isinstance(version, Outcome):
        return version
    catalog = get_catalog()
    behind = behind_text(catalog, version, today_of(context))
    if behind is None:
        return unknown_minor(catalog, version)
    if not behind:
        return Outcome.passed(
            with_note(f"v{version.upstream} is the latest patch of {version.minor_key}", version)
        )
    detail = f"v{version.upstream}: {behind}"
    return Outcome.failed([control_plane_affected(detail)], with_note(detail, version))


@check(
    id="patching.control_plane_cves",
    title="Known CVEs affect the control-plane version",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "The API server and controller-manager version has published vulnerabilities with "
        "fixes available in a newer patch or minor."
    ),
    remediation="Upgrade the control plane to a patch that fixes each listed CVE.",
    needs_version=True,
    references=PATCH_REFERENCES,
)
def control_plane_cves(inventory: Inventory, context: CheckContext) -> Outcome:
    version = api_version(inventory)
    if isinstance(version, Outcome):
        return version
    catalog = get_catalog()
    cves = [
        (component, cve)
        for component in CONTROL_PLANE_COMPONENTS
        for cve in catalog.cves_affecting(component, version)
    ]
    if not cves:
        return Outcome.passed(
            with_note(f"no CVE in catalog {catalog.version} affects v{version.upstream}", version)
        )
    # One finding per CVE, so each resolves on its own as patches land.
    affected = [
        control_plane_affected(
            f"v{version.upstream}: {cve.id} ({cve.severity}, {component}): {cve.summary}; "
            f"{cve.fix_text(version)}"
        )
        for component, cve in cves
    ]
    ids = ", ".join(cve.id for _, cve in cves)
    return Outcome.failed(
        affected, with_note(f"{len(cves)} known CVEs affect v{version.upstream}: {ids}", version)
    )


# -- add-ons in workloads -------------------------------------------------------------------

_INGRESS_NGINX = (
    "ingress-nginx/controller",
    "kubernetes-ingress-controller/nginx-ingress-controller",
)


def _addon_containers(
    inventory: Inventory, match: Callable[[ImageRef], bool]
) -> Iterator[tuple[Workload, JSON, ImageRef]]:
    for workload in workloads(inventory):
        for _, container in workload.containers():
            ref = parse_image(str(container.get("image") or ""))
            if match(ref):
                yield workload, container, ref


@check(
    id="patching.ingress_nginx_cves",
    title="ingress-nginx controller with known CVEs (IngressNightmare)",
    area=Area.PATCHING,
    severity=Severity.CRITICAL,
    rationale=(
        "IngressNightmare (CVE-2025-1974) lets anyone who reaches the admission webhook run "
        "code in the controller, which can read every Secret in the cluster."
    ),
    remediation=(
        "Upgrade the controller to a fixed release (1.11.5/1.12.1 for IngressNightmare, "
        "1.13.7/1.14.3 for the 2026 CVEs) or disable its admission webhook; plan a move off "
        "the retired project."
    ),
    evidence=WORKLOAD_NEEDS,
    references=PATCH_REFERENCES,
)
def ingress_nginx_cves(inventory: Inventory, context: CheckContext) -> Outcome:
    catalog = get_catalog()
    found = list(_addon_containers(inventory, lambda ref: ref.repository.endswith(_INGRESS_NGINX)))
    if not found:
        return Outcome.not_applicable("no ingress-nginx controller found")
    affected: list[Affected] = []
    unknown: list[str] = []
    for workload, container, ref in found:
        version = parse_version(ref.tag)
        if version is None:
            unknown.append(f"{workload.namespace}/{workload.name}")
            continue
        cves = catalog.cves_affecting("ingress-nginx", version)
        if cves:
            detail = (
                f"container {container.get('name')}: controller {ref.tag}: {cve_list(cves)}; "
                f"{fix_advice(cves, version)}"
            )
            affected.append(Affected(workload.kind, workload.namespace, workload.name, detail))
    if affected:
        return Outcome.failed(affected, f"{len(affected)} ingress-nginx controllers with CVEs")
    if unknown:
        return Outcome.unknown(f"controller version not in the image tag: {', '.join(unknown)}")
    return Outcome.passed(f"{len(found)} ingress-nginx controllers on fixed releases")


@check(
    id="patching.kube_proxy_skew",
    title="kube-proxy version skew outside the supported policy",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "kube-proxy must not be newer than the API server nor more than 3 minors older (2 "
        "before 1.25); a stale kube-proxy also keeps its own CVEs (e.g. CVE-2020-8558)."
    ),
    remediation="Upgrade the kube-proxy DaemonSet (or node image) with the control plane.",
    evidence=WORKLOAD_NEEDS,
    needs_version=True,
    references=PATCH_REFERENCES,
)
def kube_proxy_skew(inventory: Inventory, context: CheckContext) -> Outcome:
    api = api_version(inventory)
    if isinstance(api, Outcome):
        return api
    catalog = get_catalog()
    # The image tag, not nodeInfo.kubeProxyVersion, which is deprecated (KEP-4004).
    found = list(
        _addon_containers(inventory, lambda ref: ref.basename.split("-")[:2] == ["kube", "proxy"])
    )
    if not found:
        return Outcome.not_applicable("no kube-proxy found (replaced by the CNI, e.g. Cilium)")
    affected: list[Affected] = []
    judged = 0
    for workload, _, ref in found:
        version = parse_version(ref.tag)
        if version is None:
            continue
        judged += 1
        behind = (api.major - version.major) * 100 + api.minor - version.minor
        problems: list[str] = []
        if behind < 0:
            problems.append(f"newer than the API server v{api.upstream}")
        elif behind > skew_limit(version):
            problems.append(f"{behind} minors older than the API server v{api.upstream}")
        if cves := catalog.cves_affecting("kube-proxy", version):
            problems.append(cve_list(cves))
        if problems:
            detail = f"kube-proxy {ref.tag}: {'; '.join(problems)}"
            affected.append(Affected(workload.kind, workload.namespace, workload.name, detail))
    if not judged:
        return Outcome.unknown("kube-proxy runs without a version tag")
    return Outcome.from_affected(
        affected,
        passed=f"kube-proxy is within the supported skew of v{api.upstream}",
        failed="{count} kube-proxy workloads outside the supported skew",
    )
