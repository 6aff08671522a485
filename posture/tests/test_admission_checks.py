"""Supply-chain checks on admission control, vulnerability reports and tag drift."""

from __future__ import annotations

import pytest

from clusters.inventory import JSON, KindStatus
from clusters.providers import GKE, provider_set
from posture.checks.base import REGISTRY, Severity, Status
from posture.tests.supply_chain_factories import (
    DIGEST,
    cluster,
    container,
    deployment,
    names,
    namespace,
    run,
    webhook,
    webhook_config,
)

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
    binauthz = {"binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}}
    provider_set(inventory, GKE, binauthz, source="test")

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
