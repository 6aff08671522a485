"""Supply-chain checks: tags, digests, registries, miners, admission control and scan reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from clusters.inventory import JSON, Inventory, KindStatus
from posture.checks.base import REGISTRY, CheckContext, Outcome, Severity, Status, run_check
from posture.checks.image_refs import parse_image
from posture.workloads import WORKLOAD_NEEDS

ADMISSION_KEYS = ("namespaces", "validatingwebhookconfigurations", "mutatingwebhookconfigurations")
DIGEST = "sha256:" + "a" * 64


def container(name: str = "app", image: str = "nginx:1.27", **fields: Any) -> JSON:
    return {"name": name, "image": image, **fields}


def pod(
    namespace: str,
    name: str,
    containers: list[JSON],
    *,
    owner: tuple[str, str] | None = None,
    image_ids: dict[str, str] | None = None,
) -> JSON:
    metadata: JSON = {"namespace": namespace, "name": name}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    statuses = [
        {"name": c["name"], "image": c["image"], "imageID": (image_ids or {}).get(c["name"], "")}
        for c in containers
    ]
    return {
        "metadata": metadata,
        "spec": {"containers": containers},
        "status": {"containerStatuses": statuses},
    }


def deployment(
    namespace: str, name: str, *containers: JSON, image_ids: Sequence[str] = ()
) -> dict[str, list[JSON]]:
    """A Deployment with its ReplicaSet and one Pod per entry of `image_ids` (at least one)."""
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": list(containers)}}
    rs_name = f"{name}-7c9f8d6b5"
    pods = [
        pod(
            namespace,
            f"{rs_name}-{index}",
            list(containers),
            owner=("ReplicaSet", rs_name),
            image_ids={containers[0]["name"]: image_id} if image_id else None,
        )
        for index, image_id in enumerate(list(image_ids) or [""])
    ]
    return {
        "deployments": [
            {"metadata": {"namespace": namespace, "name": name}, "spec": {"template": template}}
        ],
        "replicasets": [
            {
                "metadata": {
                    "namespace": namespace,
                    "name": rs_name,
                    "ownerReferences": [{"kind": "Deployment", "name": name, "controller": True}],
                },
                "spec": {"template": template},
            }
        ],
        "pods": pods,
    }


def namespace(name: str, **labels: str) -> JSON:
    return {"metadata": {"name": name, "labels": labels}}


def webhook_config(name: str, *webhooks: JSON) -> JSON:
    return {"metadata": {"name": name}, "webhooks": list(webhooks)}


def webhook(
    name: str, failure_policy: str | None = "Fail", resources: tuple[str, ...] = ("pods",)
) -> JSON:
    hook: JSON = {
        "name": name,
        "rules": [
            {"operations": ["CREATE", "UPDATE"], "apiGroups": ["*"], "resources": list(resources)}
        ],
    }
    if failure_policy:
        hook["failurePolicy"] = failure_policy
    return hook


def cluster(*workloads: dict[str, list[JSON]], **kinds: list[JSON]) -> Inventory:
    """Workload and admission kinds listed (empty unless given), plus any other kinds passed."""
    inventory = Inventory()
    for key in (*WORKLOAD_NEEDS, *ADMISSION_KEYS):
        merged = [obj for workload in workloads for obj in workload.get(key, [])]
        inventory.set_objects(key, merged + kinds.pop(key, []))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


def run(check_id: str, inventory: Inventory, context: CheckContext | None = None) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, context or CheckContext()).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]


# --- image references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "name", "tag", "digest"),
    [
        ("nginx", "docker.io/library/nginx", "", ""),
        ("nginx:1.27", "docker.io/library/nginx", "1.27", ""),
        ("acme/app:latest", "docker.io/acme/app", "latest", ""),
        ("index.docker.io/library/redis:7", "docker.io/library/redis", "7", ""),
        ("localhost:5000/app:1", "localhost:5000/app", "1", ""),
        ("gcr.io/acme/api@" + DIGEST, "gcr.io/acme/api", "", DIGEST),
        ("registry.k8s.io/pause:3.10@" + DIGEST, "registry.k8s.io/pause", "3.10", DIGEST),
    ],
)
def test_it_normalises_image_references(image: str, name: str, tag: str, digest: str) -> None:
    ref = parse_image(image)

    assert (ref.name, ref.tag, ref.digest) == (name, tag, digest)


# --- tags, digests, pull policy ---------------------------------------------------------------


def test_it_fails_mutable_tags_on_the_owning_deployment() -> None:
    inventory = cluster(
        deployment("web", "frontend", container("web", "nginx"), container("side", "envoy:v1.31")),
        deployment("web", "api", container("api", "acme/api:latest")),
    )

    outcome = run("supply_chain.mutable_tags", inventory)

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Deployment", "web", "api"), ("Deployment", "web", "frontend")]
    assert {a.detail for a in outcome.affected} == {
        "container web: image nginx has no tag",
        "container api: image acme/api:latest uses :latest",
    }


def test_it_passes_fixed_tags_and_digests() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx@" + DIGEST)))

    assert run("supply_chain.mutable_tags", inventory).status == Status.PASS
    assert run("supply_chain.digest_pinning", inventory).status == Status.PASS


def test_it_is_unknown_when_pods_were_not_collected() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx")))
    inventory.set_missing("pods", KindStatus.FORBIDDEN, "pods is forbidden")

    outcome = run("supply_chain.mutable_tags", inventory)

    assert outcome.status == Status.UNKNOWN
    assert "pods forbidden" in outcome.summary


def test_it_fails_images_not_pinned_by_digest() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx:1.27")))

    outcome = run("supply_chain.digest_pinning", inventory)

    assert names(outcome) == [("Deployment", "web", "frontend")]
    assert REGISTRY["supply_chain.digest_pinning"].severity == Severity.LOW


def test_it_fails_latest_without_pull_policy_always() -> None:
    inventory = cluster(
        deployment(
            "web", "cached", container("web", "nginx:latest", imagePullPolicy="IfNotPresent")
        ),
        deployment("web", "defaulted", container("web", "nginx:latest")),
        deployment("web", "always", container("web", "nginx", imagePullPolicy="Always")),
    )

    outcome = run("supply_chain.pull_policy_latest", inventory)

    assert names(outcome) == [("Deployment", "web", "cached")]
    assert "imagePullPolicy IfNotPresent" in outcome.affected[0].detail


# --- registries -------------------------------------------------------------------------------


def test_it_is_not_applicable_without_an_allow_list() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx:1.27")))

    assert run("supply_chain.allowed_registries", inventory).status == Status.NOT_APPLICABLE


def test_it_fails_images_from_registries_off_the_allow_list() -> None:
    inventory = cluster(
        deployment("web", "hub", container("web", "nginx:1.27")),
        deployment("web", "ours", container("api", "gcr.io/acme/api:2.1")),
        deployment("web", "lookalike", container("api", "gcr.io/acmex/api:2.1")),
        deployment("web", "quay", container("api", "quay.io/evil/api:2.1")),
    )
    context = CheckContext(allowed_registries=("docker.io/library", "gcr.io/acme/"))

    outcome = run("supply_chain.allowed_registries", inventory, context)

    assert names(outcome) == [("Deployment", "web", "lookalike"), ("Deployment", "web", "quay")]
    assert "from quay.io is not in the allow-list" in outcome.affected[1].detail


def test_it_accepts_docker_hub_aliases_and_wildcard_hosts() -> None:
    inventory = cluster(
        deployment("web", "hub", container("web", "nginx:1.27")),
        deployment("web", "ar", container("api", "europe-docker.pkg.dev/acme/app/api:1")),
    )
    context = CheckContext(allowed_registries=("index.docker.io/library", "*.pkg.dev"))

    assert run("supply_chain.allowed_registries", inventory, context).status == Status.PASS


# --- crypto-miners ----------------------------------------------------------------------------


def test_it_fails_a_known_miner_image_as_critical() -> None:
    inventory = cluster(
        deployment("default", "system-monitor", container("monitor", "metal3d/xmrig:latest"))
    )

    outcome = run("supply_chain.miner_images", inventory)

    assert names(outcome) == [("Deployment", "default", "system-monitor")]
    assert "miner image name 'xmrig'" in outcome.affected[0].detail
    assert REGISTRY["supply_chain.miner_images"].severity == Severity.CRITICAL


def test_it_fails_a_stratum_url_or_pool_host_in_an_innocent_image() -> None:
    stratum = container("worker", "alpine:3.20", args=["-o", "stratum+tcp://198.51.100.7:3333"])
    pool = container(
        "worker", "busybox:1.36", env=[{"name": "POOL", "value": "xmr-eu1.nanopool.org:14444"}]
    )
    inventory = cluster(deployment("batch", "a", stratum), deployment("batch", "b", pool))

    outcome = run("supply_chain.miner_images", inventory)

    assert [a.name for a in outcome.affected] == ["a", "b"]
    assert "stratum mining-pool URL" in outcome.affected[0].detail
    assert "mining pool host xmr-eu1.nanopool.org" in outcome.affected[1].detail


def test_it_combines_weak_signals_but_never_fires_on_ports_alone() -> None:
    ports_only = container(
        "web", "acme/web:1.0", ports=[{"containerPort": 8080}, {"containerPort": 3333}]
    )
    flag_and_port = container(
        "x", "acme/tool:1.0", args=["--donate-level=1"], ports=[{"containerPort": 3333}]
    )
    inventory = cluster(
        deployment("web", "site", ports_only), deployment("web", "tool", flag_and_port)
    )

    outcome = run("supply_chain.miner_images", inventory)

    assert names(outcome) == [("Deployment", "web", "tool")]
    assert "miner option '--donate-level'" in outcome.affected[0].detail


def test_it_passes_ordinary_workloads() -> None:
    inventory = cluster(
        deployment("web", "shop", container("web", "nginx:1.27", ports=[{"containerPort": 8080}]))
    )

    assert run("supply_chain.miner_images", inventory).status == Status.PASS


# --- admission control ------------------------------------------------------------------------


def shop() -> dict[str, list[JSON]]:
    return deployment("shop", "frontend", container("web", "nginx:1.27"))


def test_it_fails_a_cluster_with_no_enforcing_admission_at_all() -> None:
    inventory = cluster(
        shop(),
        namespaces=[namespace("shop", **{"pod-security.kubernetes.io/enforce": "privileged"})],
    )
    inventory.set_missing("validatingadmissionpolicybindings", KindStatus.NOT_SERVED, "404")

    outcome = run("supply_chain.admission_enforcement", inventory)

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Namespace", "", "shop")]
    assert REGISTRY["supply_chain.admission_enforcement"].severity == Severity.HIGH


def test_it_passes_with_a_pod_security_enforce_label() -> None:
    inventory = cluster(
        shop(), namespaces=[namespace("shop", **{"pod-security.kubernetes.io/enforce": "baseline"})]
    )
    inventory.set_missing("validatingadmissionpolicybindings", KindStatus.NOT_SERVED, "404")

    outcome = run("supply_chain.admission_enforcement", inventory)

    assert outcome.status == Status.PASS
    assert "Pod Security Admission enforce on 1 of 1 namespaces" in outcome.summary


def test_it_passes_with_an_engine_webhook_that_fails_closed() -> None:
    gatekeeper = webhook_config(
        "gatekeeper-validating-webhook-configuration",
        webhook("validation.gatekeeper.sh", failure_policy=None, resources=("*",)),
    )
    inventory = cluster(
        shop(), namespaces=[namespace("shop")], validatingwebhookconfigurations=[gatekeeper]
    )

    outcome = run("supply_chain.admission_enforcement", inventory)

    assert outcome.status == Status.PASS
    assert "Gatekeeper" in outcome.summary


def test_it_passes_with_a_denying_validating_admission_policy_binding() -> None:
    binding = {
        "metadata": {"name": "no-privileged"},
        "spec": {"policyName": "p", "validationActions": ["Deny"]},
    }
    inventory = cluster(
        shop(), namespaces=[namespace("shop")], validatingadmissionpolicybindings=[binding]
    )

    assert run("supply_chain.admission_enforcement", inventory).status == Status.PASS


def test_it_is_unknown_when_policy_bindings_could_not_be_read() -> None:
    inventory = cluster(shop(), namespaces=[namespace("shop")])
    inventory.version = {"gitVersion": "v1.33.4"}
    inventory.set_missing("validatingadmissionpolicybindings", KindStatus.FORBIDDEN, "403")

    outcome = run("supply_chain.admission_enforcement", inventory)

    assert outcome.status == Status.UNKNOWN
    assert "403" in outcome.summary


def test_it_knows_clusters_before_1_30_have_no_v1_admission_policies() -> None:
    inventory = cluster(shop(), namespaces=[namespace("shop")])
    inventory.version = {"gitVersion": "v1.29.4"}
    inventory.set_missing("validatingadmissionpolicybindings", KindStatus.NOT_COLLECTED, "absent")

    assert run("supply_chain.admission_enforcement", inventory).status == Status.FAIL


def test_it_fails_gatekeepers_default_fail_open_webhook() -> None:
    gatekeeper = webhook_config(
        "gatekeeper-validating-webhook-configuration",
        webhook("validation.gatekeeper.sh", "Ignore", ("*",)),
        # Only sees namespaces, so it does not make Gatekeeper enforce on workloads.
        webhook("check-ignore-label.gatekeeper.sh", "Fail", ("namespaces",)),
    )
    inventory = cluster(validatingwebhookconfigurations=[gatekeeper])

    outcome = run("supply_chain.webhooks_fail_open", inventory)

    assert names(outcome) == [
        ("ValidatingWebhookConfiguration", "", "gatekeeper-validating-webhook-configuration")
    ]
    assert "webhook validation.gatekeeper.sh has failurePolicy Ignore" in outcome.affected[0].detail


def test_it_accepts_kyverno_ignore_webhooks_beside_enforcing_ones() -> None:
    kyverno = webhook_config(
        "kyverno-resource-validating-webhook-cfg",
        webhook("validate.kyverno.svc-fail", "Fail"),
        webhook("validate.kyverno.svc-ignore", "Ignore"),
    )
    inventory = cluster(validatingwebhookconfigurations=[kyverno])

    outcome = run("supply_chain.webhooks_fail_open", inventory)

    assert outcome.status == Status.PASS
    assert outcome.summary == "enforcing: Kyverno"
    no_engine = cluster(
        validatingwebhookconfigurations=[
            webhook_config("cert-manager-webhook", webhook("webhook.cert-manager.io"))
        ]
    )
    assert run("supply_chain.webhooks_fail_open", no_engine).status == Status.NOT_APPLICABLE


def test_it_names_the_policy_engines_present() -> None:
    sigstore = webhook_config("policy.sigstore.dev", webhook("policy.sigstore.dev"))
    kritis = webhook_config("kritis-validation-hook", webhook("kritis-validation-hook.grafeas.io"))
    inventory = cluster(
        mutatingwebhookconfigurations=[sigstore], validatingwebhookconfigurations=[kritis]
    )

    outcome = run("supply_chain.policy_engine_present", inventory)

    assert outcome.status == Status.PASS
    assert "Kritis" in outcome.summary and "Sigstore policy-controller" in outcome.summary


def test_it_fails_when_no_policy_engine_is_installed() -> None:
    inventory = cluster(
        customresourcedefinitions=[{"metadata": {"name": "x"}, "spec": {"group": "kyverno.io"}}]
    )

    outcome = run("supply_chain.policy_engine_present", inventory)

    assert outcome.status == Status.FAIL
    assert "Kyverno: CRDs only (kyverno.io), no webhook registered" in outcome.summary


def test_it_counts_gke_binary_authorization_as_an_engine() -> None:
    inventory = cluster()
    inventory.provider = {
        "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
    }

    outcome = run("supply_chain.policy_engine_present", inventory)

    assert outcome.status == Status.PASS
    assert "Binary Authorization" in outcome.summary


# --- vulnerability reports and tag drift ------------------------------------------------------


def report(namespace: str, kind: str, name: str, critical: int, high: int) -> JSON:
    return {
        "metadata": {
            "namespace": namespace,
            "name": f"{kind.lower()}-{name}-web",
            "labels": {
                "trivy-operator.resource.kind": kind,
                "trivy-operator.resource.name": name,
                "trivy-operator.resource.namespace": namespace,
                "trivy-operator.container.name": "web",
            },
        },
        "report": {
            "summary": {"criticalCount": critical, "highCount": high},
            "artifact": {"repository": "library/nginx", "tag": "1.21"},
        },
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [(KindStatus.NOT_SERVED, Status.NOT_APPLICABLE), (KindStatus.FORBIDDEN, Status.UNKNOWN)],
)
def test_it_needs_trivy_operator_reports(status: KindStatus, expected: Status) -> None:
    inventory = cluster()
    inventory.set_missing("vulnerabilityreports", status, "no reports")

    assert run("supply_chain.vulnerability_reports", inventory).status == expected


def test_it_fails_critical_vulnerabilities_on_the_owning_deployment() -> None:
    reports = [
        report("shop", "ReplicaSet", "frontend-7c9f8d6b5", critical=3, high=12),
        report("shop", "DaemonSet", "agent", critical=0, high=2),
    ]
    inventory = cluster(shop(), vulnerabilityreports=reports)

    outcome = run("supply_chain.vulnerability_reports", inventory)

    assert names(outcome) == [("Deployment", "shop", "frontend")]
    assert outcome.affected[0].detail == "container web (library/nginx:1.21): 3 critical, 12 high"
    assert "3 critical and 14 high" in outcome.summary


def test_it_passes_reports_without_criticals_and_summarises_highs() -> None:
    inventory = cluster(vulnerabilityreports=[report("shop", "DaemonSet", "agent", 0, 2)])

    outcome = run("supply_chain.vulnerability_reports", inventory)

    assert outcome.status == Status.PASS
    assert outcome.summary == "no critical vulnerabilities; 2 high across 1 workloads"


def test_it_fails_a_tag_that_resolved_to_different_digests() -> None:
    moved = deployment(
        "shop",
        "frontend",
        container("web", "acme/web:1.4"),
        image_ids=[
            "docker.io/acme/web@sha256:" + "1" * 64,
            "docker.io/acme/web@sha256:" + "2" * 64,
        ],
    )
    steady = deployment(
        "shop",
        "api",
        container("web", "acme/api:2.0"),
        image_ids=["docker.io/acme/api@" + DIGEST] * 2,
    )

    outcome = run("supply_chain.image_tag_drift", cluster(moved, steady))

    assert names(outcome) == [("Deployment", "shop", "frontend")]
    assert "acme/web:1.4 runs as 2 digests" in outcome.affected[0].detail
    assert "across 2 pods" in outcome.affected[0].detail


def test_it_cannot_judge_drift_without_running_digests() -> None:
    assert run("supply_chain.image_tag_drift", cluster(shop())).status == Status.NOT_APPLICABLE
