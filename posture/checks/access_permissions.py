"""Access checks on who holds a dangerous RBAC permission (CIS Kubernetes 5.1.x).

One table row per control: the permissions that make it fail and why they matter. Every
finding names the binding and says `grants <permission> to <subject> (via <role>)`.
"""

from __future__ import annotations

from clusters.inventory import Inventory
from posture.checks import rbac
from posture.checks.base import Area, Check, CheckContext, Outcome, Reference, Severity, check
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.rbac import (
    RBAC_NEEDS,
    Binding,
    Permission,
    Subject,
    grant_detail,
    rbac_index,
)

NSA_AUTH = NSA("Authentication & authorization")

# Appended to every permission check's rationale, so each says what it leaves out and why.
_EXCLUSIONS = (
    " Left out as system identities: system:-prefixed users and groups (control plane, nodes, "
    "system:masters) except the everyone-groups, kubeadm:cluster-admins (admin.conf), "
    "ServiceAccounts in kube-system except "
    "`default`, and GKE's `kubelet`/`kube-apiserver` certificates bound to system: roles. "
    "Rules narrowed by resourceNames are not counted."
)


def _permission_check(
    *,
    id: str,
    title: str,
    severity: Severity,
    permissions: tuple[Permission, ...],
    rationale: str,
    remediation: str,
    references: tuple[Reference, ...],
    cluster_wide_only: bool = False,
) -> Check:
    """A check failing for every (binding, subject) that receives one of `permissions`."""

    def evaluate(inventory: Inventory, context: CheckContext) -> Outcome:
        index = rbac_index(inventory)
        # One finding per (binding, subject), naming every permission of this control it gets.
        granted: dict[tuple[Binding, Subject], list[str]] = {}
        for permission in permissions:
            for pair in index.granting(permission, cluster_wide_only=cluster_wide_only):
                granted.setdefault(pair, []).append(permission.label)
        affected = [
            binding.affected(grant_detail(binding, subject, " and ".join(labels), via=binding.role))
            for (binding, subject), labels in granted.items()
        ]
        return Outcome.from_affected(
            affected,
            passed="Only system identities hold this permission.",
            failed="{count} grant(s) to non-system subjects.",
        )

    return check(
        id=id,
        title=title,
        area=Area.ACCESS,
        severity=severity,
        rationale=rationale + _EXCLUSIONS,
        remediation=remediation,
        evidence=RBAC_NEEDS,
        references=references,
    )(evaluate)


SECRETS_READERS = _permission_check(
    id="access.secrets_readers",
    title="Subjects that can read Secrets cluster-wide",
    severity=Severity.HIGH,
    permissions=(rbac.SECRETS_READ,),
    cluster_wide_only=True,
    rationale=(
        "get, list or watch on secrets through a ClusterRoleBinding reads every Secret in every "
        "namespace: service-account tokens, registry and cloud credentials. list and watch "
        "return the values too, not only names. Namespaced grants are a team's own business "
        "and are not reported here."
    ),
    remediation="Bind secret access per namespace, with resourceNames where possible.",
    references=(
        CIS("5.1.2", title="Minimize access to secrets"),
        CIS_GKE("4.1.2"),
        GKE("E3"),
        NSA_AUTH,
    ),
)
POD_CREATORS = _permission_check(
    id="access.pod_creators",
    title="Subjects that can create pods",
    severity=Severity.MEDIUM,
    permissions=(rbac.POD_CREATE, rbac.WORKLOAD_WRITE),
    rationale=(
        "Creating a pod (directly, or by writing a Deployment, DaemonSet, Job or other "
        "controller) runs code as any ServiceAccount of the namespace and mounts its Secrets; "
        "without an admission policy it can also take the node."
    ),
    remediation="Deploy through a pipeline identity; give people read access and exec-free roles.",
    references=(CIS("5.1.4", title="Minimize access to create pods"), GKE("H2")),
)
POD_EXEC = _permission_check(
    id="access.pod_exec",
    title="Subjects that can exec or attach into pods",
    severity=Severity.HIGH,
    permissions=(rbac.POD_EXEC,),
    rationale=(
        "create (and on older API servers get) on pods/exec or pods/attach opens a shell in "
        "running containers, with their tokens, mounted Secrets and network position."
    ),
    remediation="Restrict exec to break-glass roles; debug through logs and ephemeral audits.",
    references=(NSA_AUTH, GKE("E3")),
)
ESCALATION_VERBS = _permission_check(
    id="access.escalation_verbs",
    title="Subjects that can bind, escalate or impersonate",
    severity=Severity.HIGH,
    permissions=(rbac.ESCALATE, rbac.IMPERSONATE),
    rationale=(
        "bind and escalate on roles let a subject grant itself permissions it does not hold; "
        "impersonate lets it act as any user, group or ServiceAccount. Each amounts to admin."
    ),
    remediation="Remove these verbs, or narrow them with resourceNames to the roles meant.",
    references=(
        CIS("5.1.8", title="Limit use of the Bind, Impersonate and Escalate permissions"),
        CIS_GKE("4.1.7"),
    ),
)
NODES_PROXY = _permission_check(
    id="access.nodes_proxy",
    title="Subjects with access to nodes/proxy",
    severity=Severity.HIGH,
    permissions=(rbac.NODES_PROXY,),
    rationale=(
        "nodes/proxy reaches the kubelet API directly: exec into any pod on the node, bypassing "
        "admission and most audit logging."
    ),
    remediation="Remove nodes/proxy from the role; use metrics APIs for monitoring.",
    references=(CIS("5.1.10", title="Minimize access to the proxy sub-resource of nodes"),),
)
CSR_APPROVAL = _permission_check(
    id="access.csr_approval",
    title="Subjects that can approve certificate signing requests",
    severity=Severity.HIGH,
    permissions=(rbac.CSR_APPROVE,),
    rationale=(
        "Approving CSRs (update/patch on certificatesigningrequests/approval) can mint client "
        "certificates for any identity, system:masters included, that cannot be revoked."
    ),
    remediation="Leave approval to the controller manager; remove the permission from others.",
    references=(CIS("5.1.11", title="Minimize access to the approval sub-resource of CSRs"),),
)
WEBHOOK_WRITERS = _permission_check(
    id="access.webhook_writers",
    title="Subjects that can change admission webhooks",
    severity=Severity.HIGH,
    permissions=(rbac.WEBHOOK_WRITE,),
    rationale=(
        "Whoever writes validating or mutating webhook configurations can switch policy "
        "enforcement off, or route every object, Secrets included, through a server of theirs."
    ),
    remediation="Limit webhook configuration writes to the policy engine's installer identity.",
    references=(CIS("5.1.12", title="Minimize access to webhook configuration objects"),),
)
TOKEN_CREATORS = _permission_check(
    id="access.token_creators",
    title="Subjects that can create ServiceAccount tokens",
    severity=Severity.HIGH,
    permissions=(rbac.TOKEN_CREATE,),
    rationale=(
        "create on serviceaccounts/token mints a token for any ServiceAccount in scope, "
        "taking its permissions without running a pod."
    ),
    remediation="Remove the permission, or narrow it with resourceNames to specific accounts.",
    references=(CIS("5.1.13", title="Minimize access to the service account token creation"),),
)
PV_CREATORS = _permission_check(
    id="access.pv_creators",
    title="Subjects that can create PersistentVolumes",
    severity=Severity.MEDIUM,
    permissions=(rbac.PV_CREATE,),
    rationale=(
        "A hostPath PersistentVolume mounts any node directory into a pod that claims it, "
        "getting around pod-level hostPath restrictions."
    ),
    remediation="Provision volumes through StorageClasses; keep PV creation with admins.",
    references=(CIS("5.1.9", title="Minimize access to create persistent volumes"),),
)
