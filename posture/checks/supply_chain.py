"""Supply-chain checks: what images run, where they come from, and what the scanner found.

Images are judged per owning workload (Deployment, not Pod), templates included, so a
Deployment scaled to zero still counts. Crypto-miner heuristics live in
`supply_chain_miners.py` and admission control in `supply_chain_admission.py`; importing them
here registers their checks with the catalog.
"""

from __future__ import annotations

from collections import defaultdict

from clusters.inventory import JSON, Inventory, KindStatus
from posture.checks.base import Affected, Area, CheckContext, Outcome, Reference, Severity, check
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.image_refs import (
    DOCKER_HUB_ALIASES,
    ImageRef,
    container_images,
    parse_image,
    workload_affected,
)
from posture.workloads import WORKLOAD_NEEDS, workloads

GKE_L4 = GKE("L4", title="Binary Authorization / trusted images")
CIS_GKE_5_1_4 = CIS_GKE("5.1.4", title="Only trusted container images")
NSA_POD = NSA("Pod security", title="Build secure images; scan them")
CIS_5_5_1 = CIS("5.5.1", title="Image provenance via ImagePolicyWebhook")


# -- image checks ---------------------------------------------------------------------------


@check(
    id="supply_chain.mutable_tags",
    title="Images use mutable tags (:latest or no tag)",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "`:latest` or an untagged image means whatever was pushed last: a rollout, reschedule "
        "or node replacement can pull different code than was reviewed, and a poisoned push "
        "reaches the cluster without any change to the manifest (the 2018 Docker Hub miners)."
    ),
    remediation=(
        "Reference a release tag, better a digest (`repo@sha256:...`), and let CI bump it."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(NSA_POD, GKE_L4),
)
def mutable_tags(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        workload_affected(
            workload,
            f"container {container.get('name')}: image {ref.raw} "
            + ("has no tag" if not ref.tag else "uses :latest"),
        )
        for workload in workloads(inventory)
        for container, ref in container_images(workload)
        if ref.mutable
    ]
    return Outcome.from_affected(
        affected,
        passed="every image names a fixed tag or digest",
        failed="{count} containers run a mutable tag",
    )


@check(
    id="supply_chain.digest_pinning",
    title="Images are not pinned by digest",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.LOW,
    rationale=(
        "Tags can be moved in the registry; only a digest names immutable content. Binary "
        "Authorization and signature policies verify digests, not tags."
    ),
    remediation="Deploy images as `repo:tag@sha256:<digest>` (most release tooling can emit it).",
    evidence=WORKLOAD_NEEDS,
    references=(GKE_L4, CIS_GKE_5_1_4, NSA_POD),
)
def digest_pinning(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        workload_affected(
            workload, f"container {container.get('name')}: image {ref.raw} is not pinned by digest"
        )
        for workload in workloads(inventory)
        for container, ref in container_images(workload)
        if not ref.pinned
    ]
    return Outcome.from_affected(
        affected,
        passed="every image is pinned by digest",
        failed="{count} containers run images without a digest",
    )


@check(
    id="supply_chain.pull_policy_latest",
    title=":latest images without imagePullPolicy Always",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.LOW,
    rationale=(
        "With `:latest` and IfNotPresent/Never, each node runs whatever `latest` was when it "
        "first pulled it: replicas silently differ (kubescape C-0075)."
    ),
    remediation="Pin a tag or digest; failing that, set `imagePullPolicy: Always`.",
    evidence=WORKLOAD_NEEDS,
    # No guide this project cites has the rule; kubescape's control is its source.
    references=(Reference("rampart", "supply_chain.pull_policy_latest", title="kubescape C-0075"),),
)
def pull_policy_latest(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = []
    for workload in workloads(inventory):
        for container, ref in container_images(workload):
            # An omitted policy is what the API server defaults (Always for :latest), so only
            # an explicit other value is a finding.
            policy = container.get("imagePullPolicy") or "Always"
            if ref.mutable and policy != "Always":
                affected.append(
                    workload_affected(
                        workload,
                        f"container {container.get('name')}: image {ref.raw} with "
                        f"imagePullPolicy {policy}",
                    )
                )
    return Outcome.from_affected(
        affected,
        passed="no :latest image relies on a cached pull",
        failed="{count} containers run :latest without imagePullPolicy Always",
    )


def _allowed(ref: ImageRef, entries: tuple[str, ...]) -> bool:
    for entry in entries:
        prefix = entry.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        host, slash, path = prefix.partition("/")
        host = "docker.io" if host.lower() in DOCKER_HUB_ALIASES else host.lower()
        if host.startswith("*."):
            if ref.registry.endswith(host[1:]):
                return True
            continue
        prefix = f"{host}{slash}{path}"
        # Match on path boundaries: "gcr.io/team" allows gcr.io/team/app, not gcr.io/teamx.
        if ref.name == prefix or ref.name.startswith(prefix + "/"):
            return True
    return False


@check(
    id="supply_chain.allowed_registries",
    title="Images from registries outside the allow-list",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "Images pulled from registries the organisation does not control or mirror bypass its "
        "scanning and signing; public registries are where back-doored images were published."
    ),
    remediation=(
        "Mirror the image into an allowed registry, or add the registry to the allow-list; "
        "enforce the list at admission (Binary Authorization, Gatekeeper, Kyverno)."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(GKE_L4, CIS_GKE_5_1_4, CIS_5_5_1, NSA_POD),
)
def allowed_registries(inventory: Inventory, context: CheckContext) -> Outcome:
    if not context.allowed_registries:
        return Outcome.not_applicable("no registry allow-list is configured")
    affected = [
        workload_affected(
            workload,
            f"container {container.get('name')}: image {ref.raw} from {ref.registry} "
            "is not in the allow-list",
        )
        for workload in workloads(inventory)
        for container, ref in container_images(workload)
        if not _allowed(ref, context.allowed_registries)
    ]
    return Outcome.from_affected(
        affected,
        passed="every image comes from an allowed registry",
        failed="{count} containers run images from registries outside the allow-list",
    )


def _digest_of(image_id: str) -> str | None:
    # Only repository digests are comparable; a bare local image id differs per runtime.
    _, at, digest = image_id.rpartition("@")
    return digest if at and digest else None


@check(
    id="supply_chain.image_tag_drift",
    title="One tag runs as different image digests (the tag moved)",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "Pods of one workload started from the same tag but resolved to different digests: the "
        "tag was re-pushed between pulls, so replicas run different code than was reviewed."
    ),
    remediation="Pin the image by digest and roll the workload so every replica runs one build.",
    evidence=WORKLOAD_NEEDS,
    references=(NSA_POD, GKE_L4),
)
def image_tag_drift(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = []
    observed = 0
    for workload in workloads(inventory):
        digests: dict[tuple[str, str], set[str]] = defaultdict(set)
        pods: dict[tuple[str, str], int] = defaultdict(int)
        # Every running pod is read here, so the loop does no more per pod than it must.
        for pod in workload.pods:
            status = pod.get("status") or {}
            running = (status.get("containerStatuses"), status.get("initContainerStatuses"))
            if not (running[0] or running[1]):
                continue  # not started yet: nothing was pulled
            spec = pod.get("spec") or {}
            spec_images = {
                c.get("name"): c.get("image")
                for key in ("containers", "initContainers")
                for c in spec.get(key) or []
            }
            for statuses in running:
                for cs in statuses or []:
                    digest = _digest_of(cs.get("imageID") or "")
                    if digest is None:
                        continue
                    name = cs.get("name")
                    image = spec_images.get(name) or cs.get("image") or ""
                    if not image or parse_image(image).digest:
                        continue
                    observed += 1
                    key = (name or "", image)
                    digests[key].add(digest)
                    pods[key] += 1
        for (name, image), seen in sorted(digests.items()):
            if len(seen) > 1:
                short = ", ".join(sorted(d.split(":")[-1][:12] for d in seen))
                affected.append(
                    workload_affected(
                        workload,
                        f"container {name}: {image} runs as {len(seen)} digests "
                        f"({short}) across {pods[(name, image)]} pods",
                    )
                )
    if not observed:
        return Outcome.not_applicable("no running pod reports a tag-referenced image digest")
    return Outcome.from_affected(
        affected,
        passed="every tag resolves to one digest across its pods",
        failed="{count} containers run one tag as several digests",
    )


# -- vulnerability reports (Trivy Operator) -------------------------------------------------

_TRIVY = "trivy-operator."


def _owner_index(inventory: Inventory) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """ReplicaSet -> Deployment and Job -> CronJob, so reports name the owning workload."""
    index = {}
    for key, kind, parent in (
        ("replicasets", "ReplicaSet", "Deployment"),
        ("jobs", "Job", "CronJob"),
    ):
        if not inventory.in_hand(key):
            continue
        for obj in inventory.items(key):
            meta = obj.get("metadata") or {}
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == parent:
                    namespace = meta.get("namespace", "")
                    index[(kind, namespace, meta.get("name", ""))] = (
                        parent,
                        namespace,
                        ref.get("name", ""),
                    )
    return index


@check(
    id="supply_chain.vulnerability_reports",
    title="Workloads with critical vulnerabilities (Trivy Operator)",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.HIGH,
    rationale=(
        "The in-cluster scanner found critical CVEs in images that run (or will run) here; "
        "those are the fixes attackers look for first."
    ),
    remediation="Rebuild on a patched base image or bump the affected packages, then redeploy.",
    references=(
        GKE("J4", title="Security posture and workload vulnerability scanning"),
        CIS_GKE("5.1.1", title="Image vulnerability scanning"),
        NSA("Upgrading & application security"),
    ),
)
def vulnerability_reports(inventory: Inventory, context: CheckContext) -> Outcome:
    # Optional add-on: not served means no scanner, which is not a failure of this cluster.
    status = inventory.kind_status.get("vulnerabilityreports", KindStatus.NOT_COLLECTED)
    if status == KindStatus.NOT_SERVED:
        return Outcome.not_applicable("Trivy Operator is not installed (no VulnerabilityReports)")
    if status != KindStatus.OK:
        reason = inventory.kind_errors.get("vulnerabilityreports") or status
        return Outcome.unknown(f"VulnerabilityReports could not be read ({reason})")
    reports = inventory.items("vulnerabilityreports")
    if not reports:
        return Outcome.unknown("Trivy Operator is installed but has produced no reports yet")
    owners = _owner_index(inventory)
    affected = []
    critical_total = high_total = 0
    high_workloads: set[tuple[str, str, str]] = set()
    for report in reports:
        meta = report.get("metadata") or {}
        labels = meta.get("labels") or {}
        identity = (
            labels.get(f"{_TRIVY}resource.kind", ""),
            labels.get(f"{_TRIVY}resource.namespace", meta.get("namespace", "")),
            labels.get(f"{_TRIVY}resource.name", ""),
        )
        if not identity[0]:
            # Older reports lack the labels; the operator still owns them by the scanned object.
            owner: JSON = next(iter(meta.get("ownerReferences") or []), {})
            identity = (owner.get("kind", "?"), meta.get("namespace", ""), owner.get("name", "?"))
        identity = owners.get(identity, identity)
        body = report.get("report") or {}
        summary = body.get("summary") or {}
        critical = int(summary.get("criticalCount") or 0)
        high = int(summary.get("highCount") or 0)
        critical_total += critical
        high_total += high
        if high:
            high_workloads.add(identity)
        if critical:
            artifact = body.get("artifact") or {}
            image = artifact.get("repository", "?") + (
                f":{artifact['tag']}" if artifact.get("tag") else ""
            )
            affected.append(
                Affected(
                    *identity,
                    f"container {labels.get(f'{_TRIVY}container.name', '?')} ({image}): "
                    f"{critical} critical, {high} high",
                )
            )
    counts = f"{critical_total} critical and {high_total} high findings in {len(reports)} reports"
    if affected:
        return Outcome.failed(affected, f"{len(affected)} containers with critical CVEs; {counts}")
    return Outcome.passed(
        f"no critical vulnerabilities; {high_total} high across {len(high_workloads)} workloads"
    )
