"""Findings: one check failing for one object, remembered across collections.

A finding's identity is cluster + check + owning workload (kind, namespace, name) + the
offending field, hashed into a fingerprint. The field is derived from the affected object's
detail by `detail_field`, which keeps what names the problem (`container "api"`,
`volume "host-root"`, `CVE-2025-1974`) and drops what changes without the problem changing:
versions, counts, dates, parenthesised remarks and pod-template hashes. A rolling update
(same Deployment, new ReplicaSet hash and pod names) therefore keeps every finding open.

Each evaluation reconciles only the checks it judged (status pass or fail):

    (none)   -> open      new: first seen in this evaluation
    open     -> open      still open: only last_seen moves (one bulk UPDATE for all of them)
    open     -> resolved  the check passed, or failed without naming this object
    resolved -> open      reopened: times_reopened + 1, a new episode starts (opened_at)

A check that is unknown, in error, waived or not applicable leaves its findings untouched:
missing data is never a pass, so it can neither resolve nor refresh them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from posture.checks.base import REGISTRY, Severity
from posture.models import Evaluation, Finding
from posture.status import OBSERVED

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

    @property
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


@dataclass
class ReconcileResult:
    """What one evaluation changed. `still_open` is a count: those rows only had last_seen moved."""

    new: list[Finding] = field(default_factory=list)
    still_open: int = 0
    resolved: list[Finding] = field(default_factory=list)
    reopened: list[Finding] = field(default_factory=list)

    @property
    def opened(self) -> list[Finding]:
        return [*self.new, *self.reopened]


def findings_reconcile(*, evaluation: Evaluation) -> ReconcileResult:
    """Bring the cluster's findings in line with this evaluation. Call inside its transaction."""
    now = evaluation.created_at or timezone.now()
    results = list(
        evaluation.results.filter(status__in=OBSERVED).values_list("check_id", "status", "affected")
    )
    judged = [check_id for check_id, _, _ in results]
    observed: dict[str, Observed] = {}
    for check_id, status, affected in results:
        if status == "fail":
            observed.update(observed_findings(check_id, affected))
    existing = {
        finding.fingerprint: finding
        for finding in Finding.objects.filter(cluster_id=evaluation.cluster_id, check_id__in=judged)
    }
    result = ReconcileResult()
    changed: list[Finding] = []
    for fingerprint, seen in observed.items():
        finding = existing.get(fingerprint)
        if finding is None:
            result.new.append(_new_finding(evaluation, seen, now))
        elif finding.status == Finding.Status.RESOLVED:
            finding.reopen(
                evaluation=evaluation, at=now, detail=seen.detail, severity=seen.severity
            )
            result.reopened.append(finding)
        elif finding.detail != seen.detail or finding.severity != seen.severity:
            finding.detail, finding.severity = seen.detail, seen.severity
            changed.append(finding)
    for fingerprint, finding in existing.items():
        if finding.status == Finding.Status.OPEN and fingerprint not in observed:
            finding.resolve(evaluation=evaluation, at=now)
            result.resolved.append(finding)
    Finding.objects.bulk_create(result.new, batch_size=BATCH)
    Finding.objects.bulk_update(
        result.reopened,
        [
            "status",
            "severity",
            "detail",
            "times_reopened",
            "opened_at",
            "opened_evaluation",
            "resolved_at",
            "resolved_evaluation",
            "last_seen_at",
            "last_seen_evaluation",
        ],
        batch_size=BATCH,
    )
    Finding.objects.bulk_update(
        result.resolved, ["status", "resolved_at", "resolved_evaluation"], batch_size=BATCH
    )
    Finding.objects.bulk_update(changed, ["detail", "severity"], batch_size=BATCH)
    # Everything else the evaluation saw failing is still open: one UPDATE moves last_seen on
    # all of them, so an unchanged cluster re-collected writes nothing else.
    result.still_open = (
        Finding.objects.filter(
            cluster_id=evaluation.cluster_id,
            status=Finding.Status.OPEN,
            check_id__in=[check_id for check_id, status, _ in results if status == "fail"],
        )
        .exclude(last_seen_evaluation=evaluation)
        .update(last_seen_evaluation=evaluation, last_seen_at=now)
    )
    return result


def open_by_severity(*, cluster_id: int) -> dict[str, int]:
    """Open findings per severity: what the trend of open findings plots."""
    rows = (
        Finding.objects.filter(cluster_id=cluster_id, status=Finding.Status.OPEN)
        .values_list("severity")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


def _new_finding(evaluation: Evaluation, seen: Observed, now: Any) -> Finding:
    identity = seen.identity
    return Finding(
        cluster_id=evaluation.cluster_id,
        check_id=identity.check_id,
        fingerprint=identity.fingerprint,
        kind=identity.kind,
        namespace=identity.namespace,
        name=identity.name,
        field=identity.field,
        severity=seen.severity,
        status=Finding.Status.OPEN,
        detail=seen.detail,
        first_seen_evaluation=evaluation,
        first_seen_at=now,
        opened_evaluation=evaluation,
        opened_at=now,
        last_seen_evaluation=evaluation,
        last_seen_at=now,
    )


def reconcile_result_for(*, evaluation: Evaluation) -> ReconcileResult:
    """The result `findings_reconcile` produced for this evaluation, read back from the rows.

    Alerting runs after the collection's transaction and may be re-run for the same evaluation
    (a retried task): reading the outcome back keeps it identical every time.
    """
    opened = list(Finding.objects.filter(opened_evaluation=evaluation).order_by("check_id", "id"))
    return ReconcileResult(
        new=[f for f in opened if f.first_seen_evaluation_id == evaluation.pk],
        reopened=[f for f in opened if f.first_seen_evaluation_id != evaluation.pk],
        resolved=list(
            Finding.objects.filter(resolved_evaluation=evaluation).order_by("check_id", "id")
        ),
        still_open=Finding.objects.filter(
            last_seen_evaluation=evaluation, status=Finding.Status.OPEN
        )
        .exclude(opened_evaluation=evaluation)
        .count(),
    )
