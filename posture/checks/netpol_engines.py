"""Isolation by any policy engine: Kubernetes NetworkPolicy, Cilium and Calico together.

The network checks ask two questions: is a namespace in default deny for a direction (every pod,
whatever its labels), and does some policy put a workload's pods in default deny. Each engine
answers with its own semantics (netpol.py, netpol_cilium.py, netpol_calico.py); where they meet:

- Calico enforces Kubernetes NetworkPolicies as its own default-tier policies, so once Calico
  policies were read the Kubernetes ones are judged inside Calico's ordered walk, not alone.
- Cilium adds Kubernetes NetworkPolicy allows to its own, so an allow of everything in either
  reopens the direction; a Cilium deny of everything wins over any allow.

Combined, for one direction: a deny of everything isolates; else an allow of everything, from
any engine, leaves no default deny; else a policy that could not be judged makes it unknown;
else any engine's isolation holds. Never a false pass: when a policy kind is installed but could
not be read, `gaps()` names it and the checks are unknown, since its policies may isolate or
reopen any namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clusters.inventory import Inventory, KindStatus
from posture.checks import netpol, netpol_calico, netpol_cilium
from posture.checks.netpol_model import Direction, Effect, Endpoint, Tri, Verdict
from posture.workloads import Workload

# Every policy kind isolation is judged on: the checks that judge it need them all.
POLICY_KEYS = ("networkpolicies", *netpol_cilium.KEYS, *netpol_calico.KEYS)


@dataclass(frozen=True)
class Isolation:
    """One direction of a namespace (or of a workload's pods), all engines considered."""

    isolated: Tri  # None: unknown
    by: str  # the policy that decided ("" when none does)
    reason: str  # one line for a person: which engine's policy isolates, or why none does


@dataclass(frozen=True)
class Coverage:
    """Whether some policy puts a workload's pods in default deny, and which."""

    selected: Tri
    by: str


def gaps(inventory: Inventory) -> list[str]:
    """Policy kinds installed in the cluster but not read, as one line each."""
    problems = []
    for key in netpol_cilium.KEYS:
        status = inventory.kind_status.get(key, KindStatus.NOT_COLLECTED)
        if status not in (KindStatus.OK, KindStatus.NOT_SERVED):
            reason = inventory.kind_errors.get(key) or str(status)
            problems.append(f"{key} {status}: {reason}")
    return problems + list(netpol_calico.sources(inventory).problems)


def installed_engines(inventory: Inventory) -> list[str]:
    """Engines whose policy kinds were listed: "Cilium (3 policies)", "Calico (0 policies)"."""
    found = []
    cilium = [key for key in netpol_cilium.KEYS if inventory.has(key)]
    calico = netpol_calico.sources(inventory).keys  # one source per kind, never both
    for engine, keys in (("Cilium", cilium), ("Calico", calico)):
        if keys:
            found.append(f"{engine} ({sum(len(inventory.items(k)) for k in keys)} policies)")
    return found


def engines(inventory: Inventory) -> Engines:
    """The policies of every engine, indexed once per inventory and shared by the checks."""
    return inventory.derived("netpol.engines", Engines)


class Engines:
    def __init__(self, inventory: Inventory) -> None:
        self._kubernetes = (
            netpol.policies_by_namespace(inventory) if inventory.has("networkpolicies") else {}
        )
        self._cilium = netpol_cilium.rules(inventory)
        self._calico = netpol_calico.index(inventory)
        self._namespace_labels: dict[str, Mapping[str, str]] | None = None
        if inventory.has("namespaces"):
            self._namespace_labels = {
                (ns.get("metadata") or {}).get("name", ""): (ns.get("metadata") or {}).get("labels")
                or {}
                for ns in inventory.items("namespaces")
            }
        installed = ["NetworkPolicy"]
        if any(inventory.has(key) for key in netpol_cilium.KEYS):
            installed.append("CiliumNetworkPolicy")
        if self._calico.present:
            installed.append("Calico policy")
        # "NetworkPolicy, CiliumNetworkPolicy or Calico policy": the kinds a person should look for.
        self.kinds = " or ".join(filter(None, (", ".join(installed[:-1]), installed[-1])))

    def kubernetes_policies(self, namespace: str) -> int:
        return len(self._kubernetes.get(namespace, []))

    def namespace(self, namespace: str, direction: Direction) -> Isolation:
        """Whether every pod of the namespace, whatever its labels, is in default deny."""
        endpoint = Endpoint(namespace, self._labels_of(namespace))
        verdicts: list[Verdict] = []
        if not self._calico.present:  # with Calico, its walk judges Kubernetes policies too
            verdicts.append(
                netpol.verdict(self._kubernetes.get(namespace, []), endpoint, direction)
            )
        if self._cilium:
            verdicts.append(netpol_cilium.verdict(self._cilium, endpoint, direction))
        if self._calico.present:
            verdicts.append(netpol_calico.verdict(self._calico, endpoint, direction))
        return self._combine(verdicts, direction.lower())

    def workload(self, workload: Workload) -> Coverage:
        """Whether some policy of any engine puts this workload's pods in default deny."""
        names = netpol.selecting_policies(
            self._kubernetes.get(workload.namespace, []), workload.labels
        )
        if names:
            return Coverage(True, f"NetworkPolicy {workload.namespace}/{names[0]}")
        spec = workload.pod_spec
        endpoint = Endpoint(
            workload.namespace,
            self._labels_of(workload.namespace),
            pod_labels=workload.labels,
            service_account=spec.get("serviceAccountName")
            or spec.get("serviceAccount")
            or "default",
        )
        unsure = False
        for selected, by in (
            netpol_cilium.isolating_rule(self._cilium, endpoint),
            netpol_calico.isolating_policy(self._calico, endpoint),
        ):
            if selected is True:
                return Coverage(True, by)
            unsure = unsure or selected is None
        return Coverage(None if unsure else False, "")

    def _labels_of(self, namespace: str) -> Mapping[str, str] | None:
        if self._namespace_labels is None:
            return None
        return self._namespace_labels.get(namespace)

    def _combine(self, verdicts: list[Verdict], direction: str) -> Isolation:
        notes = [note for verdict in verdicts for note in verdict.notes]
        suffix = f" ({'; '.join(notes)})" if notes else ""
        # The first engine's verdict of each effect (reversed, so earlier ones overwrite later).
        decided = {v.effect: v for v in reversed(verdicts) if v.effect != Effect.NONE}
        if (denied := decided.get(Effect.DENIED)) is not None:
            return Isolation(True, denied.by, f"{denied.by} denies all {direction}")
        if (opened := decided.get(Effect.OPEN)) is not None:
            isolated = decided.get(Effect.ISOLATED)
            undone = opened.voids or (isolated.by if isolated else "")
            voided = f", so the default deny of {undone} does not hold" if undone else ""
            return Isolation(
                False, opened.by, f"{opened.by} allows all {direction}{voided}{suffix}"
            )
        if (unknown := decided.get(Effect.UNKNOWN)) is not None:
            return Isolation(None, unknown.by, f"{direction} cannot be judged{suffix}")
        if (isolated := decided.get(Effect.ISOLATED)) is not None:
            return Isolation(
                True, isolated.by, f"{direction} is denied by default by {isolated.by}"
            )
        return Isolation(
            False, "", f"no {self.kinds} denies {direction} to every pod by default{suffix}"
        )
