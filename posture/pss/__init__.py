"""Pod Security Standards, evaluated exactly as kubernetes/pod-security-admission does.

`evaluate_pod(metadata, spec, level=..., version=...)` returns the violated controls for one pod
(or pod template) at a level (`baseline`, `restricted`; `privileged` allows everything) and a
policy version (`v1.0` ... `v1.37`, or `latest`). Restricted includes baseline, minus the
baseline controls a stricter restricted control replaces at that version. Conformance with the
upstream test fixtures is asserted by posture/tests/test_pss_conformance.py.
"""

from __future__ import annotations

from functools import cache

from posture.pss.baseline import BASELINE_CONTROLS
from posture.pss.pod import JSON, Control, Finding, Violation
from posture.pss.restricted import RESTRICTED_CONTROLS
from posture.pss.versions import (
    ENFORCE_LABEL,
    ENFORCE_VERSION_LABEL,
    LATEST_MINOR,
    LEVELS,
    InvalidVersionError,
    cluster_minor_version,
    namespace_policy,
    parse_minor,
)

__all__ = [
    "CONTROLS",
    "ENFORCE_LABEL",
    "ENFORCE_VERSION_LABEL",
    "LATEST_MINOR",
    "LEVELS",
    "ControlMemo",
    "InvalidVersionError",
    "Violation",
    "active_controls",
    "cluster_minor_version",
    "evaluate_pod",
    "namespace_policy",
    "parse_minor",
]

CONTROLS: tuple[Control, ...] = BASELINE_CONTROLS + RESTRICTED_CONTROLS


def active_controls(level: str, minor: int) -> list[Control]:
    """The controls upstream runs for this level at this policy minor, in upstream's order."""
    return list(_active_controls(level, minor))


@cache  # a few levels times a few dozen minors; asked once per pod and level otherwise
def _active_controls(level: str, minor: int) -> tuple[Control, ...]:
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}")
    if level == "privileged":
        return ()
    baseline = [c for c in BASELINE_CONTROLS if minor >= c.since]
    if level == "baseline":
        return tuple(baseline)
    restricted = [c for c in RESTRICTED_CONTROLS if minor >= c.since]
    replaced = {control_id for c in restricted for control_id in c.overrides}
    return tuple([c for c in baseline if c.id not in replaced] + restricted)


# What each control found for one pod, by (control id, policy minor); see `evaluate_pod`.
ControlMemo = dict[tuple[str, int], Finding | None]


def evaluate_pod(
    pod_metadata: JSON | None,
    pod_spec: JSON | None,
    *,
    level: str,
    version: str,
    memo: ControlMemo | None = None,
) -> list[Violation]:
    """Every control the pod violates at `level` and policy `version` (empty when admitted).

    Baseline and restricted share most controls: a caller judging one pod at both levels may
    pass the same `memo` to both calls so that each control runs once for that pod.
    """
    minor = parse_minor(version)
    metadata = pod_metadata or {}
    spec = pod_spec or {}
    violations = []
    for control in _active_controls(level, minor):
        if memo is None:
            found = control.evaluate(metadata, spec, minor)
        else:
            key = (control.id, minor)
            if key in memo:
                found = memo[key]
            else:
                found = memo[key] = control.evaluate(metadata, spec, minor)
        if found is not None:
            reason, detail = found
            violations.append(Violation(control.id, reason, detail))
    return violations
