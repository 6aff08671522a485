"""Node patching checks, and the version helpers the control-plane checks share.

Each node is judged from `status.nodeInfo` (kubelet, OS image, kernel, container runtime)
against the release catalog; a finding names the node. A node whose version cannot be read or
is newer than the catalog is "not judged" and said so, never counted as a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS_GKE, GKE, NSA
from posture.release_catalog import get_catalog
from posture.release_schema import Catalog, Cve, SupportStatus
from posture.release_versions import Version, parse_version

CONTROL_PLANE = "control-plane"
PATCH_REFERENCES = (
    GKE("J1", title="Upgrade regularly: release channel, auto-upgrade"),
    NSA("Upgrading & application security"),
)
NODE_REFERENCES = (*PATCH_REFERENCES, CIS_GKE("5.5.3", title="Node auto-upgrade enabled"))


# -- helpers --------------------------------------------------------------------------------


def today_of(context: CheckContext) -> date:
    return context.today or date.today()


def control_plane_affected(detail: str) -> Affected:
    return Affected("Cluster", "", CONTROL_PLANE, detail)


def with_note(summary: str, version: Version) -> str:
    note = version.provider_note()
    return f"{summary}. {note}" if note else summary


def unknown_minor(catalog: Catalog, version: Version) -> Outcome:
    return Outcome.unknown(
        f"Kubernetes {version.minor_key} is not in release catalog {catalog.version}; "
        "refresh the catalog"
    )


@dataclass(frozen=True)
class Node:
    name: str
    info: JSON

    @property
    def kubelet_raw(self) -> str:
        return str(self.info.get("kubeletVersion") or "")

    @property
    def kubelet(self) -> Version | None:
        return parse_version(self.kubelet_raw)

    @property
    def platform(self) -> str | None:
        return self.info.get("operatingSystem") or None

    def affected(self, detail: str) -> Affected:
        return Affected("Node", "", self.name, detail)


def _nodes(inventory: Inventory) -> list[Node]:
    return [
        Node(
            (node.get("metadata") or {}).get("name", ""),
            ((node.get("status") or {}).get("nodeInfo")) or {},
        )
        for node in inventory.items("nodes")
    ]


def api_version(inventory: Inventory) -> Version | Outcome:
    """The API server version, or the unknown outcome to return when it cannot be parsed."""
    version = parse_version(inventory.git_version)
    if version is None:
        return Outcome.unknown(f"cannot parse the API server version {inventory.git_version!r}")
    return version


def cve_list(cves: list[Cve]) -> str:
    return ", ".join(f"{c.id} ({c.severity})" for c in cves)


def fix_advice(cves: list[Cve], version: Version) -> str:
    """The one patch that fixes them all on this minor, or which CVEs need a newer minor."""
    fixes = [cve.fix_for(version) for cve in cves]
    on_minor = [fix for fix in fixes if fix is not None]
    if len(on_minor) == len(fixes):
        return f"fixed in {max(on_minor, key=lambda v: v.key).upstream}"
    stuck = ", ".join(cve.id for cve, fix in zip(cves, fixes, strict=True) if fix is None)
    return f"upgrade to a newer minor ({stuck}: no fix on {version.minor_key})"


NodeJudge = Callable[[Node], str | None]


def _judge_nodes(
    inventory: Inventory, judge: NodeJudge, *, passed: str, failed: str, what: str
) -> Outcome:
    """Run `judge(node)` over every node: a detail fails it, "" passes, None cannot judge."""
    nodes = _nodes(inventory)
    if not nodes:
        return Outcome.not_applicable("the cluster lists no nodes")
    affected: list[Affected] = []
    skipped: list[str] = []
    for node in nodes:
        detail = judge(node)
        if detail is None:
            skipped.append(node.name)
        elif detail:
            affected.append(node.affected(detail))
    if len(skipped) == len(nodes):
        return Outcome.unknown(f"could not judge the {what} of any node")
    tail = f" ({len(skipped)} nodes not judged: {what} unknown)" if skipped else ""
    if affected:
        return Outcome.failed(affected, failed.format(count=len(affected)) + tail)
    return Outcome.passed(passed + tail)


def skew_limit(kubelet: Version) -> int:
    # Version skew policy: kubelets may trail by 3 minors, kubelets older than 1.25 by 2.
    return 3 if (kubelet.major, kubelet.minor) >= (1, 25) else 2


def behind_text(catalog: Catalog, version: Version, today: date) -> str | None:
    """'N patches behind X (since D)', '' when current, None when not catalogued.

    A date, not "n days ago": stored verdicts are shared while their text stays the same, and
    a count that grows every day would store a new one per cluster per day.
    """
    release = catalog.release(version.minor_key)
    if release is None:
        return None
    newer = release.newer_patches(version)
    if not newer:
        return ""
    count = release.patches_behind(version)
    text = f"{count} patch{'es' if count != 1 else ''} behind {release.latest_patch.upstream}"
    first_date = newer[0][1]
    if first_date is not None:
        text += f" (a fix was available since {first_date})"
    return text


@check(
    id="patching.kubelet_skew",
    title="Kubelet version skew outside the supported policy",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "A kubelet newer than the API server, or more than 3 minors older (2 before 1.25), is "
        "unsupported and blocks the next control-plane upgrade, which keeps the cluster behind."
    ),
    remediation="Upgrade (or replace) the listed nodes to within the supported skew.",
    evidence=("nodes",),
    needs_version=True,
    references=NODE_REFERENCES,
)
def kubelet_skew(inventory: Inventory, context: CheckContext) -> Outcome:
    parsed = api_version(inventory)
    if isinstance(parsed, Outcome):
        return parsed
    api = parsed  # narrowed once, for the closure below

    def judge(node: Node) -> str | None:
        kubelet = node.kubelet
        if kubelet is None:
            return None
        behind = (api.major - kubelet.major) * 100 + api.minor - kubelet.minor
        if behind < 0:
            return f"kubelet {node.kubelet_raw}: newer than the API server v{api.upstream}"
        if behind > skew_limit(kubelet):
            return (
                f"kubelet {node.kubelet_raw}: {behind} minors older than the API server "
                f"v{api.upstream} (at most {skew_limit(kubelet)} allowed)"
            )
        return ""

    return _judge_nodes(
        inventory,
        judge,
        passed=f"every kubelet is within the supported skew of v{api.upstream}",
        failed="{count} nodes outside the supported kubelet skew",
        what="kubelet version",
    )


@check(
    id="patching.kubelet_behind",
    title="Nodes run an end-of-life or unpatched kubelet",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "Node images and kubelets carry their own security fixes; nodes that stay behind the "
        "latest patch, or on an end-of-life minor, keep known bugs open."
    ),
    remediation="Keep node auto-upgrade on, or roll node pools to the newest patch.",
    evidence=("nodes",),
    references=NODE_REFERENCES,
)
def kubelet_behind(inventory: Inventory, context: CheckContext) -> Outcome:
    catalog, today = get_catalog(), today_of(context)

    def judge(node: Node) -> str | None:
        kubelet = node.kubelet
        if kubelet is None:
            return None
        status = catalog.minor_status(kubelet.minor_key, today)
        if status == SupportStatus.UNKNOWN:
            return None
        problems: list[str] = []
        release = catalog.release(kubelet.minor_key)
        if status == SupportStatus.EOL:
            since = f" since {release.eol}" if release else ""
            problems.append(f"{kubelet.minor_key} end of life{since}")
        if behind := behind_text(catalog, kubelet, today):
            problems.append(behind)
        if not problems:
            return ""
        note = f" ({kubelet.provider} build: may carry backports)" if kubelet.build else ""
        return f"kubelet {node.kubelet_raw}: {'; '.join(problems)}{note}"

    return _judge_nodes(
        inventory,
        judge,
        passed="every kubelet is on the latest patch of a supported minor",
        failed="{count} nodes run an end-of-life or unpatched kubelet",
        what="kubelet version",
    )


@check(
    id="patching.kubelet_cves",
    title="Known CVEs affect node kubelets",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "Kubelet vulnerabilities (subPath, gitRepo, Windows command injection, checkpoint DoS) "
        "turn one pod into node compromise; each listed one has a fixed patch."
    ),
    remediation="Upgrade the node pools to a patch that fixes each listed CVE.",
    evidence=("nodes",),
    references=NODE_REFERENCES,
)
def kubelet_cves(inventory: Inventory, context: CheckContext) -> Outcome:
    catalog = get_catalog()

    def judge(node: Node) -> str | None:
        kubelet = node.kubelet
        if kubelet is None:
            return None
        cves = catalog.cves_affecting("kubelet", kubelet, platform=node.platform)
        if not cves:
            return ""
        note = f"; {kubelet.provider} build: may carry backports" if kubelet.build else ""
        return f"kubelet {node.kubelet_raw}: {cve_list(cves)}; {fix_advice(cves, kubelet)}{note}"

    return _judge_nodes(
        inventory,
        judge,
        passed=f"no CVE in catalog {catalog.version} affects any kubelet",
        failed="{count} nodes run kubelets with known CVEs",
        what="kubelet version",
    )


def _containerd(node: Node) -> Version | None:
    runtime, _, version = str(node.info.get("containerRuntimeVersion") or "").partition("://")
    return parse_version(version) if runtime == "containerd" else None


def _runtime_judge(catalog: Catalog, today: date, *, eol: bool) -> NodeJudge:
    def judge(node: Node) -> str | None:
        version = _containerd(node)
        if version is None:
            return None  # cri-o, docker or unparsable: the catalog only knows containerd
        status = catalog.runtime_status("containerd", version, today)
        line = catalog.runtime_line("containerd", version)
        if status == SupportStatus.UNKNOWN:
            return None
        if eol:
            if status != SupportStatus.EOL:
                return ""
            since = f" since {line.eol}" if line else ""
            return f"containerd {version}: line {version.minor_key} end of life{since}"
        if line is None or status == SupportStatus.EOL:
            return ""  # reported by patching.runtime_eol
        behind = line.patches_behind(version)
        if not behind:
            return ""
        return f"containerd {version}: {behind} patches behind {line.latest_patch.upstream}"

    return judge


@check(
    id="patching.runtime_eol",
    title="Nodes run an end-of-life container runtime",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "An end-of-life containerd line gets no security fixes; runtime bugs (runc breakouts "
        "such as Leaky Vessels) are container escapes."
    ),
    remediation="Move node pools to a node image with a supported containerd line.",
    evidence=("nodes",),
    references=NODE_REFERENCES,
)
def runtime_eol(inventory: Inventory, context: CheckContext) -> Outcome:
    return _judge_nodes(
        inventory,
        _runtime_judge(get_catalog(), today_of(context), eol=True),
        passed="every containerd line is supported",
        failed="{count} nodes run an end-of-life containerd line",
        what="container runtime",
    )


@check(
    id="patching.runtime_patch",
    title="Nodes run containerd behind the latest patch of its line",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale="containerd patch releases carry runtime security fixes for their line.",
    remediation="Upgrade the node image (or containerd) to the newest patch of its line.",
    evidence=("nodes",),
    references=NODE_REFERENCES,
)
def runtime_patch(inventory: Inventory, context: CheckContext) -> Outcome:
    return _judge_nodes(
        inventory,
        _runtime_judge(get_catalog(), today_of(context), eol=False),
        passed="every containerd is on the latest patch of its line",
        failed="{count} nodes run containerd behind its latest patch",
        what="container runtime",
    )


_NODE_FIELDS = (
    ("kubeletVersion", "kubelet"),
    ("osImage", "OS image"),
    ("kernelVersion", "kernel"),
    ("containerRuntimeVersion", "runtime"),
)


def _prevailing(field: str, values: list[str]) -> str:
    if field == "kubeletVersion":
        parsed = [(v, parse_version(v)) for v in values]
        known = [(v, p) for v, p in parsed if p is not None]
        if known:  # the newest kubelet is the target the others should reach
            return max(known, key=lambda vp: vp[1].key)[0]
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], v))


@check(
    id="patching.mixed_node_images",
    title="Nodes run mixed kubelet, OS image, kernel or runtime versions",
    area=Area.PATCHING,
    severity=Severity.LOW,
    rationale=(
        "Nodes of one OS that differ in kubelet, image, kernel or runtime usually mean an "
        "upgrade stalled part-way: some nodes keep fixes the others already have."
    ),
    remediation="Finish the node upgrade so every pool runs the current node image.",
    needs=("nodes",),
    references=NODE_REFERENCES,
)
def mixed_node_images(inventory: Inventory, context: CheckContext) -> Outcome:
    by_os: dict[str, list[Node]] = {}
    for node in _nodes(inventory):
        by_os.setdefault(str(node.info.get("operatingSystem") or "linux"), []).append(node)
    differences: dict[str, list[str]] = {}
    for nodes in by_os.values():
        for field, label in _NODE_FIELDS:
            values = [str(n.info.get(field) or "") for n in nodes if n.info.get(field)]
            if len(set(values)) < 2:
                continue
            target = _prevailing(field, values)
            for n in nodes:
                if n.info.get(field) and n.info[field] != target:
                    differences.setdefault(n.name, []).append(
                        f"{label} {n.info[field]} (other nodes: {target})"
                    )
    # One finding per node, however many of its versions lag.
    return Outcome.from_affected(
        [Affected("Node", "", name, "; ".join(found)) for name, found in differences.items()],
        passed="nodes of each OS run one kubelet, OS image, kernel and runtime",
        failed="{count} nodes differ from the rest of the fleet",
    )
