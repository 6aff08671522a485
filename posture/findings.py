"""Findings: one check failing for one object, remembered across collections.

A finding's identity is cluster + check + owning workload (kind, namespace, name) + the
offending field, hashed into a fingerprint. The field is derived from the affected object's
detail by `detail_field`, which keeps what names the problem (`container "api"`,
`volume "host-root"`, `CVE-2025-1974`) and drops what changes without the problem changing:
versions, counts, dates, parenthesised remarks and pod-template hashes. A rolling update
(same Deployment, new ReplicaSet hash and pod names) therefore keeps every finding open.

posture.reconcile brings the stored findings in line with each evaluation by this identity.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from posture.checks.base import REGISTRY, Severity

BATCH = 500
DETAIL_MAX = 2000

# Kubernetes names generated objects with a vowel-free alphabet (rand.SafeEncodeString), so a
# ReplicaSet's pod-template hash and a pod's suffix are recognisable without false positives on
# ordinary words.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_NAME = re.compile(rf"-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_REPLICASET_NAME = re.compile(rf"-{_SAFE}{{6,10}}$")
_JOB_NAME = re.compile(r"-\d{8,}$")  # CronJob jobs: name-<scheduled minute>
_POD_IN_TEXT = re.compile(rf"\b([a-z0-9][a-z0-9.-]*?)-{_SAFE}{{6,10}}-{_SAFE}{{5}}\b")
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_SEGMENT = re.compile(r"\s*:\s+")
_CLAUSE = re.compile(r"[;,]\s")
_VERSION = re.compile(r"\bv?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z.+-]*)?\+?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+Z?)?\b")
_NUMBER = re.compile(r"(?<![\w-])\d+(?![\w.-])")
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    text = _POD_IN_TEXT.sub(r"\1", text)
    text = _DATE.sub("", text)
    text = _VERSION.sub("", text)
    text = _NUMBER.sub("#", text)
    return _SPACES.sub(" ", text).strip(" .:;,")


# Workloads share details ('container "app": securityContext.privileged=true'): a hundred
# thousand findings of one collection normalise a few thousand distinct strings.
@lru_cache(maxsize=65_536)
def detail_field(detail: str) -> str:
    """The stable part of an affected object's detail: what is wrong, not how much or which build.

    The first `: `-separated segment that still says something after normalisation, up to its
    first clause: `container "api": securityContext...` -> `container "api"`;
    `v1.29.4: CVE-2025-13281 (medium): ...` -> `CVE-2025-13281`; `kubelet v1.29.4: 11 patches
    behind` -> `kubelet`; `no default-deny ingress policy (0 policies), nor egress` ->
    `no default-deny ingress policy`.
    """
    text = detail
    while True:  # nested parentheses, innermost first
        stripped = _PARENTHESES.sub("", text)
        if stripped == text:
            break
        text = stripped
    for segment in _SEGMENT.split(text):
        head = _normalise(_CLAUSE.split(segment, maxsplit=1)[0])
        if head.strip("#"):
            return head[:300]
    return ""


def workload_name(kind: str, name: str) -> str:
    """The owner's stable name: generated suffixes of pods, ReplicaSets and CronJob jobs removed."""
    if kind == "Pod":
        return _POD_NAME.sub("", name)
    if kind == "ReplicaSet":
        return _REPLICASET_NAME.sub("", name)
    if kind == "Job":
        return _JOB_NAME.sub("", name)
    return name


@dataclass(frozen=True)
class Identity:
    check_id: str
    kind: str
    namespace: str
    name: str
    field: str

    @cached_property  # asked several times per finding on every reconcile
    def fingerprint(self) -> str:
        key = "\x1f".join((self.check_id, self.kind, self.namespace, self.name, self.field))
        return hashlib.sha256(key.encode()).hexdigest()


def identity_for(check_id: str, affected: dict[str, Any]) -> Identity:
    kind = str(affected.get("kind", ""))
    return Identity(
        check_id=check_id,
        kind=kind,
        namespace=str(affected.get("namespace", "")),
        name=workload_name(kind, str(affected.get("name", ""))),
        field=detail_field(str(affected.get("detail", ""))),
    )


@dataclass
class Observed:
    identity: Identity
    severity: str
    details: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return "; ".join(self.details)[:DETAIL_MAX]


def observed_findings(check_id: str, affected: Iterable[dict[str, Any]]) -> dict[str, Observed]:
    """Fingerprint -> what this evaluation saw. Items that normalise alike merge into one."""
    check = REGISTRY.get(check_id)
    severity = check.severity.value if check else Severity.INFO.value
    items = list(affected) or [{"kind": "", "namespace": "", "name": "", "detail": ""}]
    found: dict[str, Observed] = {}
    for item in items:
        identity = identity_for(check_id, item)
        observed = found.setdefault(identity.fingerprint, Observed(identity, severity))
        detail = str(item.get("detail", ""))
        if detail and detail not in observed.details:
            observed.details.append(detail)
    return found
