"""Baseline controls, as kubernetes/pod-security-admission `policy/check_*.go` define them.

Each function takes the pod's metadata and spec (API JSON) and the policy minor, and returns
(reason, detail) on a violation. Version-dependent rules branch on the minor with the version
named, so a pinned namespace (`enforce-version: v1.25`) keeps the looser rules it asked for.
"""

from __future__ import annotations

from functools import cache

from posture.pss.pod import (
    JSON,
    Control,
    Finding,
    containers,
    containers_phrase,
    name_of,
    obj,
    plural,
    quote,
    security_context,
    sorted_unique,
    uses_user_namespace,
)

# The capabilities a container runtime grants by default, minus NET_RAW (ping spoofing).
ALLOWED_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)

SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# v1.31 admits the type container runtimes use for nested container engines.
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}

# Namespaced, node-isolated sysctls, by the policy version that first allowed them.
SYSCTLS_BY_VERSION: tuple[tuple[int, frozenset[str]], ...] = (
    (
        0,
        frozenset(
            {
                "kernel.shm_rmid_forced",
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start",
            }
        ),
    ),
    (27, frozenset({"net.ipv4.ip_local_reserved_ports"})),
    (
        29,
        frozenset(
            {
                "net.ipv4.tcp_keepalive_time",
                "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes",
            }
        ),
    ),
    (32, frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})),
    (37, frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"})),
)

APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
VALID_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
VALID_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
# From v1.35 a pod in a user namespace (hostUsers: false) may unmask /proc.
PROCMOUNT_USERNS_RELAXED_SINCE = 35


@cache
def allowed_sysctls(minor: int) -> frozenset[str]:
    allowed: frozenset[str] = frozenset()
    for since, names in SYSCTLS_BY_VERSION:
        if minor >= since:
            allowed |= names
    return allowed


def windows_host_process(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    setters = []
    if obj(security_context(spec).get("windowsOptions")).get("hostProcess") is True:
        setters.append("pod")
    bad = [
        name_of(c)
        for c in containers(spec)
        if obj(security_context(c).get("windowsOptions")).get("hostProcess") is True
    ]
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    detail = f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    return "hostProcess", detail


def host_namespaces(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    used = [field for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    if not used:
        return None
    return "host namespaces", ", ".join(f"{field}=true" for field in used)


def privileged(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", f"{containers_phrase(bad)} must not set securityContext.privileged=true"


def capabilities_baseline(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        adds = obj(security_context(container).get("capabilities")).get("add") or []
        forbidden = [str(cap) for cap in adds if cap not in ALLOWED_CAPABILITIES]
        if forbidden:
            bad.append(name_of(container))
            added.update(forbidden)
    if not bad:
        return None
    detail = (
        f"{containers_phrase(bad)} must not include {quote(sorted(added))} "
        "in securityContext.capabilities.add"
    )
    return "non-default capabilities", detail


def host_path_volumes(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad = [
        str(volume.get("name") or "")
        for volume in spec.get("volumes") or []
        if isinstance(volume, dict) and volume.get("hostPath") is not None
    ]
    if not bad:
        return None
    return "hostPath volumes", f"{plural('volume', 'volumes', len(bad))} {quote(bad)}"


def host_ports(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad: list[str] = []
    ports: list[str] = []
    for container in containers(spec):
        used = [
            str(port["hostPort"])
            for port in container.get("ports") or []
            if isinstance(port, dict) and port.get("hostPort")
        ]
        if used:
            bad.append(name_of(container))
            ports.extend(used)
    if not bad:
        return None
    verb = plural("uses", "use", len(bad))
    detail = f"{containers_phrase(bad)} {verb} {plural('hostPort', 'hostPorts', len(ports))} "
    return "hostPort", detail + ", ".join(sorted_unique(ports))


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def _handler_hosts(handler: JSON) -> list[str]:
    hosts = []
    for action in ("httpGet", "tcpSocket"):
        host = obj(handler.get(action)).get("host")
        if host:
            hosts.append(str(host))
    return hosts


def host_probes_and_lifecycle(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    bad: list[str] = []
    hosts: set[str] = set()
    for container in containers(spec):
        lifecycle = obj(container.get("lifecycle"))
        handlers = [container.get(p) for p in _PROBES]
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        found = [
            host
            for handler in handlers
            if isinstance(handler, dict)  # absent or null: nothing to check
            for host in _handler_hosts(handler)
        ]
        if found:
            bad.append(name_of(container))
            hosts.update(found)
    if not bad:
        return None
    detail = (
        f"{containers_phrase(bad)} {plural('uses', 'use', len(bad))} "
        f"{plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{quote(sorted(hosts))}"
    )
    return "probe or lifecycle host", detail


def _allowed_apparmor_annotation(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def app_armor_profile(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    forbidden = [
        f'{key}="{value}"'
        for key, value in sorted(obj(metadata.get("annotations")).items())
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not _allowed_apparmor_annotation(value)
    ]
    # The fields arrived in v1.30; older policy versions never saw them set, so checking them at
    # every version is what upstream does and changes nothing for older pods.
    setters = []
    profile = security_context(spec).get("appArmorProfile")
    if isinstance(profile, dict) and profile.get("type") not in VALID_APPARMOR_TYPES:
        setters.append(("pod", str(profile.get("type"))))
    for container in containers(spec):
        profile = security_context(container).get("appArmorProfile")
        if isinstance(profile, dict) and profile.get("type") not in VALID_APPARMOR_TYPES:
            setters.append((f'container "{name_of(container)}"', str(profile.get("type"))))
    forbidden += [f'{who} securityContext.appArmorProfile.type="{value}"' for who, value in setters]
    if not forbidden:
        return None
    reason = plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(forbidden))
    return reason, ", ".join(forbidden)


def se_linux_options(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    allowed_types = SELINUX_TYPES_1_31 if minor >= 31 else SELINUX_TYPES_1_0
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(options: JSON) -> bool:
        ok = True
        if (options.get("type") or "") not in allowed_types:
            bad_types.add(str(options.get("type")))
            ok = False
        for field in ("user", "role"):
            if options.get(field):
                flags[field] = True
                ok = False
        return ok

    setters = []
    pod_options = security_context(spec).get("seLinuxOptions")
    if isinstance(pod_options, dict) and not valid(pod_options):
        setters.append("pod")
    bad = []
    for container in containers(spec):
        options = security_context(container).get("seLinuxOptions")
        if isinstance(options, dict) and not valid(options):
            bad.append(name_of(container))
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    problems = []
    if bad_types:
        problems.append(f"{plural('type', 'types', len(bad_types))} {quote(sorted(bad_types))}")
    problems += [f"{field} may not be set" for field, was_set in flags.items() if was_set]
    detail = f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
    return "seLinuxOptions", detail + "; ".join(problems)


def proc_mount(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor >= PROCMOUNT_USERNS_RELAXED_SINCE and uses_user_namespace(spec):
        return None
    return unmasked_proc_mount(spec)


def unmasked_proc_mount(spec: JSON) -> Finding | None:
    bad: list[str] = []
    types: set[str] = set()
    for container in containers(spec):
        value = security_context(container).get("procMount")
        if value is not None and value != "Default":
            bad.append(name_of(container))
            types.add(str(value))
    if not bad:
        return None
    detail = (
        f"{containers_phrase(bad)} must not set securityContext.procMount to {quote(sorted(types))}"
    )
    return "procMount", detail


def _valid_seccomp_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_profile_baseline(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    if minor < 19:
        # Before v1.19 seccomp was only expressed through the alpha annotations.
        annotations = obj(metadata.get("annotations"))
        keys = [SECCOMP_POD_ANNOTATION]
        keys += [SECCOMP_CONTAINER_ANNOTATION_PREFIX + name_of(c) for c in containers(spec)]
        forbidden = sorted(
            {
                f'{key}="{annotations[key]}"'
                for key in keys
                if key in annotations and not _valid_seccomp_annotation(str(annotations[key]))
            }
        )
        if not forbidden:
            return None
        noun = plural("annotation", "annotations", len(forbidden))
        return "seccompProfile", f"forbidden {noun} {', '.join(forbidden)}"
    setters = []
    values: set[str] = set()
    profile = security_context(spec).get("seccompProfile")
    if isinstance(profile, dict) and profile.get("type") not in VALID_SECCOMP_TYPES:
        setters.append("pod")
        values.add(str(profile.get("type")))
    bad = []
    for container in containers(spec):
        profile = security_context(container).get("seccompProfile")
        if isinstance(profile, dict) and profile.get("type") not in VALID_SECCOMP_TYPES:
            bad.append(name_of(container))
            values.add(str(profile.get("type")))
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    detail = (
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
        f"to {quote(sorted(values))}"
    )
    return "seccompProfile", detail


def sysctls(metadata: JSON, spec: JSON, minor: int) -> Finding | None:
    allowed = allowed_sysctls(minor)
    forbidden = [
        str(sysctl.get("name"))
        for sysctl in security_context(spec).get("sysctls") or []
        if isinstance(sysctl, dict) and sysctl.get("name") not in allowed
    ]
    if not forbidden:
        return None
    return "forbidden sysctls", ", ".join(forbidden)


BASELINE_CONTROLS: tuple[Control, ...] = (
    Control("windowsHostProcess", "baseline", 0, windows_host_process),
    Control("hostNamespaces", "baseline", 0, host_namespaces),
    Control("privileged", "baseline", 0, privileged),
    Control("capabilities_baseline", "baseline", 0, capabilities_baseline),
    Control("hostPathVolumes", "baseline", 0, host_path_volumes),
    Control("hostPorts", "baseline", 0, host_ports),
    Control("hostProbesAndHostLifecycle", "baseline", 34, host_probes_and_lifecycle),
    Control("appArmorProfile", "baseline", 0, app_armor_profile),
    Control("seLinuxOptions", "baseline", 0, se_linux_options),
    Control("procMount", "baseline", 0, proc_mount),
    Control("seccompProfile_baseline", "baseline", 0, seccomp_profile_baseline),
    Control("sysctls", "baseline", 0, sysctls),
)
