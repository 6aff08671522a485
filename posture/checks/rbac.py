"""RBAC as data: effective rules of roles, subjects of bindings, and how powerful a grant is.

Access checks ask "which bindings let which subjects do X". The answer comes from the listed
Roles, ClusterRoles and bindings alone, matched with the API server's PolicyRule semantics; a
SubjectAccessReview would be exact but needs the network, which checks never see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected
from posture.checks.selectors import selector_matches

RBAC_NEEDS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
BINDING_NEEDS = ("rolebindings", "clusterrolebindings")

ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
# Principals that stand for "everyone" of some kind: never excluded as "system", whatever prefix.
_BROAD_GROUPS = frozenset({UNAUTHENTICATED, AUTHENTICATED, "system:serviceaccounts"})
# GKE binds node and control-plane certificates named plainly `kubelet` and `kube-apiserver` to
# built-in roles (e.g. CRB kubelet-cluster-admin -> system:node). Only certificates signed by
# the cluster CA carry these names, so they are component identities like `system:` users.
_PROVIDER_COMPONENT_USERS = frozenset({"kubelet", "kube-apiserver"})

# kubeadm 1.29+ issues admin.conf in this group (bound to cluster-admin by the CRB of the same
# name) instead of system:masters, so it is the same break-glass identity, revocable this time.
_KUBEADM_ADMINS = "kubeadm:cluster-admins"

_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
_READ_VERBS = frozenset({"get", "list", "watch", "*"})


@dataclass(frozen=True)
class Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: frozenset[str]

    @classmethod
    def from_json(cls, rule: JSON) -> Rule:
        return cls(
            verbs=frozenset(rule.get("verbs") or ()),
            api_groups=frozenset(rule.get("apiGroups") or ()),
            resources=frozenset(rule.get("resources") or ()),
            resource_names=frozenset(rule.get("resourceNames") or ()),
            non_resource_urls=frozenset(rule.get("nonResourceURLs") or ()),
        )

    def allows(self, verb: str, group: str, resource: str) -> bool:
        """Whether the rule grants `verb` on every object of `resource` ("pods/exec" form).

        `verb="*"` asks for any verb at all. Rules narrowed by resourceNames never count: they
        reach named objects only, the least-privilege shape these controls recommend.
        """
        if self.resource_names or not self.resources:
            return False
        if verb == "*":
            if not self.verbs:
                return False
        elif verb not in self.verbs and "*" not in self.verbs:
            return False
        if group not in self.api_groups and "*" not in self.api_groups:
            return False
        return _resource_matches(self.resources, resource)

    @property
    def wildcard_fields(self) -> list[str]:
        fields = (
            ("verbs", self.verbs),
            ("resources", self.resources),
            ("apiGroups", self.api_groups),
        )
        return [name for name, values in fields if "*" in values]

    @property
    def is_superuser(self) -> bool:
        return {"*"} <= self.verbs and {"*"} <= self.resources and {"*"} <= self.api_groups

    def describe(self) -> str:
        target = (
            f"resources [{_join(self.resources)}] in apiGroups [{_join(self.api_groups)}]"
            if self.resources
            else f"nonResourceURLs [{_join(self.non_resource_urls)}]"
        )
        return f"verbs [{_join(self.verbs)}] on {target}"


def _join(values: Iterable[str]) -> str:
    return ", ".join(sorted(repr(v) if v == "" else v for v in values))


def _resource_matches(rule_resources: frozenset[str], requested: str) -> bool:
    # Mirrors rbac/v1 ResourceMatches: "*", an exact "pods/exec", or "*/exec" for a subresource.
    if "*" in rule_resources or requested in rule_resources:
        return True
    _, _, subresource = requested.partition("/")
    return bool(subresource) and f"*/{subresource}" in rule_resources


@dataclass(frozen=True)
class Permission:
    """A capability a control names, as verbs over (apiGroup, resource) targets."""

    label: str
    verbs: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    # On cluster-scoped resources (nodes, CSRs, webhooks, PVs) only a ClusterRoleBinding grants
    # anything: a RoleBinding's rules apply to objects in its namespace alone.
    cluster_scoped: bool = False

    def granted_by(self, rules: Iterable[Rule]) -> bool:
        return any(
            rule.allows(verb, group, resource)
            for rule in rules
            for verb in self.verbs
            for group, resource in self.targets
        )


_RBAC = "rbac.authorization.k8s.io"
SECRETS_READ = Permission("read Secrets", ("get", "list", "watch"), (("", "secrets"),))
POD_CREATE = Permission("create Pods", ("create",), (("", "pods"),))
# Controllers create pods on behalf of whoever writes their spec, so writing one is pod creation.
WORKLOAD_WRITE = Permission(
    "create or change workload controllers",
    ("create", "update", "patch"),
    (
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("", "replicationcontrollers"),
    ),
)
# `get` too: API servers without the AuthorizePodWebsocketUpgradeCreatePermission gate authorize
# WebSocket exec/attach upgrades as `get`.
POD_EXEC = Permission(
    "exec or attach into Pods", ("create", "get"), (("", "pods/exec"), ("", "pods/attach"))
)
ESCALATE = Permission(
    "bind or escalate roles",
    ("bind", "escalate"),
    ((_RBAC, "roles"), (_RBAC, "clusterroles")),
)
IMPERSONATE = Permission(
    "impersonate",
    ("impersonate",),
    (
        ("", "users"),
        ("", "groups"),
        ("", "serviceaccounts"),
        ("authentication.k8s.io", "uids"),
    ),
)
NODES_PROXY = Permission(
    "proxy to kubelets (nodes/proxy)", ("*",), (("", "nodes/proxy"),), cluster_scoped=True
)
CSR_APPROVE = Permission(
    "approve CertificateSigningRequests",
    ("update", "patch"),
    (("certificates.k8s.io", "certificatesigningrequests/approval"),),
    cluster_scoped=True,
)
WEBHOOK_WRITE = Permission(
    "change admission webhooks",
    ("create", "update", "patch", "delete"),
    (
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ),
    cluster_scoped=True,
)
TOKEN_CREATE = Permission(
    "create ServiceAccount tokens", ("create",), (("", "serviceaccounts/token"),)
)
PV_CREATE = Permission(
    "create PersistentVolumes", ("create",), (("", "persistentvolumes"),), cluster_scoped=True
)

SENSITIVE = (
    SECRETS_READ,
    POD_CREATE,
    WORKLOAD_WRITE,
    POD_EXEC,
    NODES_PROXY,
    CSR_APPROVE,
    WEBHOOK_WRITE,
    TOKEN_CREATE,
    PV_CREATE,
)


class Power(IntEnum):
    """How much a set of rules lets its holder do, coarsely, for grading bindings."""

    NONE = 0  # nothing, or only non-resource URLs such as /healthz and discovery
    READ = 1  # reads objects other than Secrets
    WRITE = 2  # changes objects, none of them a path to pods, tokens or the control plane
    SENSITIVE = 3  # a direct path to secrets, code execution, tokens, nodes or admission
    ADMIN = 4  # everything, or the means to grant itself everything (bind/escalate/impersonate)

    @property
    def label(self) -> str:
        return {
            0: "no resource access",
            1: "read-only",
            2: "write",
            3: "sensitive",
            4: "admin-equivalent",
        }[self.value]


def grade(rules: Iterable[Rule], *, namespaced: bool = False) -> tuple[Power, list[str]]:
    """The power of a rule set and the named capabilities that put it there.

    `namespaced` grades rules granted by a RoleBinding, which reach no cluster-scoped resource.
    """
    rules = tuple(rules)
    if any(rule.is_superuser and not rule.resource_names for rule in rules):
        return Power.ADMIN, ["* on *"]
    admin = [p.label for p in (ESCALATE, IMPERSONATE) if p.granted_by(rules)]
    if admin:
        return Power.ADMIN, admin
    sensitive = [
        p.label for p in SENSITIVE if not (namespaced and p.cluster_scoped) and p.granted_by(rules)
    ]
    if sensitive:
        return Power.SENSITIVE, sensitive
    resource_rules = [r for r in rules if r.resources]
    if any(r.verbs & _WRITE_VERBS for r in resource_rules):
        return Power.WRITE, []
    if any(r.verbs & _READ_VERBS for r in resource_rules):
        return Power.READ, []
    return Power.NONE, []


@dataclass(frozen=True)
class Subject:
    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) also for the User form `system:serviceaccount:<ns>:<name>`."""
        if self.kind == "ServiceAccount":
            return (self.namespace, self.name)
        if self.kind == "User" and self.name.startswith("system:serviceaccount:"):
            parts = self.name.split(":")
            if len(parts) == 4:
                return (parts[2], parts[3])
        return None

    @property
    def is_broad(self) -> bool:
        """Everyone, every authenticated identity, or every service account (of a namespace)."""
        if self.kind == "User":
            return self.name == ANONYMOUS_USER
        if self.kind == "Group":
            return self.name in _BROAD_GROUPS or self.name.startswith("system:serviceaccounts:")
        return False


@dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    namespace: str
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]

    @property
    def role(self) -> str:
        return f"{self.role_kind} {self.role_name}"

    @property
    def scope(self) -> str:
        return "cluster-wide" if self.kind == "ClusterRoleBinding" else f"in {self.namespace}"

    def affected(self, detail: str) -> Affected:
        return Affected(self.kind, self.namespace, self.name, detail)


def is_system_subject(binding: Binding, subject: Subject) -> bool:
    """Identities of the control plane, nodes and kube-system controllers.

    Their credentials live on control-plane machines or nodes, not with people; a finding on
    them would be on every cluster and unfixable. The break-glass admin groups system:masters
    and kubeadm:cluster-admins (admin.conf) count as system too. Exceptions stay in scope: the
    "everyone" principals (system:anonymous, system:unauthenticated, system:authenticated,
    service-account groups) and kube-system's `default` ServiceAccount, which no component
    uses and which Helm v2's Tiller era taught people to bind to cluster-admin.
    """
    if subject.is_broad:
        return subject.name == "system:serviceaccounts:kube-system"
    account = subject.service_account
    if account is not None:
        return account[0] == "kube-system" and account[1] != "default"
    if subject.name.startswith("system:"):
        return True
    if subject.kind == "Group" and subject.name == _KUBEADM_ADMINS:
        return True
    return (
        subject.kind == "User"
        and subject.name in _PROVIDER_COMPONENT_USERS
        and binding.role_kind == "ClusterRole"
        and binding.role_name.startswith("system:")
    )


class RbacIndex:
    """Roles, bindings and effective rules of one inventory, built once and shared."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    @cached_property
    def cluster_roles(self) -> dict[str, JSON]:
        if not self.inventory.in_hand("clusterroles"):
            return {}
        return {_name(role): role for role in self.inventory.items("clusterroles")}

    @cached_property
    def roles(self) -> dict[tuple[str, str], JSON]:
        if not self.inventory.in_hand("roles"):
            return {}
        return {(_namespace(r), _name(r)): r for r in self.inventory.items("roles")}

    @cached_property
    def bindings(self) -> list[Binding]:
        result = []
        for key, kind in (
            ("clusterrolebindings", "ClusterRoleBinding"),
            ("rolebindings", "RoleBinding"),
        ):
            if not self.inventory.in_hand(key):
                continue
            for obj in self.inventory.items(key):
                role_ref = obj.get("roleRef") or {}
                namespace = _namespace(obj) if kind == "RoleBinding" else ""
                subjects = tuple(
                    Subject(
                        s.get("kind", ""),
                        s.get("name", ""),
                        # A ServiceAccount subject without namespace means the binding's own.
                        s.get("namespace")
                        or (namespace if s.get("kind") == "ServiceAccount" else ""),
                    )
                    for s in obj.get("subjects") or []
                )
                result.append(
                    Binding(
                        kind,
                        namespace,
                        _name(obj),
                        role_ref.get("kind", ""),
                        role_ref.get("name", ""),
                        subjects,
                    )
                )
        return result

    def cluster_role_rules(self, name: str) -> tuple[Rule, ...]:
        """Own rules plus those of every ClusterRole its aggregationRule selects, transitively.

        The aggregation controller copies those rules in, but a bundle written by hand or
        collected mid-reconcile may not have them yet.
        """
        seen: set[str] = set()
        rules: list[Rule] = []
        pending = [name]
        while pending:
            current = pending.pop()
            if current in seen or current not in self.cluster_roles:
                continue
            seen.add(current)
            role = self.cluster_roles[current]
            rules.extend(Rule.from_json(r) for r in role.get("rules") or [])
            for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
                pending.extend(
                    other
                    for other, obj in self.cluster_roles.items()
                    if selector_matches(selector, (obj.get("metadata") or {}).get("labels") or {})
                )
        return tuple(rules)

    def rules_of(self, binding: Binding) -> tuple[Rule, ...]:
        """The rules a binding grants; a dangling roleRef grants nothing."""
        if binding.role_kind == "ClusterRole":
            return self.cluster_role_rules(binding.role_name)
        role = self.roles.get((binding.namespace, binding.role_name))
        return tuple(Rule.from_json(r) for r in (role or {}).get("rules") or [])

    def grade(self, binding: Binding) -> tuple[Power, list[str]]:
        return grade(self.rules_of(binding), namespaced=binding.kind == "RoleBinding")

    def describe_role(self, binding: Binding) -> str:
        """`ClusterRole view (read-only)`; says so when the role could not be judged."""
        key = "clusterroles" if binding.role_kind == "ClusterRole" else "roles"
        if not self.inventory.in_hand(key):
            return f"{binding.role} ({key} not collected, power unknown)"
        exists = (
            binding.role_name in self.cluster_roles
            if binding.role_kind == "ClusterRole"
            else (binding.namespace, binding.role_name) in self.roles
        )
        if not exists:
            return f"{binding.role} (not found: grants nothing until created)"
        power, reasons = self.grade(binding)
        return f"{binding.role} ({power.label}" + (f": {', '.join(reasons)})" if reasons else ")")

    def granting(
        self, permission: Permission, *, cluster_wide_only: bool = False
    ) -> Iterator[tuple[Binding, Subject]]:
        """(binding, subject) pairs that receive `permission`, system subjects left out."""
        for binding in self.bindings:
            cluster_wide = cluster_wide_only or permission.cluster_scoped
            if cluster_wide and binding.kind != "ClusterRoleBinding":
                continue
            if not permission.granted_by(self.rules_of(binding)):
                continue
            for subject in binding.subjects:
                if not is_system_subject(binding, subject):
                    yield binding, subject

    def bound_service_accounts(self) -> set[tuple[str, str]]:
        """Service accounts named directly as a subject of any binding."""
        return {
            account
            for binding in self.bindings
            for subject in binding.subjects
            if (account := subject.service_account) is not None
        }


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _namespace(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def rbac_index(inventory: Inventory) -> RbacIndex:
    return inventory.derived("rbac", RbacIndex)


def grant_detail(binding: Binding, subject: Subject, what: str, *, via: str = "") -> str:
    """`grants <what> [in namespace n] to <subject> [(via ...)]`: every access finding's line."""
    where = "" if binding.kind == "ClusterRoleBinding" else f" in namespace {binding.namespace}"
    return f"grants {what}{where} to {subject}" + (f" (via {via})" if via else "")
