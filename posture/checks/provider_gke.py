"""What GKE provider checks share: the Cluster resource, its node pools, Autopilot.

Every GKE check needs the `gke-cluster` input (clusters.providers) and applies to GKE only:
on another distribution it is not applicable, and on a GKE cluster without provider data it is
unknown (its checklist items stay manual). Field paths and passing values are hardening.md
Appendix B's, in the REST (camelCase) names the bundle file and the API both use.

Node pools are judged one by one and listed as `NodePool` objects; where node
auto-provisioning is on, its defaults (`autoscaling.autoprovisioningNodePoolDefaults`) are
judged as one more object, `NodePoolDefaults/autoprovisioning`, since the pools it creates
inherit them. On Autopilot, settings Google manages for every cluster are provider-owned:
not applicable, with the reason, never failures (hardening.md §1.3 L15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clusters.inventory import JSON, Inventory
from clusters.providers import GKE_CLUSTER, provider_document, provider_entry
from posture.checks.base import Affected, Check, Evaluate, Outcome, check
from posture.checks.provider_fields import at, details_summary, fact, truthy
from posture.status import Status

GKE_NEEDS = (GKE_CLUSTER.key,)
AUTO_PROVISIONING = "autoscaling.autoprovisioningNodePoolDefaults"
# Windows node pools run no Linux node image: COS, secure boot and the like do not apply.
WINDOWS_IMAGES = ("WINDOWS_",)


def gke_check(**fields: Any) -> Callable[[Evaluate], Check]:
    """`@check` for a GKE provider check: needs the Cluster resource, GKE clusters only."""
    return check(needs=GKE_NEEDS, distributions=("gke",), **fields)


def gke_cluster(inventory: Inventory) -> JSON:
    return provider_document(inventory, "gke")


def gke_extra(inventory: Inventory, key: str) -> JSON | None:
    """Evidence read beside the Cluster resource (`upgradeInfo`), None when not collected."""
    entry = provider_entry(inventory, "gke") or {}
    value = entry.get(key)
    return value if isinstance(value, dict) else None


def cluster_name(cluster: JSON) -> str:
    return str(cluster.get("name") or "")


def cluster_affected(cluster: JSON, detail: str) -> Affected:
    return Affected("Cluster", "", cluster_name(cluster), detail)


def cluster_failed(cluster: JSON, detail: str) -> Outcome:
    return Outcome.failed([cluster_affected(cluster, detail)], detail)


def is_autopilot(cluster: JSON) -> bool:
    return truthy(cluster, "autopilot.enabled")


def autopilot_owned(cluster: JSON, what: str) -> Outcome | None:
    """Not applicable on Autopilot, where Google manages `what` for every cluster."""
    if not is_autopilot(cluster):
        return None
    return Outcome.not_applicable(
        f"Provider-owned: autopilot.enabled = true, and on Autopilot Google manages {what} "
        "(hardening.md §1.3 L15).",
        settled=True,
    )


def cluster_project(cluster: JSON) -> str:
    """The project the cluster lives in, from its selfLink (`.../projects/P/locations/...`)."""
    link = str(cluster.get("selfLink") or "")
    _, found, rest = link.partition("/projects/")
    return rest.split("/", 1)[0] if found else ""


@dataclass(frozen=True)
class Pool:
    """A node pool, or node auto-provisioning's defaults for the pools it creates."""

    name: str
    doc: JSON
    path: str  # `nodePools[pool-a]` or `autoscaling.autoprovisioningNodePoolDefaults`
    defaults: bool = False

    def field(self, relative: str) -> str:
        """The full path of a pool field; NAP defaults hold `config.*` fields at their top."""
        if self.defaults:
            relative = relative.removeprefix("config.")
        return f"{self.path}.{relative}"

    def value(self, relative: str) -> Any:
        if self.defaults:
            relative = relative.removeprefix("config.")
        return at(self.doc, relative)

    def fact(self, relative: str) -> str:
        return fact(self.field(relative), self.value(relative))

    def affected(self, detail: str) -> Affected:
        if self.defaults:
            return Affected("NodePoolDefaults", "", "autoprovisioning", detail)
        return Affected("NodePool", "", self.name, detail)

    @property
    def windows(self) -> bool:
        image = self.value("config.imageType")
        return isinstance(image, str) and image.upper().startswith(WINDOWS_IMAGES)


def pools(cluster: JSON, *, defaults: bool = True) -> list[Pool]:
    """Every node pool, then NAP's defaults when node auto-provisioning is on."""
    found = [
        Pool(str(pool.get("name") or f"#{index}"), pool, f"nodePools[{pool.get('name', index)}]")
        for index, pool in enumerate(cluster.get("nodePools") or [])
        if isinstance(pool, dict)
    ]
    nap = at(cluster, AUTO_PROVISIONING)
    if defaults and truthy(cluster, "autoscaling.enableNodeAutoprovisioning"):
        found.append(
            Pool("autoprovisioning", nap if isinstance(nap, dict) else {}, AUTO_PROVISIONING, True)
        )
    return found


PoolJudge = Callable[[Pool], str | None]


def judge_pools(
    cluster: JSON,
    judge: PoolJudge,
    *,
    passed: str,
    failed: str,
    defaults: bool = True,
    skip_windows: bool = False,
) -> Outcome:
    """Judge every pool: a detail fails it, "" passes it, None leaves it out (does not apply).

    A failure's summary is `failed (n of m node pools): ` and the first details, so the field
    paths and values read on the checklist too. A cluster without node pools (or with only
    pools left out) has nothing to judge: not applicable.
    """
    affected: list[Affected] = []
    judged = 0
    for pool in pools(cluster, defaults=defaults):
        if skip_windows and pool.windows:
            continue
        detail = judge(pool)
        if detail is None:
            continue
        judged += 1
        if detail:
            affected.append(pool.affected(detail))
    if not judged:
        return Outcome.not_applicable("no node pool this applies to")
    if not affected:
        return Outcome.passed(passed)
    return Outcome.failed(affected, details_summary(failed, affected, judged, "node pools"))


def controls_outcome(controls: dict[str, Outcome], cluster: JSON) -> Outcome:
    """One verdict from named controls: fail with every failing control's objects, else pass;
    unknown when a control could not be judged and none failed."""
    failing = {name: c for name, c in controls.items() if c.status == Status.FAIL}
    if failing:
        affected = [obj for c in failing.values() for obj in c.affected]
        summary = "; ".join(f"{name}: {c.summary}" for name, c in failing.items())
        outcome = Outcome.failed(affected or [cluster_affected(cluster, summary)], summary)
    elif any(c.status == Status.UNKNOWN for c in controls.values()):
        outcome = Outcome.unknown(
            "; ".join(
                f"{n}: {c.summary}" for n, c in controls.items() if c.status == Status.UNKNOWN
            )
        )
    elif all(c.status == Status.NOT_APPLICABLE for c in controls.values()):
        outcome = Outcome.not_applicable("; ".join(c.summary for c in controls.values()))
    else:
        outcome = Outcome.passed("; ".join(f"{n}: {c.summary}" for n, c in controls.items()))
    outcome.controls = controls
    return outcome
