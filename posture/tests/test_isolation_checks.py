"""Workload isolation checks, told as small clusters: one good or bad workload at a time."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import Inventory, KindStatus
from posture.checks import isolation  # noqa: F401  (registers the isolation checks)
from posture.checks.base import REGISTRY, CheckContext, Result, Status, run_check
from posture.pss import namespace_policy
from posture.workloads import WORKLOAD_NEEDS

JSON = dict[str, Any]
# The fully hardened container: every check passes on it.
HARDENED: JSON = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def container(name: str = "app", **fields: Any) -> JSON:
    security = {**HARDENED, **fields.pop("securityContext", {})}
    return {
        "name": name,
        "image": "registry.example/app@sha256:abc",
        "securityContext": security,
        **fields,
    }


def pod_spec(*containers: JSON, **fields: Any) -> JSON:
    return {"containers": list(containers) or [container()], **fields}


def deployment_objects(
    spec: JSON, *, name: str = "web", namespace: str = "shop", metadata: JSON | None = None
) -> dict[str, list[JSON]]:
    """A Deployment with its ReplicaSet and a running Pod, owned as the controllers own them."""
    template = {"metadata": metadata or {"labels": {"app": name}}, "spec": spec}
    rs_name = f"{name}-5d9c7"

    def owner(kind: str, owner_name: str) -> list[JSON]:
        return [{"kind": kind, "name": owner_name, "controller": True}]

    return {
        "deployments": [
            {"metadata": {"name": name, "namespace": namespace}, "spec": {"template": template}}
        ],
        "replicasets": [
            {
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "ownerReferences": owner("Deployment", name),
                },
                "spec": {"template": template},
            }
        ],
        "pods": [
            {
                "metadata": {
                    "name": f"{rs_name}-x2x7q",
                    "namespace": namespace,
                    "ownerReferences": owner("ReplicaSet", rs_name),
                    **template["metadata"],
                },
                "spec": spec,
            }
        ],
    }


def namespace(name: str, **labels: str) -> JSON:
    return {"metadata": {"name": name, "labels": labels}}


def cluster(
    *workload_sets: dict[str, list[JSON]],
    namespaces: list[JSON] | None = None,
    git_version: str = "v1.31.4",
    **extra: list[JSON],
) -> Inventory:
    """An inventory where every kind the isolation checks need was listed."""
    inventory = Inventory(version={"gitVersion": git_version})
    merged: dict[str, list[JSON]] = {key: [] for key in WORKLOAD_NEEDS}
    for objects in workload_sets:
        for key, items in objects.items():
            merged[key] += items
    merged["namespaces"] = namespaces if namespaces is not None else [namespace("shop")]
    merged.setdefault("runtimeclasses", [])
    merged.setdefault("services", [])
    merged.update(extra)
    for key, items in merged.items():
        inventory.set_objects(key, items)
    return inventory


def run(check_id: str, inventory: Inventory, context: CheckContext | None = None) -> Result:
    return run_check(REGISTRY[check_id], inventory, context or CheckContext())


def the_one_finding(result: Result) -> tuple[str, str, str, str]:
    assert result.status == Status.FAIL, result.outcome.summary
    assert len(result.outcome.affected) == 1, result.outcome.affected
    item = result.outcome.affected[0]
    return item.kind, item.namespace, item.name, item.detail


# check id -> (a pod spec that fails it, a fragment of the detail it must report)
BAD_SPECS: dict[str, tuple[JSON, str]] = {
    "isolation.privileged": (
        pod_spec(container(securityContext={"privileged": True})),
        'container "app": securityContext.privileged=true',
    ),
    "isolation.host_namespaces": (pod_spec(hostPID=True), "spec.hostPID=true"),
    "isolation.host_path": (
        pod_spec(volumes=[{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]),
        'volume "sock": hostPath "/var/run/docker.sock" (exposes the container runtime socket)',
    ),
    "isolation.privilege_escalation": (
        pod_spec(container(securityContext={"allowPrivilegeEscalation": None})),
        "allowPrivilegeEscalation unset (defaults to true)",
    ),
    "isolation.run_as_root": (
        pod_spec(container(securityContext={"runAsNonRoot": None, "runAsUser": 0})),
        'container "app": runAsUser=0',
    ),
    "isolation.net_raw": (
        pod_spec(container(securityContext={"capabilities": {"add": ["NET_RAW"]}})),
        "capabilities.add includes NET_RAW",
    ),
    "isolation.added_capabilities": (
        pod_spec(
            container(securityContext={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}})
        ),
        "capabilities.add includes SYS_ADMIN",
    ),
    "isolation.capabilities_not_dropped": (
        pod_spec(container(securityContext={"capabilities": {"drop": ["NET_RAW"]}})),
        'capabilities.drop lacks "ALL"',
    ),
    "isolation.windows_host_process": (
        pod_spec(securityContext={"windowsOptions": {"hostProcess": True}}),
        "spec.securityContext.windowsOptions.hostProcess=true",
    ),
    "isolation.host_ports": (
        pod_spec(container(ports=[{"containerPort": 80, "hostPort": 8080}])),
        "ports[].hostPort=8080",
    ),
    "isolation.seccomp": (
        pod_spec(container(securityContext={"seccompProfile": {"type": "Unconfined"}})),
        "seccompProfile.type=Unconfined",
    ),
    "isolation.secrets_in_env": (
        pod_spec(
            container(
                env=[
                    {
                        "name": "DB_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}},
                    }
                ]
            )
        ),
        'env DB_PASSWORD from secret "db"',
    ),
    "pss.baseline": (
        pod_spec(container(securityContext={"privileged": True})),
        'baseline v1.31: privileged: container "app" must not set securityContext.privileged=true',
    ),
    "pss.restricted": (
        pod_spec(container(securityContext={"runAsNonRoot": None})),
        "restricted v1.31: runAsNonRoot",
    ),
}


@pytest.mark.parametrize("check_id", sorted(BAD_SPECS))
def test_it_passes_a_hardened_deployment(check_id: str) -> None:
    result = run(check_id, cluster(deployment_objects(pod_spec())))
    assert result.status == Status.PASS, result.outcome.affected


@pytest.mark.parametrize("check_id", sorted(BAD_SPECS))
def test_it_names_the_deployment_not_its_replicaset_or_pod(check_id: str) -> None:
    spec, detail = BAD_SPECS[check_id]
    kind, ns, name, got = the_one_finding(run(check_id, cluster(deployment_objects(spec))))
    assert (kind, ns, name) == ("Deployment", "shop", "web")
    assert detail in got


@pytest.mark.parametrize("check_id", sorted(BAD_SPECS))
def test_it_is_unknown_when_deployments_were_not_collected(check_id: str) -> None:
    inventory = cluster(deployment_objects(pod_spec()))
    inventory.set_missing("deployments", KindStatus.FORBIDDEN, "403")
    result = run(check_id, inventory)
    assert result.status == Status.UNKNOWN
    assert "deployments forbidden" in result.outcome.summary


def test_it_judges_a_deployment_scaled_to_zero() -> None:
    objects = deployment_objects(pod_spec(hostNetwork=True))
    objects["pods"] = []
    _, _, name, detail = the_one_finding(run("isolation.host_namespaces", cluster(objects)))
    assert (name, detail) == ("web", "spec.hostNetwork=true")


def test_it_reports_a_privileged_kube_proxy_in_kube_system() -> None:
    spec = pod_spec(container("kube-proxy", securityContext={"privileged": True}))
    objects = deployment_objects(spec, name="kube-proxy", namespace="kube-system")
    result = run("isolation.privileged", cluster(objects))
    assert the_one_finding(result)[:3] == ("Deployment", "kube-system", "kube-proxy")


def test_it_names_init_containers_in_the_detail() -> None:
    spec = pod_spec(initContainers=[container("setup", securityContext={"privileged": True})])
    detail = the_one_finding(run("isolation.privileged", cluster(deployment_objects(spec))))[3]
    assert detail == 'init container "setup": securityContext.privileged=true'


def test_it_does_not_flag_other_host_paths_as_runtime_sockets() -> None:
    spec = pod_spec(volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}])
    detail = the_one_finding(run("isolation.host_path", cluster(deployment_objects(spec))))[3]
    assert detail == 'volume "logs": hostPath "/var/log"'


def test_it_accepts_run_as_non_root_from_the_pod_security_context() -> None:
    spec = pod_spec(
        container(securityContext={"runAsNonRoot": None}), securityContext={"runAsNonRoot": True}
    )
    assert run("isolation.run_as_root", cluster(deployment_objects(spec))).status == Status.PASS


def test_it_exempts_windows_pods_from_linux_only_fields() -> None:
    windows = {"name": "app", "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022@sha256:1"}
    spec = pod_spec(windows, os={"name": "windows"})
    inventory = cluster(deployment_objects(spec))
    for check_id in ("isolation.seccomp", "isolation.capabilities_not_dropped"):
        assert run(check_id, inventory).status == Status.PASS


def test_it_evaluates_pod_security_at_the_namespace_pinned_version() -> None:
    # hostProbesAndHostLifecycle only exists from v1.34: a namespace pinned to v1.33 allows it.
    probe = {"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}
    spec = pod_spec(container(livenessProbe=probe))
    pinned = namespace("shop", **{"pod-security.kubernetes.io/enforce-version": "v1.33"})
    workloads = deployment_objects(spec)
    assert run(
        "pss.baseline", cluster(workloads, namespaces=[pinned], git_version="v1.35.0")
    ).status == (Status.PASS)
    latest = run("pss.baseline", cluster(workloads, git_version="v1.35.0"))
    assert "baseline v1.35: hostProbesAndHostLifecycle" in the_one_finding(latest)[3]


def test_it_resolves_namespace_policy_like_the_api_server() -> None:
    enforce = "pod-security.kubernetes.io/enforce"
    version = "pod-security.kubernetes.io/enforce-version"
    assert namespace_policy({}, "v1.31.4-gke.100") == ("privileged", "v1.31")
    assert namespace_policy({enforce: "baseline", version: "latest"}, "v1.31.4") == (
        "baseline",
        "v1.31",
    )
    assert namespace_policy({enforce: "restricted", version: "v1.25"}, "v1.31.4") == (
        "restricted",
        "v1.25",
    )
    assert namespace_policy({enforce: "bogus", version: "1.25"}, "v1.30.1") == (
        "restricted",
        "v1.30",
    )


def test_it_flags_namespaces_without_an_enforce_label_but_not_kube_system() -> None:
    namespaces = [
        namespace("shop"),
        namespace("payments", **{"pod-security.kubernetes.io/enforce": "restricted"}),
        namespace("kube-system"),
    ]
    result = run("isolation.psa_labels_missing", cluster(namespaces=namespaces))
    assert the_one_finding(result) == (
        "Namespace",
        "",
        "shop",
        "no pod-security.kubernetes.io/enforce label",
    )


def test_it_passes_psa_labels_when_every_namespace_enforces() -> None:
    labelled = namespace("shop", **{"pod-security.kubernetes.io/enforce": "baseline"})
    assert run("isolation.psa_labels_missing", cluster(namespaces=[labelled])).status == Status.PASS


def test_it_is_unknown_without_namespaces() -> None:
    inventory = cluster()
    inventory.set_missing("namespaces", KindStatus.NOT_COLLECTED, "")
    assert run("isolation.psa_labels_missing", inventory).status == Status.UNKNOWN


UNTRUSTED = namespace("ci", **{"rampart.dev/untrusted": "true"})
GVISOR = {"metadata": {"name": "gvisor"}, "handler": "runsc"}


def test_it_is_not_applicable_without_untrusted_namespaces() -> None:
    result = run("isolation.sandbox_untrusted", cluster(deployment_objects(pod_spec())))
    assert result.status == Status.NOT_APPLICABLE


def test_it_flags_untrusted_workloads_outside_a_sandbox() -> None:
    inventory = cluster(
        deployment_objects(pod_spec(), namespace="ci"),
        namespaces=[UNTRUSTED],
        runtimeclasses=[GVISOR],
    )
    kind, ns, name, detail = the_one_finding(run("isolation.sandbox_untrusted", inventory))
    assert (kind, ns, name) == ("Deployment", "ci", "web")
    assert "runtimeClassName unset" in detail


def test_it_passes_untrusted_workloads_in_gvisor() -> None:
    inventory = cluster(
        deployment_objects(pod_spec(runtimeClassName="gvisor"), namespace="ci"),
        namespaces=[UNTRUSTED],
        runtimeclasses=[GVISOR],
    )
    assert run("isolation.sandbox_untrusted", inventory).status == Status.PASS


def test_it_honours_the_configured_untrusted_label() -> None:
    tenant = namespace("ci", **{"example.com/tenant": "external"})
    inventory = cluster(deployment_objects(pod_spec(), namespace="ci"), namespaces=[tenant])
    context = CheckContext(untrusted_namespace_label="example.com/tenant")
    assert run("isolation.sandbox_untrusted", inventory, context).status == Status.FAIL


def test_it_is_unknown_without_runtimeclasses() -> None:
    inventory = cluster(namespaces=[UNTRUSTED])
    inventory.set_missing("runtimeclasses", KindStatus.FORBIDDEN, "403")
    assert run("isolation.sandbox_untrusted", inventory).status == Status.UNKNOWN


def test_it_flags_the_default_namespace_except_the_kubernetes_service() -> None:
    services = [
        {"metadata": {"name": "kubernetes", "namespace": "default"}},
        {"metadata": {"name": "shop", "namespace": "shop"}},
    ]
    clean = cluster(deployment_objects(pod_spec()), services=services)
    assert run("isolation.default_namespace", clean).status == Status.PASS
    dirty = cluster(deployment_objects(pod_spec(), namespace="default"), services=services)
    assert the_one_finding(run("isolation.default_namespace", dirty))[:3] == (
        "Deployment",
        "default",
        "web",
    )


def test_it_is_unknown_for_the_default_namespace_without_services() -> None:
    inventory = cluster()
    inventory.set_missing("services", KindStatus.FORBIDDEN, "403")
    assert run("isolation.default_namespace", inventory).status == Status.UNKNOWN


def test_it_gives_every_isolation_check_its_catalog_data() -> None:
    isolation_checks = [c for c in REGISTRY.values() if c.id.startswith(("isolation.", "pss."))]
    assert len(isolation_checks) >= 14
    guides = {"gke-hardening", "cis-kubernetes", "cis-gke", "nsa-cisa", "pss"}
    for item in isolation_checks:
        assert item.title and item.rationale and item.remediation, item.id
        assert item.references, item.id
        assert {ref.guide for ref in item.references} <= guides, item.id
