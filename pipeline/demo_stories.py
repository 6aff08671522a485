"""The demo clusters' stories: episodes that were true of each for a stretch of the past.

history.demo replays them into back-dated collections; see its docstring for how. Each
episode edits a copy of the bundle's inventory, the way the cluster would have looked then.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from clusters.inventory import JSON, Inventory

# Kubernetes names generated objects from this alphabet (rand.SafeEncodeString).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"

Edit = Callable[[Inventory], None]


@dataclass(frozen=True)
class Episode:
    """A change to the bundle's inventory that held over `spans` of the history.

    Each span is (from, until) as fractions of the history's length: active on days `from`
    back to, but not including, `until` (1.0 is the first day of history, 0.0 today).
    """

    name: str
    edit: Edit
    spans: tuple[tuple[float, float], ...]

    def active(self, *, age: int, days: int) -> bool:
        return any(
            story_day(start, days) >= age > story_day(until, days) for start, until in self.spans
        )


@dataclass(frozen=True)
class DemoWaiver:
    """One approved waiver: requested the day before `approved`, expiring `expires_in` from now."""

    check_id: str
    workloads: tuple[str, ...]
    reason: str
    approved: float  # a fraction of the history, like an episode's span
    expires_in: timedelta


@dataclass(frozen=True)
class Story:
    episodes: tuple[Episode, ...]
    waiver: DemoWaiver | None = None


def story_day(fraction: float, days: int) -> int:
    # Never 0: today belongs to the bundle's own collection, and the last day of history must
    # already be the bundle's inventory (see the module docstring).
    return max(1, round(fraction * days))


# --- Editing a copy of the inventory -----------------------------------------------------------
#
# Variants share the bundle's object dicts; an edit replaces a resource's list and deep-copies
# only the objects it changes, so the bundle's inventory is never modified.


def inventory_copy(inventory: Inventory) -> Inventory:
    # A new Inventory, not copy.copy: checks cache indexes in the instance's __dict__
    # (posture.workloads), which must not leak from the bundle into a variant.
    return Inventory(
        version=dict(inventory.version) if inventory.version is not None else None,
        objects=dict(inventory.objects),
        kind_status=dict(inventory.kind_status),
        kind_errors=dict(inventory.kind_errors),
        anonymous_probe=inventory.anonymous_probe,
        provider=dict(inventory.provider),
        node_benchmarks=inventory.node_benchmarks,
        source=inventory.source,
    )


def _meta(obj: JSON) -> JSON:
    metadata: JSON = obj.get("metadata") or {}
    return metadata


def _named(obj: JSON, namespace: str, name: str) -> bool:
    metadata = _meta(obj)
    return bool(metadata.get("namespace", "") == namespace and metadata.get("name") == name)


def _owner(obj: JSON) -> str:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("name", ""))
    return ""


def _drop(inventory: Inventory, key: str, unwanted: Callable[[JSON], bool]) -> None:
    if inventory.has(key):
        inventory.objects[key] = [obj for obj in inventory.items(key) if not unwanted(obj)]


def _add(inventory: Inventory, key: str, *objects: JSON) -> None:
    if inventory.has(key):
        inventory.objects[key] = [*inventory.items(key), *objects]


def _replace(inventory: Inventory, key: str, change: Callable[[JSON], JSON | None]) -> None:
    """`change` returns a changed deep copy of an object, or None to keep the object as it is."""
    if inventory.has(key):
        inventory.objects[key] = [change(obj) or obj for obj in inventory.items(key)]


def _uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rampart-demo:{seed}"))


def _suffix(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE[byte % len(_SAFE)] for byte in digest[:5])


def _set_images(pod_spec: JSON, images: dict[str, str]) -> None:
    for container in pod_spec.get("containers") or []:
        if container.get("name") in images:
            container["image"] = images[container["name"]]


def _before_rollout(
    inventory: Inventory,
    *,
    namespace: str,
    deployment: str,
    previous: str,
    images: dict[str, str] | None = None,
) -> None:
    """The Deployment as it ran before its latest rollout: its `previous` ReplicaSet's pods.

    The current ReplicaSet did not exist yet; the previous one had its replicas, and their pods
    its pod-template hash in their names. `images` (container -> image) is what the rollout
    changed, if anything. Findings name the Deployment, so none of this may change them.
    """
    replicasets = inventory.items("replicasets")
    current = {
        _meta(rs)["name"]: rs
        for rs in replicasets
        if _meta(rs).get("namespace") == namespace
        and _owner(rs) == deployment
        and (rs.get("spec") or {}).get("replicas")
        and _meta(rs)["name"] != previous
    }
    replicas = sum(int(rs["spec"]["replicas"]) for rs in current.values())
    old_hash = previous.removeprefix(f"{deployment}-")
    old_uid = _uid(f"{namespace}/{previous}")

    def rolled_back_replicaset(rs: JSON) -> JSON:
        rs = copy.deepcopy(rs)
        _meta(rs)["uid"] = old_uid
        rs["spec"]["replicas"] = replicas
        rs["status"] = {"replicas": replicas}
        if images:
            _set_images(rs["spec"]["template"]["spec"], images)
        return rs

    inventory.objects["replicasets"] = [
        rolled_back_replicaset(rs) if _named(rs, namespace, previous) else rs
        for rs in replicasets
        if _meta(rs)["name"] not in current or _meta(rs).get("namespace") != namespace
    ]

    def older_pod(pod: JSON) -> JSON | None:
        if _meta(pod).get("namespace") != namespace or _owner(pod) not in current:
            return None
        pod = copy.deepcopy(pod)
        metadata = _meta(pod)
        name = f"{previous}-{_suffix(metadata['name'])}"
        metadata.update(name=name, uid=_uid(f"{namespace}/{name}"))
        metadata["labels"] = {**metadata.get("labels", {}), "pod-template-hash": old_hash}
        metadata["generateName"] = f"{previous}-"
        for ref in metadata.get("ownerReferences") or []:
            if ref.get("controller"):
                ref.update(name=previous, uid=old_uid)
        if images:
            _set_images(pod["spec"], images)
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if status.get("name") in images:
                    status["image"] = images[status["name"]]
                    status.pop("imageID", None)
        return pod

    _replace(inventory, "pods", older_pod)
    if images:

        def older_template(obj: JSON) -> JSON | None:
            if not _named(obj, namespace, deployment):
                return None
            obj = copy.deepcopy(obj)
            _set_images(obj["spec"]["template"]["spec"], images)
            return obj

        _replace(inventory, "deployments", older_template)


def _kubernetes_version(inventory: Inventory, *, git_version: str, runtime: str) -> None:
    """The control plane, and every node that ran its version, at `git_version`."""
    version = inventory.version or {}
    current = str(version.get("gitVersion", ""))
    minor = git_version.removeprefix("v").split(".")[1]
    inventory.version = {
        **version,
        "gitVersion": git_version,
        "minor": minor,
        "emulationMinor": minor,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitCommit": hashlib.sha256(git_version.encode()).hexdigest()[:40],
    }

    def older_node(node: JSON) -> JSON | None:
        info = (node.get("status") or {}).get("nodeInfo") or {}
        if info.get("kubeletVersion") != current:
            return None  # a node pool that was not upgraded with the control plane
        node = copy.deepcopy(node)
        node["status"]["nodeInfo"].update(
            kubeletVersion=git_version, containerRuntimeVersion=runtime
        )
        return node

    _replace(inventory, "nodes", older_node)
    if "gke" in inventory.provider:
        entry = copy.deepcopy(inventory.provider["gke"])
        cluster = entry["cluster"]
        plain, old_plain = current.removeprefix("v"), git_version.removeprefix("v")
        if cluster.get("currentMasterVersion") == plain:
            cluster["currentMasterVersion"] = old_plain
        for pool in cluster.get("nodePools") or []:
            if pool.get("version") == plain:
                pool["version"] = old_plain
        # GKE's upgrade info described the build of its day: not the bundle's.
        entry.pop("upgradeInfo", None)
        inventory.provider = {**inventory.provider, "gke": entry}


# --- payments-prod: hardened over the quarter, one relapse ------------------------------------


def _debug_pod(inventory: Inventory) -> None:
    """Someone's `kubectl debug --profile=sysadmin` left a privileged netshoot pod running."""
    _add(
        inventory,
        "pods",
        {
            "metadata": {
                "name": "netshoot-debug",
                "namespace": "ledger",
                "uid": _uid("ledger/netshoot-debug"),
                "labels": {"run": "netshoot-debug"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "netshoot",
                        "image": "nicolaka/netshoot:latest",
                        "command": ["sleep", "infinity"],
                        "securityContext": {"privileged": True},
                    }
                ],
                "nodeName": "gke-payments-prod-pool-a-1",
                "serviceAccountName": "default",
            },
            "status": {"phase": "Running"},
        },
    )


def _release_bot_wildcard(inventory: Inventory) -> None:
    """The release pipeline's group was bound to a ClusterRole allowing * on * in *."""
    _add(
        inventory,
        "clusterroles",
        {
            "metadata": {"name": "release-automation", "uid": _uid("clusterrole/release")},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
    )
    _add(
        inventory,
        "clusterrolebindings",
        {
            "metadata": {"name": "release-automation", "uid": _uid("binding/release")},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "release-automation",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": "release-eng@example.com",
                }
            ],
        },
    )


def _checkout_without_policies(inventory: Inventory) -> None:
    """The checkout namespace before its NetworkPolicies (default deny included) were added."""
    _drop(inventory, "networkpolicies", lambda policy: _meta(policy).get("namespace") == "checkout")


def _gatekeeper_failing_open(inventory: Inventory) -> None:
    """Gatekeeper's validating webhook with failurePolicy Ignore: it admits all when it is down."""

    def failing_open(configuration: JSON) -> JSON | None:
        if not str(_meta(configuration).get("name", "")).startswith("gatekeeper-"):
            return None
        configuration = copy.deepcopy(configuration)
        for webhook in configuration.get("webhooks") or []:
            webhook["failurePolicy"] = "Ignore"
        return configuration

    _replace(inventory, "validatingwebhookconfigurations", failing_open)


def _payments_on_1_34_1(inventory: Inventory) -> None:
    _kubernetes_version(inventory, git_version="v1.34.1-gke.1389000", runtime="containerd://2.0.4")


def _payments_on_1_34_6(inventory: Inventory) -> None:
    _kubernetes_version(inventory, git_version="v1.34.6-gke.1125000", runtime="containerd://2.0.4")


def _reconciler_before_rollout(inventory: Inventory) -> None:
    _before_rollout(
        inventory, namespace="ledger", deployment="reconciler", previous="reconciler-qgwcwrsvx7"
    )


# --- storefront-staging: left to drift --------------------------------------------------------


def _frontend_pinned(inventory: Inventory) -> None:
    """web/frontend ran versioned images before a rollout switched it to :latest."""
    _before_rollout(
        inventory,
        namespace="web",
        deployment="frontend",
        previous="frontend-tqr582nk9n",
        images={
            "frontend": "registry.example.com/storefront/frontend:2.14.1",
            "nginx": "nginx:1.27.3",
        },
    )


def _web_default_deny(inventory: Inventory) -> None:
    """web had a default-deny policy, until it was deleted while debugging and never restored."""
    _add(
        inventory,
        "networkpolicies",
        {
            "metadata": {"name": "default-deny", "namespace": "web", "uid": _uid("web/deny")},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
    )


def _no_dashboard(inventory: Inventory) -> None:
    """Before the Kubernetes Dashboard was installed (skip-login, NodePort, cluster-admin)."""
    namespace = "kubernetes-dashboard"
    for key, objects in list(inventory.objects.items()):
        inventory.objects[key] = [
            obj
            for obj in objects
            if _meta(obj).get("namespace") != namespace
            and not (
                key in ("namespaces", "clusterroles", "clusterrolebindings")
                and str(_meta(obj).get("name", "")).startswith(namespace)
            )
        ]


def _no_anonymous_binding(inventory: Inventory) -> None:
    """Before `anonymous-view` bound system:unauthenticated to the view ClusterRole."""
    _drop(inventory, "clusterrolebindings", lambda binding: _named(binding, "", "anonymous-view"))


def _no_miner(inventory: Inventory) -> None:
    """Before the cryptominer `default/system-monitor` was deployed."""

    def miner(obj: JSON) -> bool:
        metadata = _meta(obj)
        return bool(
            metadata.get("namespace") == "default"
            and str(metadata.get("name", "")).startswith("system-monitor")
        )

    for key in ("deployments", "replicasets", "pods"):
        _drop(inventory, key, miner)


# --- edge-dev: flat, partly unreadable ---------------------------------------------------------


def _dev_site_before_rollout(inventory: Inventory) -> None:
    _before_rollout(
        inventory,
        namespace="web",
        deployment="dev-site",
        previous="dev-site-s5d857drdz",
        images={"dev-site": "registry.example.com/edge/dev-site:0.9.2"},
    )


def _no_scratch_pod(inventory: Inventory) -> None:
    """Before someone started the bare `default/scratch` pod mounting the node's root."""
    _drop(inventory, "pods", lambda pod: _named(pod, "default", "scratch"))


# --- orders-eks: a public endpoint opened, audit logs switched off ------------------------------


def _eks_cluster(inventory: Inventory, change: Callable[[JSON], None]) -> None:
    """Edit a copy of the EKS description (the bundle's own stays as it is)."""
    entry = copy.deepcopy(inventory.provider["eks"])
    change(entry["cluster"])
    inventory.provider = {**inventory.provider, "eks": entry}


def _endpoint_limited_to_the_office(inventory: Inventory) -> None:
    """The public endpoint admitted the office's addresses only, until a hotfix opened it."""

    def limited(cluster: JSON) -> None:
        cluster["resourcesVpcConfig"]["publicAccessCidrs"] = ["203.0.113.0/24"]

    _eks_cluster(inventory, limited)


def _audit_logs_exported(inventory: Inventory) -> None:
    """Every control-plane log was exported, until a CloudWatch cost cut turned most off."""

    def exported(cluster: JSON) -> None:
        kinds = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
        cluster["logging"] = {"clusterLogging": [{"types": kinds, "enabled": True}]}

    _eks_cluster(inventory, exported)


START = 1.0

STORIES: dict[str, Story] = {
    # Starts worse and climbs: a debug pod removed, a patch upgrade past a CVE, checkout's
    # policies added, the wildcard binding removed, Gatekeeper made to fail closed, a rollout
    # that must not churn findings, the 1.35 upgrade ten days before 1.34's end of life, a
    # waiver; then the debug pod comes back for three days.
    "payments-prod": Story(
        episodes=(
            Episode("privileged debug pod", _debug_pod, ((START, 0.82), (0.11, 0.08))),
            Episode("Kubernetes 1.34.1", _payments_on_1_34_1, ((START, 0.73),)),
            Episode(
                "checkout without NetworkPolicies", _checkout_without_policies, ((START, 0.69),)
            ),
            Episode("wildcard ClusterRole binding", _release_bot_wildcard, ((START, 0.61),)),
            Episode("Gatekeeper failing open", _gatekeeper_failing_open, ((START, 0.56),)),
            Episode("reconciler before its rollout", _reconciler_before_rollout, ((START, 0.5),)),
            Episode("Kubernetes 1.34.6", _payments_on_1_34_6, ((0.73, 0.44),)),
        ),
        waiver=DemoWaiver(
            check_id="network.exposed_services",
            workloads=("Service/checkout/checkout-public",),
            reason=(
                "Public checkout endpoint: Cloud Armor filters it until the regional "
                "load balancer migration (PAY-2291) lands."
            ),
            approved=0.33,
            expires_in=timedelta(days=5),
        ),
    ),
    # Drifts the other way: pinned images give way to :latest, the web namespace loses its
    # default deny, the Dashboard arrives with skip-login, anonymous access is bound, a miner.
    "storefront-staging": Story(
        episodes=(
            Episode("frontend on pinned images", _frontend_pinned, ((START, 0.8),)),
            Episode("web default-deny policy", _web_default_deny, ((START, 0.72),)),
            Episode("no Kubernetes Dashboard", _no_dashboard, ((START, 0.64),)),
            Episode("no anonymous binding", _no_anonymous_binding, ((START, 0.5),)),
            Episode("no cryptominer", _no_miner, ((START, 0.23),)),
        ),
    ),
    # Regresses at the provider: the audit logs go a month ago, then a hotfix opens the public
    # endpoint to the internet four days ago; the Kubernetes side stays as it was.
    "orders-eks": Story(
        episodes=(
            Episode("audit logs exported", _audit_logs_exported, ((START, 0.33),)),
            Episode(
                "public endpoint limited to the office",
                _endpoint_limited_to_the_office,
                ((START, 0.045),),
            ),
        ),
    ),
    # Roughly flat: a scratch pod appears and a routine rollout; RBAC stays unreadable.
    "edge-dev": Story(
        episodes=(
            Episode("no scratch pod", _no_scratch_pod, ((START, 0.15),)),
            Episode("dev-site before its rollout", _dev_site_before_rollout, ((START, 0.09),)),
        ),
    ),
}
