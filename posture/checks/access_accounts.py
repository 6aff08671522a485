"""Access checks on ServiceAccounts: default accounts with rights, tokens mounted for nothing.

`posture.checks.access` imports this module so its checks are registered with the others.
"""

from __future__ import annotations

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.rbac import BINDING_NEEDS, grant_detail, rbac_index
from posture.workloads import WORKLOAD_NEEDS, workloads

# Namespaces the provider or kubeadm owns; their default accounts are not the tenant's to edit.
_SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@check(
    id="access.default_sa_bindings",
    title="Bindings to default ServiceAccounts",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "Every pod that names no ServiceAccount runs as its namespace's `default`, so rights "
        "granted to it go to every such pod, including ones added later. Upstream Kubernetes "
        "binds no default ServiceAccount, so nothing is left out, kube-system's included "
        "(binding it to cluster-admin was how Helm v2's Tiller was commonly installed)."
    ),
    remediation=(
        "Create a dedicated ServiceAccount for the workload that needs the rights, bind the "
        "role to it, and set spec.serviceAccountName; then delete this binding."
    ),
    evidence=BINDING_NEEDS,
    references=(
        CIS("5.1.5", title="Ensure that default service accounts are not actively used"),
        CIS_GKE("4.1.4"),
        GKE("H2"),
    ),
)
def default_sa_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    index = rbac_index(inventory)
    affected = [
        binding.affected(grant_detail(binding, subject, index.describe_role(binding)))
        for binding in index.bindings
        for subject in binding.subjects
        if (account := subject.service_account) is not None and account[1] == "default"
    ]
    return Outcome.from_affected(
        affected,
        passed="No binding names a default ServiceAccount.",
        failed="{count} grant(s) to default ServiceAccounts.",
    )


@check(
    id="access.default_sa_automount",
    title="Default ServiceAccounts that automount their token",
    area=Area.ACCESS,
    severity=Severity.LOW,
    rationale=(
        "Unless the default ServiceAccount sets automountServiceAccountToken: false, every pod "
        "that does not opt out carries an API token, usable by whoever compromises the pod. "
        "Low: the token's rights are what access.default_sa_bindings reports. kube-system, "
        "kube-public and kube-node-lease are left out: the provider owns those accounts."
    ),
    remediation=(
        "kubectl patch serviceaccount default -n NAMESPACE -p "
        "'{\"automountServiceAccountToken\": false}'; pods that need a token set it themselves."
    ),
    evidence=("serviceaccounts",),
    references=(
        CIS("5.1.5", title="Ensure that default service accounts are not actively used"),
        CIS_GKE("4.1.4"),
        NSA("Pod security", title="Protect Pod service account tokens"),
    ),
)
def default_sa_automount(inventory: Inventory, context: CheckContext) -> Outcome:
    affected: list[Affected] = []
    for account in inventory.items("serviceaccounts"):
        meta = account.get("metadata") or {}
        namespace = meta.get("namespace", "")
        if meta.get("name") != "default" or namespace in _SYSTEM_NAMESPACES:
            continue
        automount = account.get("automountServiceAccountToken")
        if automount is not False:
            state = "true" if automount else "not set (defaults to true)"
            detail = f"automountServiceAccountToken is {state}"
            affected.append(Affected("ServiceAccount", namespace, "default", detail))
    return Outcome.from_affected(
        affected,
        passed="Every default ServiceAccount disables token automounting.",
        failed="{count} namespace(s) automount the default ServiceAccount's token.",
    )


@check(
    id="access.automounted_tokens",
    title="Tokens mounted into pods whose ServiceAccount has no RBAC rights",
    area=Area.ACCESS,
    severity=Severity.LOW,
    rationale=(
        "A mounted token the workload never uses is a credential for an attacker only. Whether "
        "a workload calls the API is not visible, so this is CIS 5.1.6's heuristic: the "
        "effective automountServiceAccountToken (the pod's, else its ServiceAccount's, else "
        "true) is on, and no binding names the ServiceAccount or its namespace's "
        "system:serviceaccounts group. kube-system is left out: its components use the API."
    ),
    remediation=(
        "Set automountServiceAccountToken: false in the pod template (or on the "
        "ServiceAccount); use a projected token volume where the workload does need one."
    ),
    needs=("serviceaccounts", *BINDING_NEEDS),
    evidence=WORKLOAD_NEEDS,
    references=(
        CIS("5.1.6", title="Ensure that Service Account Tokens are only mounted where necessary"),
        CIS_GKE("4.1.5"),
        NSA("Pod security", title="Protect Pod service account tokens"),
    ),
)
def automounted_tokens(inventory: Inventory, context: CheckContext) -> Outcome:
    accounts = {
        (
            _meta(a).get("namespace", ""),
            _meta(a).get("name", ""),
        ): a
        for a in inventory.items("serviceaccounts")
    }
    index = rbac_index(inventory)
    bound = index.bound_service_accounts()
    bound_namespaces = {
        subject.name.removeprefix("system:serviceaccounts:")
        for binding in index.bindings
        for subject in binding.subjects
        if subject.kind == "Group" and subject.name.startswith("system:serviceaccounts:")
    }
    affected: list[Affected] = []
    for workload in workloads(inventory):
        if workload.namespace == "kube-system" or workload.namespace in bound_namespaces:
            continue
        spec = workload.pod_spec
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = accounts.get((workload.namespace, name), {}).get(
                "automountServiceAccountToken"
            )
        if automount is False or (workload.namespace, name) in bound:
            continue
        affected.append(
            Affected(
                workload.kind,
                workload.namespace,
                workload.name,
                f"mounts a token for ServiceAccount {name}, which no binding names",
            )
        )
    return Outcome.from_affected(
        affected,
        passed="Every mounted token belongs to a ServiceAccount with RBAC rights.",
        failed="{count} workload(s) mount a token they have no rights to use.",
    )


def _meta(obj: JSON) -> JSON:
    return obj.get("metadata") or {}
