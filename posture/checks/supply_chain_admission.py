"""Admission-control checks: is anything enforcing policy when workloads are created?

Evidence follows hardening.md §6.4: Pod Security Admission enforce labels, webhooks of known
policy engines (Gatekeeper, Kyverno, Kritis, Sigstore policy-controller), ValidatingAdmission-
Policy bindings, and GKE Binary Authorization from the provider data. A webhook enforces only
with `failurePolicy: Fail` (the v1 default when omitted); `Ignore` admits everything whenever
the engine is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inventory import JSON, Inventory, KindStatus
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.release_versions import parse_version
from posture.workloads import WORKLOAD_NEEDS, workloads

WEBHOOK_NEEDS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
GKE_I2 = GKE("I2", title="Enforce policies at admission")
CIS_5_2_1 = CIS("5.2.1", title="At least one active policy control mechanism")
GKE_L4 = GKE("L4", title="Binary Authorization / trusted images")
NSA_POD = NSA("Pod security")


@dataclass(frozen=True)
class Engine:
    name: str
    configurations: frozenset[str]  # webhook configuration names of a default install
    webhook_suffixes: tuple[str, ...]  # webhook entry names survive renamed Helm releases
    crd_groups: tuple[str, ...]


ENGINES = (
    Engine(
        "Gatekeeper",
        frozenset(
            {
                "gatekeeper-validating-webhook-configuration",
                "gatekeeper-mutating-webhook-configuration",
            }
        ),
        ("gatekeeper.sh",),
        ("templates.gatekeeper.sh", "constraints.gatekeeper.sh"),
    ),
    Engine(
        "Kyverno",
        frozenset(),  # kyverno-*-webhook-cfg: matched by prefix below
        (".kyverno.svc", ".kyverno.svc-fail", ".kyverno.svc-ignore"),
        ("kyverno.io",),
    ),
    Engine(
        "Kritis", frozenset({"kritis-validation-hook"}), ("grafeas.io",), ("kritis.grafeas.io",)
    ),
    Engine(
        "Sigstore policy-controller",
        frozenset(
            {
                "policy.sigstore.dev",
                "validating.clusterimagepolicy.sigstore.dev",
                "defaulting.clusterimagepolicy.sigstore.dev",
            }
        ),
        ("sigstore.dev",),
        ("policy.sigstore.dev",),
    ),
)
_WORKLOAD_RESOURCES = frozenset(
    {"*", "pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"}
)
_BINAUTHZ_ENFORCING = frozenset(
    {
        "PROJECT_SINGLETON_POLICY_ENFORCE",
        "POLICY_BINDINGS",
        "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE",
    }
)


@dataclass(frozen=True)
class Hook:
    engine: str
    kind: str  # ValidatingWebhookConfiguration | MutatingWebhookConfiguration
    configuration: str
    webhook: str
    fails_closed: bool


def _engine_for(configuration: str, webhook: str) -> str | None:
    for engine in ENGINES:
        if configuration in engine.configurations or any(
            webhook.endswith(suffix) for suffix in engine.webhook_suffixes
        ):
            return engine.name
    if configuration.startswith("kyverno-") and configuration.endswith("-webhook-cfg"):
        return "Kyverno"
    return None


def _covers_workloads(webhook: JSON) -> bool:
    for rule in webhook.get("rules") or []:
        operations = set(rule.get("operations") or [])
        resources = {str(r).split("/")[0] for r in rule.get("resources") or []}
        if operations & {"CREATE", "*"} and resources & _WORKLOAD_RESOURCES:
            return True
    return False


def engine_hooks(inventory: Inventory) -> list[Hook]:
    """Webhooks of known policy engines that see workload creation (both configuration kinds)."""
    hooks = []
    for key, kind in (
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
    ):
        for configuration in inventory.items(key):
            config_name = (configuration.get("metadata") or {}).get("name", "")
            for webhook in configuration.get("webhooks") or []:
                engine = _engine_for(config_name, webhook.get("name", ""))
                if engine is None or not _covers_workloads(webhook):
                    continue
                # admissionregistration/v1 defaults an omitted failurePolicy to Fail.
                closed = (webhook.get("failurePolicy") or "Fail") == "Fail"
                hooks.append(Hook(engine, kind, config_name, webhook.get("name", ""), closed))
    return hooks


def _engines_present(inventory: Inventory) -> dict[str, str]:
    """Engine name -> the webhook configuration it registered (of any scope)."""
    found: dict[str, str] = {}
    for key in WEBHOOK_NEEDS:
        for configuration in inventory.items(key):
            config_name = (configuration.get("metadata") or {}).get("name", "")
            names = [w.get("name", "") for w in configuration.get("webhooks") or []] or [""]
            for webhook_name in names:
                if name := _engine_for(config_name, webhook_name):
                    found.setdefault(name, f"webhook configuration {config_name}")
    return found


def _engines_without_webhooks(inventory: Inventory, present: dict[str, str]) -> list[str]:
    """Engines whose CRDs are installed but that registered no webhook: they enforce nothing."""
    if not inventory.has("customresourcedefinitions"):
        return []
    groups = {
        str((crd.get("spec") or {}).get("group") or "")
        for crd in inventory.items("customresourcedefinitions")
    }
    return [
        f"{engine.name}: CRDs only ({', '.join(sorted(groups & set(engine.crd_groups)))}), "
        "no webhook registered"
        for engine in ENGINES
        if engine.name not in present and groups & set(engine.crd_groups)
    ]


def _before_v1_policies(inventory: Inventory) -> bool:
    version = parse_version(inventory.git_version)
    return version is not None and (version.major, version.minor) < (1, 30)


def _binary_authorization(inventory: Inventory) -> str | None:
    config = (inventory.provider or {}).get("binaryAuthorization") or {}
    if config.get("evaluationMode") in _BINAUTHZ_ENFORCING or config.get("enabled") is True:
        return f"GKE Binary Authorization ({config.get('evaluationMode') or 'enabled'})"
    return None


@check(
    id="supply_chain.admission_enforcement",
    title="No admission mechanism enforces any policy",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.HIGH,
    rationale=(
        "Without Pod Security Admission enforce labels, an enforcing policy-engine webhook or a "
        "ValidatingAdmissionPolicy binding that denies, anything that can create a pod can run "
        "privileged, host-mounted or untrusted images unchecked (CIS 5.2.1)."
    ),
    remediation=(
        "Label workload namespaces `pod-security.kubernetes.io/enforce: baseline` (or "
        "restricted), and/or install Gatekeeper/Kyverno with failurePolicy Fail, or bind "
        "ValidatingAdmissionPolicies with validationActions [Deny]."
    ),
    needs=("namespaces", *WEBHOOK_NEEDS),
    evidence=WORKLOAD_NEEDS,
    references=(CIS_5_2_1, GKE_I2, NSA_POD),
)
def admission_enforcement(inventory: Inventory, context: CheckContext) -> Outcome:
    used = {w.namespace for w in workloads(inventory) if w.namespace}
    if not used:
        return Outcome.not_applicable("no workloads to admit")
    labelled = sorted(
        name
        for ns in inventory.items("namespaces")
        if (name := (ns.get("metadata") or {}).get("name")) in used
        and ((ns.get("metadata") or {}).get("labels") or {}).get(PSA_ENFORCE)
        in ("baseline", "restricted")
    )
    mechanisms = []
    if labelled:
        mechanisms.append(
            f"Pod Security Admission enforce on {len(labelled)} of {len(used)} namespaces"
        )
    # Engines deny from mutating webhooks too (Kyverno verifies image signatures there).
    closed = {h for h in engine_hooks(inventory) if h.fails_closed}
    mechanisms += sorted({f"{h.engine} ({h.configuration}, failurePolicy Fail)" for h in closed})
    vap_status = inventory.kind_status.get(
        "validatingadmissionpolicybindings", KindStatus.NOT_COLLECTED
    )
    if vap_status == KindStatus.OK:
        denying = [
            b
            for b in inventory.items("validatingadmissionpolicybindings")
            if "Deny" in ((b.get("spec") or {}).get("validationActions") or [])
        ]
        if denying:
            mechanisms.append(f"{len(denying)} ValidatingAdmissionPolicyBinding(s) with Deny")
    if mechanisms:
        return Outcome.passed("enforcing: " + "; ".join(mechanisms))
    # Not served means no admission policies at all: "none", not unknown. The v1 API only
    # exists from 1.30, so an older cluster has none even when a bundle left the file out.
    if vap_status not in (KindStatus.OK, KindStatus.NOT_SERVED) and not _before_v1_policies(
        inventory
    ):
        reason = inventory.kind_errors.get("validatingadmissionpolicybindings") or vap_status
        return Outcome.unknown(
            "no PSA enforce label or enforcing engine webhook, and "
            f"ValidatingAdmissionPolicyBindings could not be read ({reason})"
        )
    binauthz = _binary_authorization(inventory)
    note = f" ({binauthz} vets images only)" if binauthz else ""
    return Outcome.failed(
        [
            Affected("Namespace", "", namespace, "workloads run here; no admission policy enforces")
            for namespace in sorted(used)
        ],
        f"no enforcing admission mechanism across {len(used)} namespaces with workloads{note}",
    )


@check(
    id="supply_chain.webhooks_fail_open",
    title="Policy-engine webhooks fail open",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "With failurePolicy Ignore, a policy engine that is down, slow or deliberately crashed "
        "admits everything: enforcement silently turns off."
    ),
    remediation=(
        "Set failurePolicy Fail on the engine's workload webhooks and run the engine highly "
        "available (exempt its own namespace to avoid a deadlock)."
    ),
    evidence=WEBHOOK_NEEDS,
    references=(GKE_I2, CIS_5_2_1),
)
def webhooks_fail_open(inventory: Inventory, context: CheckContext) -> Outcome:
    hooks = engine_hooks(inventory)
    if not hooks:
        return Outcome.not_applicable("no known policy-engine webhook sees workload creation")
    closed_engines = {h.engine for h in hooks if h.fails_closed}
    # An engine with some Fail webhooks enforces; its Ignore ones serve Ignore policies.
    affected = [
        Affected(
            h.kind,
            "",
            h.configuration,
            f"{h.engine}: webhook {h.webhook} has failurePolicy Ignore",
        )
        for h in hooks
        if not h.fails_closed and h.engine not in closed_engines
    ]
    return Outcome.from_affected(
        affected,
        passed="enforcing: " + ", ".join(sorted(closed_engines)),
        failed="{count} policy-engine webhooks admit everything when the engine is down",
    )


@check(
    id="supply_chain.policy_engine_present",
    title="No image or policy admission engine is installed",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "Pod Security Admission cannot check where images come from or whether they are "
        "signed; that takes Gatekeeper, Kyverno, Kritis, Sigstore policy-controller or GKE "
        "Binary Authorization."
    ),
    remediation=(
        "Install a policy engine (or enable Binary Authorization on GKE) and enforce trusted "
        "registries and signatures."
    ),
    needs=WEBHOOK_NEEDS,
    references=(
        GKE_I2,
        GKE_L4,
        CIS("5.5.1", title="Image provenance via ImagePolicyWebhook"),
        CIS_GKE("5.1.4", title="Only trusted container images"),
    ),
)
def policy_engine_present(inventory: Inventory, context: CheckContext) -> Outcome:
    found = _engines_present(inventory)
    if binauthz := _binary_authorization(inventory):
        found[binauthz] = "GKE cluster settings"
    if found:
        return Outcome.passed(
            "present: " + "; ".join(f"{name} ({where})" for name, where in sorted(found.items()))
        )
    notes = ["no Gatekeeper, Kyverno, Kritis or Sigstore policy-controller webhook"]
    notes += _engines_without_webhooks(inventory, found)
    if inventory.provider is None:
        notes.append("Binary Authorization unknown (no GKE cluster data)")
    detail = "; ".join(notes)
    return Outcome.failed([Affected("Cluster", "", "admission-control", detail)], detail)
