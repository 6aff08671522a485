"""Restricted controls (on top of baseline), as kubernetes/pod-security-admission defines them.

Windows pods (`spec.os.name: windows`) are exempt from the Linux-only controls from v1.25: the
fields do not exist on Windows and API validation rejects them, so requiring them made
restricted impossible for Windows workloads.
"""

from __future__ import annotations

from posture.pss.baseline import VALID_SECCOMP_TYPES, unmasked_proc_mount
from posture.pss.pod import (
    JSON,
    Control,
    Finding,
    containers,
    containers_phrase,
    is_windows,
    name_of,
    plural,
    quote,
    security_context,
    uses_user_namespace,
)

# Volume sources that cannot reach the node's or the network's storage directly.
ALLOWED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "image",
    }
)
WINDOWS_EXEMPT_SINCE = 25
# From v1.35 root inside a user namespace (hostUsers: false) is not root on the node.
USERNS_RELAXED_SINCE = 35


def restricted_volumes(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad = []
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        sources = [key for key, value in volume.items() if key != "name" and value is not None]
        # A volume with no source is defaulted to emptyDir by the API server, so it is allowed.
        if any(source not in ALLOWED_VOLUME_SOURCES for source in sources):
            bad.append(str(volume.get("name") or ""))
    if not bad:
        return None
    names = sorted(set(bad))
    noun = plural("volume", "volumes", len(names))
    return (
        "restricted volume types",
        f"{noun} {quote(names)} {plural('uses', 'use', len(names))} restricted volume types",
    )


def allow_privilege_escalation(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= WINDOWS_EXEMPT_SINCE and is_windows(spec):
        return None
    bad = [
        name_of(c)
        for c in containers(spec)
        if security_context(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    detail = f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false"
    return "allowPrivilegeEscalation != false", detail


def run_as_non_root(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= USERNS_RELAXED_SINCE and uses_user_namespace(spec):
        return None
    setters = []
    pod_value = security_context(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit, implicit = [], []
    for container in containers(spec):
        value = security_context(container).get("runAsNonRoot")
        if value is False:
            explicit.append(name_of(container))
        elif value is None and pod_value is not True:
            implicit.append(name_of(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        detail = f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        return "runAsNonRoot != true", detail
    if implicit:
        detail = f"pod or {containers_phrase(implicit)} must set securityContext.runAsNonRoot=true"
        return "runAsNonRoot != true", detail
    return None


def run_as_user(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= USERNS_RELAXED_SINCE and uses_user_namespace(spec):
        return None
    setters = []
    if security_context(spec).get("runAsUser") == 0:
        setters.append("pod")
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("runAsUser") == 0]
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"


def seccomp_profile_restricted(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= WINDOWS_EXEMPT_SINCE and is_windows(spec):
        return None
    setters = []
    values: set[str] = set()
    pod_set = False
    profile = security_context(spec).get("seccompProfile")
    if isinstance(profile, dict):
        if profile.get("type") in VALID_SECCOMP_TYPES:
            pod_set = True
        else:
            setters.append("pod")
            values.add(str(profile.get("type")))
    explicit, implicit = [], []
    for container in containers(spec):
        profile = security_context(container).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in VALID_SECCOMP_TYPES:
                explicit.append(name_of(container))
                values.add(str(profile.get("type")))
        elif not pod_set:
            implicit.append(name_of(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        detail = (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
            f"to {quote(sorted(values))}"
        )
        return "seccompProfile", detail
    if implicit:
        detail = (
            f"pod or {containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        return "seccompProfile", detail
    return None


def capabilities_restricted(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= WINDOWS_EXEMPT_SINCE and is_windows(spec):
        return None
    missing_drop, adding = [], []
    forbidden: set[str] = set()
    for container in containers(spec):
        capabilities = security_context(container).get("capabilities")
        if not isinstance(capabilities, dict):
            missing_drop.append(name_of(container))
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop.append(name_of(container))
        added = [str(c) for c in capabilities.get("add") or [] if c != "NET_BIND_SERVICE"]
        if added:
            adding.append(name_of(container))
            forbidden.update(added)
    details = []
    if missing_drop:
        details.append(
            f'{containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_phrase(adding)} must not include {quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    if not details:
        return None
    return "unrestricted capabilities", "; ".join(details)


def proc_mount_restricted(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    # Restricted keeps /proc masked even in a user namespace, where baseline relaxes it.
    return unmasked_proc_mount(spec)


RESTRICTED_CONTROLS: tuple[Control, ...] = (
    Control("restrictedVolumes", "restricted", 0, restricted_volumes, ("hostPathVolumes",)),
    Control("allowPrivilegeEscalation", "restricted", 8, allow_privilege_escalation),
    Control("runAsNonRoot", "restricted", 0, run_as_non_root),
    Control("runAsUser", "restricted", 23, run_as_user),
    Control(
        "seccompProfile_restricted",
        "restricted",
        19,
        seccomp_profile_restricted,
        ("seccompProfile_baseline",),
    ),
    Control(
        "capabilities_restricted",
        "restricted",
        22,
        capabilities_restricted,
        ("capabilities_baseline",),
    ),
    Control("procMount_restricted", "restricted", 35, proc_mount_restricted, ("procMount",)),
)
