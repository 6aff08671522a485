"""The demo clusters' stories: episodes that were true of each for a stretch of the past.

history.demo replays them into back-dated collections; see its docstring for how. Each
episode edits a copy of the bundle's inventory, the way the cluster would have looked then.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from clusters.inventory import JSON, Inventory
from pipeline.demo_edits import (
    add,
    before_rollout,
    drop,
    kubernetes_version,
    meta,
    named,
    replace,
    uid,
)

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


# --- payments-prod: hardened over the quarter, one relapse ------------------------------------


def _debug_pod(inventory: Inventory) -> None:
    """Someone's `kubectl debug --profile=sysadmin` left a privileged netshoot pod running."""
    add(
        inventory,
        "pods",
        {
            "metadata": {
                "name": "netshoot-debug",
                "namespace": "ledger",
                "uid": uid("ledger/netshoot-debug"),
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
    add(
        inventory,
        "clusterroles",
        {
            "metadata": {"name": "release-automation", "uid": uid("clusterrole/release")},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
    )
    add(
        inventory,
        "clusterrolebindings",
        {
            "metadata": {"name": "release-automation", "uid": uid("binding/release")},
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
    drop(inventory, "networkpolicies", lambda policy: meta(policy).get("namespace") == "checkout")


def _gatekeeper_failing_open(inventory: Inventory) -> None:
    """Gatekeeper's validating webhook with failurePolicy Ignore: it admits all when it is down."""

    def failing_open(configuration: JSON) -> JSON | None:
        if not str(meta(configuration).get("name", "")).startswith("gatekeeper-"):
            return None
        configuration = copy.deepcopy(configuration)
        for webhook in configuration.get("webhooks") or []:
            webhook["failurePolicy"] = "Ignore"
        return configuration

    replace(inventory, "validatingwebhookconfigurations", failing_open)


def _payments_on_1_34_1(inventory: Inventory) -> None:
    kubernetes_version(inventory, git_version="v1.34.1-gke.1389000", runtime="containerd://2.0.4")


def _payments_on_1_34_6(inventory: Inventory) -> None:
    kubernetes_version(inventory, git_version="v1.34.6-gke.1125000", runtime="containerd://2.0.4")


def _reconciler_before_rollout(inventory: Inventory) -> None:
    before_rollout(
        inventory, namespace="ledger", deployment="reconciler", previous="reconciler-qgwcwrsvx7"
    )


# --- storefront-staging: left to drift --------------------------------------------------------


def _frontend_pinned(inventory: Inventory) -> None:
    """web/frontend ran versioned images before a rollout switched it to :latest."""
    before_rollout(
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
    add(
        inventory,
        "networkpolicies",
        {
            "metadata": {"name": "default-deny", "namespace": "web", "uid": uid("web/deny")},
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
            if meta(obj).get("namespace") != namespace
            and not (
                key in ("namespaces", "clusterroles", "clusterrolebindings")
                and str(meta(obj).get("name", "")).startswith(namespace)
            )
        ]


def _no_anonymous_binding(inventory: Inventory) -> None:
    """Before `anonymous-view` bound system:unauthenticated to the view ClusterRole."""
    drop(inventory, "clusterrolebindings", lambda binding: named(binding, "", "anonymous-view"))


def _no_miner(inventory: Inventory) -> None:
    """Before the cryptominer `default/system-monitor` was deployed."""

    def miner(obj: JSON) -> bool:
        metadata = meta(obj)
        return bool(
            metadata.get("namespace") == "default"
            and str(metadata.get("name", "")).startswith("system-monitor")
        )

    for key in ("deployments", "replicasets", "pods"):
        drop(inventory, key, miner)


# --- edge-dev: flat, partly unreadable ---------------------------------------------------------


def _dev_site_before_rollout(inventory: Inventory) -> None:
    before_rollout(
        inventory,
        namespace="web",
        deployment="dev-site",
        previous="dev-site-s5d857drdz",
        images={"dev-site": "registry.example.com/edge/dev-site:0.9.2"},
    )


def _no_scratch_pod(inventory: Inventory) -> None:
    """Before someone started the bare `default/scratch` pod mounting the node's root."""
    drop(inventory, "pods", lambda pod: named(pod, "default", "scratch"))


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
