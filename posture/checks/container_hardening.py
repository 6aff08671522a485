"""Container hardening checks (CIS 5.2.6-5.2.9, 5.4.1, 5.6.2): what a process in the container
may do to itself and its neighbours, judged on each owning workload's pod template.

Linux-only fields (capabilities, allowPrivilegeEscalation, seccomp) are not asked of Windows
pods, where API validation rejects them.
"""

from __future__ import annotations

from clusters.inventory import JSON, Inventory
from posture.checks.base import Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import NSA
from posture.checks.pod_fields import (
    NSA_POD_SECURITY,
    capabilities,
    cis,
    cis_gke,
    effective,
    per_container,
    pss,
    security_context,
)
from posture.workloads import WORKLOAD_NEEDS, Workload

# NET_RAW (packet spoofing) is in the runtimes' default set, so only dropping it removes it.
NET_RAW_REMOVED_BY = ("NET_RAW", "ALL")
# The one capability restricted PSS lets a container add: binding ports below 1024.
HARMLESS_ADDED = ("NET_BIND_SERVICE",)


@check(
    id="isolation.privilege_escalation",
    title="Containers allowing privilege escalation",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Unless allowPrivilegeEscalation is false, a process can gain more privileges than its "
        "parent (setuid binaries, file capabilities): the default is to allow it."
    ),
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.6", "Minimize the admission of containers with allowPrivilegeEscalation"),
        NSA_POD_SECURITY,
        pss("allowPrivilegeEscalation", "Privilege Escalation"),
    ),
)
def privilege_escalation(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        value = security_context(container).get("allowPrivilegeEscalation")
        if value is False:
            return None
        if value is True:
            return "securityContext.allowPrivilegeEscalation=true"
        return "securityContext.allowPrivilegeEscalation unset (defaults to true)"

    return Outcome.from_affected(
        per_container(inventory, rule, linux_only=True),
        passed="Every container sets allowPrivilegeEscalation: false.",
        failed="{count} containers may escalate privileges.",
    )


@check(
    id="isolation.run_as_root",
    title="Containers that may run as root",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Root in a container is root on the node's kernel: any escape or writable host mount "
        "becomes node compromise. runAsNonRoot makes the kubelet refuse to start a root process."
    ),
    remediation=(
        "Set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser, "
        "and build images with a non-root USER."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.7", "Minimize the admission of root containers"),
        NSA_POD_SECURITY,
        pss("runAsNonRoot", "Running as Non-root"),
        pss("runAsUser", "Running as Non-root user"),
    ),
)
def run_as_root(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        user = effective(workload, container, "runAsUser")
        if user == 0:
            return "runAsUser=0"
        if effective(workload, container, "runAsNonRoot") is True or (
            isinstance(user, int) and user > 0
        ):
            return None
        return "runAsNonRoot not true and runAsUser unset (runs as the image's user, may be root)"

    return Outcome.from_affected(
        per_container(inventory, rule),
        passed="Every container is required to run as a non-root user.",
        failed="{count} containers may run as root.",
    )


@check(
    id="isolation.net_raw",
    title="Containers with the NET_RAW capability",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "NET_RAW, granted by default, lets a container craft packets: ARP and DNS spoofing of "
        "its neighbours on the node."
    ),
    remediation='Drop it: securityContext.capabilities.drop: ["ALL"] (or at least NET_RAW).',
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.8", "Minimize the admission of containers with the NET_RAW capability"),
        NSA_POD_SECURITY,
        pss("capabilities_baseline", "Capabilities"),
    ),
)
def net_raw(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        if security_context(container).get("privileged") is True:
            return "privileged (has every capability, NET_RAW included)"
        added = capabilities(container, "add") & {"NET_RAW", "ALL"}
        if added:
            return f"securityContext.capabilities.add includes {', '.join(sorted(added))}"
        if not capabilities(container, "drop") & set(NET_RAW_REMOVED_BY):
            return "securityContext.capabilities.drop lacks NET_RAW or ALL"
        return None

    return Outcome.from_affected(
        per_container(inventory, rule, linux_only=True),
        passed="No container keeps NET_RAW.",
        failed="{count} containers keep NET_RAW.",
    )


@check(
    id="isolation.added_capabilities",
    title="Containers adding Linux capabilities",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "Added capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE are most of "
        "what privileged means, one at a time."
    ),
    remediation=(
        "Remove securityContext.capabilities.add; if one is truly needed, document why and "
        "limit it to the container that needs it. Only NET_BIND_SERVICE is allowed by "
        "restricted Pod Security."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.9", "Minimize the admission of containers with added capabilities", "1.11"),
        NSA_POD_SECURITY,
        pss("capabilities_restricted", "Capabilities"),
    ),
)
def added_capabilities(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        added = sorted(capabilities(container, "add") - set(HARMLESS_ADDED))
        return f"securityContext.capabilities.add includes {', '.join(added)}" if added else None

    return Outcome.from_affected(
        per_container(inventory, rule, linux_only=True),
        passed="No container adds capabilities beyond NET_BIND_SERVICE.",
        failed="{count} containers add capabilities.",
    )


@check(
    id="isolation.capabilities_not_dropped",
    title="Containers not dropping all capabilities",
    area=Area.ISOLATION,
    severity=Severity.LOW,
    rationale=(
        "The runtime's default capability set (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...) is "
        "more than most applications use; dropping ALL removes what an attacker could use."
    ),
    remediation='Set securityContext.capabilities.drop: ["ALL"] and add back only what is needed.',
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.9", "Minimize the admission of containers with capabilities assigned"),
        NSA_POD_SECURITY,
        pss("capabilities_restricted", "Capabilities"),
    ),
)
def capabilities_not_dropped(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        if "ALL" in capabilities(container, "drop"):
            return None
        return 'securityContext.capabilities.drop lacks "ALL"'

    return Outcome.from_affected(
        per_container(inventory, rule, linux_only=True),
        passed="Every container drops ALL capabilities.",
        failed="{count} containers keep default capabilities.",
    )


_GOOD_SECCOMP = ("RuntimeDefault", "Localhost")
_LEGACY_SECCOMP_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"


@check(
    id="isolation.seccomp",
    title="Containers without a seccomp profile",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Without seccomp a container can make every system call, including the rarely used "
        "ones most kernel exploits rely on. Kubernetes runs containers Unconfined by default."
    ),
    remediation="Set spec.securityContext.seccompProfile.type: RuntimeDefault in the pod template.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis(
            "5.6.2",
            "Ensure that the seccomp profile is set to docker/default in your pod definitions",
        ),
        cis_gke(
            "4.6.2",
            "Ensure that the seccomp profile is set to RuntimeDefault in the pod definitions",
        ),
        NSA_POD_SECURITY,
        pss("seccompProfile_restricted", "Seccomp"),
    ),
)
def seccomp(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        profile = effective(workload, container, "seccompProfile")
        if isinstance(profile, dict):
            kind = profile.get("type")
            return None if kind in _GOOD_SECCOMP else f"seccompProfile.type={kind}"
        legacy = (workload.pod_metadata.get("annotations") or {}).get(_LEGACY_SECCOMP_ANNOTATION)
        if legacy in ("runtime/default", "docker/default") or str(legacy).startswith("localhost/"):
            return None
        return "no seccompProfile (runs Unconfined)"

    return Outcome.from_affected(
        per_container(inventory, rule, linux_only=True),
        passed="Every container runs with a seccomp profile.",
        failed="{count} containers run without seccomp.",
    )


@check(
    id="isolation.secrets_in_env",
    title="Secrets passed as environment variables",
    area=Area.ISOLATION,
    severity=Severity.LOW,
    rationale=(
        "Environment variables leak: into logs, crash dumps, child processes and `kubectl "
        "describe`-style tooling. Secrets mounted as files can be rotated and are not inherited."
    ),
    remediation="Mount the Secret as a volume and read the value from the file.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.4.1", "Prefer using secrets as files over secrets as environment variables"),
        cis_gke("4.4.1", "Prefer using secrets as files over secrets as environment variables"),
        NSA("Secrets", title="Secrets - keep credentials in Secrets, not in config/env"),
    ),
)
def secrets_in_env(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        uses = [
            f'env {item.get("name")} from secret "{ref.get("name", "")}"'
            for item in container.get("env") or []
            if (ref := (item.get("valueFrom") or {}).get("secretKeyRef"))
        ]
        uses += [
            f'envFrom secret "{ref.get("name", "")}"'
            for item in container.get("envFrom") or []
            if (ref := item.get("secretRef"))
        ]
        return "; ".join(uses) or None

    return Outcome.from_affected(
        per_container(inventory, rule),
        passed="No container reads a Secret through its environment.",
        failed="{count} containers read Secrets through environment variables.",
    )
