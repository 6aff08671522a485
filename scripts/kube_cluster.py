"""Services, Ingresses, NetworkPolicies, RBAC and admission objects; `Cluster` is the full builder.

The default RBAC objects every cluster has (cluster-admin, the discovery and public-info
bindings, aggregated admin/edit/view) are added by `default_rbac()`, with the labels and
annotations the API server's bootstrap policy puts on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kube_objects import JSON, RBAC_GROUP, READ, digest, group, rule, sa, user
from kube_pods import FAKE_CA
from kube_workloads import WorkloadBuilder

_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_HEALTH_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


class Cluster(WorkloadBuilder):
    # -- networking --------------------------------------------------------------------------
    def service(
        self,
        namespace: str,
        name: str,
        *,
        selector: JSON | None,
        ports: list[JSON],
        type: str = "ClusterIP",
        labels: JSON | None = None,
        annotations: JSON | None = None,
        fixed_ip: str | None = None,
        lb_ip: str | None = None,
    ) -> JSON:
        ip = self.cluster_ip(fixed_ip)
        spec: JSON = {
            "clusterIP": ip,
            "clusterIPs": [ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [],
            "sessionAffinity": "None",
            "type": type,
        }
        for port in ports:
            entry = {"protocol": "TCP", "targetPort": port["port"], **port}
            if type in ("NodePort", "LoadBalancer") and "nodePort" not in entry:
                entry["nodePort"] = (
                    30000 + int(digest(self.name, namespace, name, entry)[:4], 16) % 2767
                )
            spec["ports"].append(entry)
        if selector is not None:
            spec["selector"] = selector
        if type in ("NodePort", "LoadBalancer"):
            spec["externalTrafficPolicy"] = "Cluster"
        if type == "LoadBalancer":
            spec["allocateLoadBalancerNodePorts"] = True
        status: JSON = {"loadBalancer": {}}
        if lb_ip:
            status["loadBalancer"] = {"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]}
        obj = self.add(
            "services",
            {
                "metadata": self.meta(
                    "services", name, namespace, labels=labels, annotations=annotations
                ),
                "spec": spec,
                "status": status,
            },
        )
        if namespace != "default" or name != "kubernetes":
            self.applied(obj)
        return obj

    def ingress(self, namespace: str, name: str, spec: JSON, *, lb_ip: str | None = None) -> JSON:
        status = {"loadBalancer": {"ingress": [{"ip": lb_ip}]} if lb_ip else {}}
        obj = self.add(
            "ingresses",
            {
                "metadata": self.meta("ingresses", name, namespace, generation=1),
                "spec": spec,
                "status": status,
            },
        )
        self.applied(obj)
        return obj

    def network_policy(self, namespace: str, name: str, spec: JSON) -> JSON:
        obj = self.add(
            "networkpolicies",
            {"metadata": self.meta("networkpolicies", name, namespace, generation=1), "spec": spec},
        )
        self.applied(obj)
        return obj

    def default_deny(self, namespace: str) -> JSON:
        return self.network_policy(
            namespace,
            "default-deny-all",
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        )

    # -- RBAC ----------------------------------------------------------------------------------
    def cluster_role(
        self,
        name: str,
        rules: list[JSON],
        *,
        default: bool = False,
        labels: JSON | None = None,
        aggregate: list[str] | None = None,
    ) -> JSON:
        body: JSON = {
            "metadata": self.meta(
                "clusterroles",
                name,
                labels=(_BOOTSTRAP_LABELS if default else {}) | (labels or {}),
                annotations=_AUTOUPDATE if default else None,
                created=self._boot() if default else None,
            ),
            "rules": rules,
        }
        if aggregate:
            body["aggregationRule"] = {
                "clusterRoleSelectors": [
                    {"matchLabels": {f"rbac.authorization.k8s.io/{label}": "true"}}
                    for label in aggregate
                ]
            }
        obj = self.add("clusterroles", body)
        if not default:
            self.applied(obj)
        return obj

    def cluster_role_binding(
        self, name: str, role: str, subjects: list[JSON], *, default: bool = False
    ) -> JSON:
        obj = self.add(
            "clusterrolebindings",
            {
                "metadata": self.meta(
                    "clusterrolebindings",
                    name,
                    labels=_BOOTSTRAP_LABELS if default else None,
                    annotations=_AUTOUPDATE if default else None,
                    created=self._boot() if default else None,
                ),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
                "subjects": subjects,
            },
        )
        if not default:
            self.applied(obj)
        return obj

    def role(self, namespace: str, name: str, rules: list[JSON]) -> JSON:
        obj = self.add("roles", {"metadata": self.meta("roles", name, namespace), "rules": rules})
        self.applied(obj)
        return obj

    def role_binding(
        self, namespace: str, name: str, role_kind: str, role: str, subjects: list[JSON]
    ) -> JSON:
        obj = self.add(
            "rolebindings",
            {
                "metadata": self.meta("rolebindings", name, namespace),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role},
                "subjects": subjects,
            },
        )
        self.applied(obj)
        return obj

    def _boot(self) -> str:
        return self.created.strftime("%Y-%m-%dT%H:%M:%SZ")

    def default_rbac(self, controllers: tuple[str, ...]) -> None:
        """The bootstrap policy subset every cluster has (kube-apiserver's defaults)."""
        star = rule(["*"], ["*"], ["*"])
        self.cluster_role(
            "cluster-admin", [star, {"nonResourceURLs": ["*"], "verbs": ["*"]}], default=True
        )
        self.cluster_role_binding(
            "cluster-admin", "cluster-admin", [group("system:masters")], default=True
        )
        workload_write = ["create", "delete", "deletecollection", "patch", "update"]
        view_rules = [
            rule(
                [""],
                [
                    "configmaps",
                    "endpoints",
                    "persistentvolumeclaims",
                    "pods",
                    "pods/log",
                    "replicationcontrollers",
                    "services",
                    "serviceaccounts",
                ],
                READ,
            ),
            rule([""], ["namespaces", "events", "limitranges", "resourcequotas"], READ),
            rule(["apps"], ["daemonsets", "deployments", "replicasets", "statefulsets"], READ),
            rule(["batch"], ["cronjobs", "jobs"], READ),
            rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], READ),
            rule(["policy"], ["poddisruptionbudgets"], READ),
        ]
        edit_rules = [
            rule(
                [""],
                ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
                workload_write,
            ),
            rule([""], ["configmaps", "secrets", "services", "serviceaccounts"], workload_write),
            rule(
                ["apps"],
                ["daemonsets", "deployments", "replicasets", "statefulsets"],
                workload_write,
            ),
            rule([""], ["secrets"], READ),
        ]
        admin_rules = [
            rule(
                ["rbac.authorization.k8s.io"], ["rolebindings", "roles"], [*READ, *workload_write]
            ),
            rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        ]
        self.cluster_role(
            "admin",
            admin_rules + edit_rules + view_rules,
            default=True,
            aggregate=["aggregate-to-admin"],
        )
        self.cluster_role(
            "edit",
            edit_rules + view_rules,
            default=True,
            labels={"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
            aggregate=["aggregate-to-edit"],
        )
        self.cluster_role(
            "view",
            view_rules,
            default=True,
            labels={"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
            aggregate=["aggregate-to-view"],
        )
        self.cluster_role(
            "system:basic-user",
            [
                rule(
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
            default=True,
        )
        self.cluster_role(
            "system:discovery",
            [
                {
                    "nonResourceURLs": [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/openapi",
                        "/openapi/*",
                        *_HEALTH_URLS,
                    ],
                    "verbs": ["get"],
                }
            ],
            default=True,
        )
        self.cluster_role(
            "system:public-info-viewer",
            [{"nonResourceURLs": _HEALTH_URLS, "verbs": ["get"]}],
            default=True,
        )
        self.cluster_role(
            "system:node-proxier",
            [
                rule([""], ["endpoints", "services"], ["list", "watch"]),
                rule([""], ["nodes"], READ),
                rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
                rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
            ],
            default=True,
        )
        self.cluster_role(
            "system:node",
            [
                rule([""], ["pods"], ["get", "list", "watch", "create", "delete"]),
                rule([""], ["pods/status", "nodes/status"], ["patch", "update"]),
                rule([""], ["configmaps", "secrets"], ["get", "list", "watch"]),
                rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            ],
            default=True,
        )
        authenticated = group("system:authenticated")
        self.cluster_role_binding(
            "system:basic-user", "system:basic-user", [authenticated], default=True
        )
        self.cluster_role_binding(
            "system:discovery", "system:discovery", [authenticated], default=True
        )
        self.cluster_role_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, group("system:unauthenticated")],
            default=True,
        )
        self.cluster_role_binding(
            "system:node-proxier", "system:node-proxier", [user("system:kube-proxy")], default=True
        )
        self.cluster_role_binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [user("system:kube-controller-manager")],
            default=True,
        )
        self.cluster_role(
            "system:kube-controller-manager",
            [
                rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
                rule([""], ["secrets", "serviceaccounts"], ["create"]),
                rule(["*"], ["*"], ["list", "watch"]),
            ],
            default=True,
        )
        for controller in controllers:
            role = f"system:controller:{controller}"
            self.cluster_role(
                role, [rule([""], ["events"], ["create", "patch", "update"])], default=True
            )
            self.cluster_role_binding(role, role, [sa("kube-system", controller)], default=True)
            self.service_account("kube-system", controller)

    # -- admission, CRDs ------------------------------------------------------------------------
    def webhook_configuration(self, key: str, name: str, webhooks: list[JSON]) -> JSON:
        filled = []
        for hook in webhooks:
            hook = dict(hook)
            if "service" in hook:
                target = {"service": {"port": 443, **hook.pop("service")}}
            else:
                target = {"url": hook.pop("url")}
            filled.append(
                {
                    "admissionReviewVersions": ["v1"],
                    "clientConfig": {"caBundle": FAKE_CA, **target},
                    "failurePolicy": "Fail",
                    "matchPolicy": "Equivalent",
                    "namespaceSelector": {},
                    "objectSelector": {},
                    "sideEffects": "None",
                    "timeoutSeconds": 10,
                    **({"reinvocationPolicy": "Never"} if key.startswith("mutating") else {}),
                    **hook,
                }
            )
        return self.add(key, {"metadata": self.meta(key, name, generation=1), "webhooks": filled})

    def crd(
        self,
        group_name: str,
        plural: str,
        kind: str,
        *,
        scope: str = "Namespaced",
        versions: tuple[str, ...] = ("v1",),
        labels: JSON | None = None,
    ) -> JSON:
        name = f"{plural}.{group_name}"
        schema: dict[str, Any] = {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        }
        return self.add(
            "customresourcedefinitions",
            {
                "metadata": self.meta(
                    "customresourcedefinitions", name, labels=labels, generation=1
                ),
                "spec": {
                    "conversion": {"strategy": "None"},
                    "group": group_name,
                    "names": {
                        "kind": kind,
                        "listKind": f"{kind}List",
                        "plural": plural,
                        "singular": kind.lower(),
                    },
                    "scope": scope,
                    "versions": [
                        {
                            "name": v,
                            "schema": schema,
                            "served": True,
                            "storage": i == 0,
                            "subresources": {"status": {}},
                        }
                        for i, v in enumerate(versions)
                    ],
                },
                "status": {
                    "acceptedNames": {
                        "kind": kind,
                        "listKind": f"{kind}List",
                        "plural": plural,
                        "singular": kind.lower(),
                    },
                    "storedVersions": [versions[0]],
                },
            },
        )


def version_body(git_version: str, *, build_date: str, go: str) -> JSON:
    """The body of GET /version for a release (1.31+ adds the emulation/compatibility fields)."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    body: JSON = {"major": major, "minor": minor}
    if int(minor) >= 31:
        body |= {
            "emulationMajor": major,
            "emulationMinor": minor,
            "minCompatibilityMajor": major,
            "minCompatibilityMinor": str(int(minor) - 1),
        }
    return body | {
        "gitVersion": git_version,
        "gitCommit": digest("commit", git_version)[:40],
        "gitTreeState": "clean",
        "buildDate": build_date,
        "goVersion": go,
        "compiler": "gc",
        "platform": "linux/amd64",
    }


@dataclass
class DemoCluster:
    """One demo cluster: its objects, what the collector could not list, and what was planted."""

    cluster: Cluster
    version: JSON
    description: str
    planted: list[str]
    expected: JSON
    omit: tuple[str, ...] = ()
    # collection-errors.txt lines: (resource key, forbidden | not_served, kubectl's message)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    # Provider data beside the Kubernetes files: bundle file name -> its JSON
    # (gke-cluster.json, gke-upgrade-info.json, eks-cluster.json, eks-cluster-versions.json).
    provider_files: dict[str, JSON] = field(default_factory=dict)
