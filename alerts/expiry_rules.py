"""Waivers and attestations that expire: pure detection, like alerts.regressions.

A waiver or attestation expiring within 7 days, or expired in the last 2 days, is one
regression per item and expiry date; a renewed one raises none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from alerts.regressions import Kind, Regression

EXPIRY_WARN_BEFORE = timedelta(days=7)
# An expiry is news for this long after it happened: the scan runs hourly, so a few missed beat
# ticks still notify, and the dedup keys keep the repeated scans from notifying twice.
EXPIRY_LOOKBACK = timedelta(days=2)
TEXT_LIMIT = 500  # characters of a reason or justification quoted in an email


# --- Waivers and attestations that expire --------------------------------------------------


@dataclass(frozen=True)
class WaiverSnapshot:
    """What expiry detection needs of one waiver; times are aware, shown in their zone."""

    waiver_id: int
    check_id: str
    check_title: str
    severity: str  # the waived check's
    expires_at: datetime
    approved: bool
    revoked: bool
    reason: str = ""
    owner_email: str = ""
    approved_by: str = ""
    approved_at: datetime | None = None
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()  # "Kind/namespace/name"
    link: str = ""

    @property
    def scope(self) -> str:
        parts = []
        if self.namespaces:
            parts.append("namespace(s) " + ", ".join(self.namespaces))
        if self.workloads:
            parts.append(", ".join(self.workloads))
        return "; ".join(parts) or "the whole check"

    def covers_scope_of(self, other: WaiverSnapshot) -> bool:
        """Whether this waiver waives at least everything `other` waives."""
        if self.check_id != other.check_id:
            return False
        if not (self.namespaces or self.workloads):
            return True
        if not (other.namespaces or other.workloads):
            return False
        return set(other.namespaces) <= set(self.namespaces) and all(
            workload in self.workloads
            or workload.partition("/")[2].partition("/")[0] in self.namespaces
            for workload in other.workloads
        )


@dataclass(frozen=True)
class AttestationSnapshot:
    """What expiry detection needs of one attestation of a manual guide item."""

    attestation_id: int
    guide: str
    item_id: str
    item_title: str
    severity: str  # the item's checks' highest, "medium" for a purely manual item
    reattest_by: date
    lapses_at: datetime  # the first moment after `reattest_by`, in the site's time zone
    revoked: bool
    justification: str = ""
    attested_by: str = ""
    attested_at: datetime | None = None
    evidence_link: str = ""
    link: str = ""


def detect_expiries(
    *,
    cluster_id: int,
    cluster_name: str,
    waivers: Iterable[WaiverSnapshot] = (),
    attestations: Iterable[AttestationSnapshot] = (),
    now: datetime,
    warn_before: timedelta = EXPIRY_WARN_BEFORE,
    lookback: timedelta = EXPIRY_LOOKBACK,
) -> list[Regression]:
    """Waivers and attestations of one cluster that expire within `warn_before`, or expired
    within `lookback`.

    Only approved, unrevoked waivers and unrevoked attestations count: a pending waiver never
    applied, a revoked one was ended on purpose. One that has been renewed is not news either:
    a waiver is renewed by another approved one of the same check, covering at least its scope,
    that expires later; an attestation by a later one of the same item. Pass those successors
    along with the expiring ones.

    The dedup key names the object, the kind and the expiry date, so each gets one "expiring"
    and one "expired" notification per recipient, and a new expiry date warns again.
    """
    waivers = [w for w in waivers if w.approved and not w.revoked]
    attestations = [a for a in attestations if not a.revoked]
    regressions = []
    for waiver in sorted(waivers, key=lambda w: (w.expires_at, w.waiver_id)):
        kind = _expiry_kind(waiver.expires_at, now, warn_before, lookback, waiver=True)
        renewed = any(
            other.waiver_id != waiver.waiver_id
            and other.expires_at > waiver.expires_at
            and other.covers_scope_of(waiver)
            for other in waivers
        )
        if kind is not None and not renewed:
            regressions.append(_waiver_regression(kind, cluster_id, cluster_name, waiver, now))
    for attestation in sorted(attestations, key=lambda a: (a.lapses_at, a.attestation_id)):
        kind = _expiry_kind(attestation.lapses_at, now, warn_before, lookback, waiver=False)
        renewed = any(
            (other.guide, other.item_id) == (attestation.guide, attestation.item_id)
            and other.reattest_by > attestation.reattest_by
            for other in attestations
        )
        if kind is not None and not renewed:
            regressions.append(_attestation_regression(kind, cluster_id, cluster_name, attestation))
    return regressions


def _expiry_kind(
    expires_at: datetime,
    now: datetime,
    warn_before: timedelta,
    lookback: timedelta,
    *,
    waiver: bool,
) -> Kind | None:
    if now < expires_at <= now + warn_before:
        return Kind.WAIVER_EXPIRING if waiver else Kind.ATTESTATION_EXPIRING
    if now - lookback < expires_at <= now:
        return Kind.WAIVER_EXPIRED if waiver else Kind.ATTESTATION_EXPIRED
    return None


def _moment(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M %Z}".strip()


def _in(delta: timedelta) -> str:
    hours = max(1, -(-int(delta.total_seconds()) // 3600))  # rounded up: "in 1 hour", not 0
    if hours < 48:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return f"in {round(hours / 24)} days"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _waiver_regression(
    kind: Kind, cluster_id: int, cluster_name: str, waiver: WaiverSnapshot, now: datetime
) -> Regression:
    expiring = kind is Kind.WAIVER_EXPIRING
    expires = _moment(waiver.expires_at)
    what = f"{waiver.check_id} ({waiver.severity})"
    if waiver.namespaces or waiver.workloads:
        what += f" for {waiver.scope}"
    if expiring:
        title = f"waiver of {waiver.check_title} expires {_in(waiver.expires_at - now)}"
        summary = (
            f"The waiver accepting the risk of {what} expires on {expires}. From then on what "
            "it waives counts against the score again: fix the affected objects, or request a "
            "new waiver and have it approved before then."
        )
    else:
        title = f"waiver of {waiver.check_title} expired"
        summary = (
            f"The waiver accepting the risk of {what} expired on {expires}: what it waived "
            "counts against the score again. Fix the affected objects, or request a new waiver."
        )
    approved = waiver.approved_by or "unknown"
    if waiver.approved_at:
        approved += f" on {waiver.approved_at:%Y-%m-%d}"
    facts = [
        ("Check", f"{waiver.check_title} ({waiver.check_id})"),
        ("Scope", waiver.scope),
        ("Reason", _quote(waiver.reason)),
        ("Risk owner", waiver.owner_email),
        ("Approved by", approved),
        ("Expired" if not expiring else "Expires", expires),
    ]
    return Regression(
        kind,
        cluster_id,
        cluster_name,
        waiver.severity,
        f"cluster:{cluster_id}:waiver:{waiver.waiver_id}:{kind.value}:"
        f"{waiver.expires_at.astimezone(UTC).isoformat()}",
        title,
        summary,
        waiver.check_id,
        facts=tuple((label, value) for label, value in facts if value),
        link=waiver.link,
        link_label="See the waiver",
    )


def _attestation_regression(
    kind: Kind,
    cluster_id: int,
    cluster_name: str,
    attestation: AttestationSnapshot,
) -> Regression:
    expiring = kind is Kind.ATTESTATION_EXPIRING
    item = f"{attestation.guide} {attestation.item_id}"
    due = f"{attestation.reattest_by:%Y-%m-%d}"
    if expiring:
        # By date, as people attest: "in N days" would depend on the hour the scan ran.
        title = f"attestation of {item} must be renewed by {due}"
        summary = (
            f"The attestation of {item} ({attestation.item_title}) must be renewed by {due}. "
            "After that the item counts as manual (unattested) again: check the control and "
            "attest it again before then."
        )
    else:
        title = f"attestation of {item} expired"
        summary = (
            f"The attestation of {item} ({attestation.item_title}) was due for re-attestation "
            f"on {due} and has lapsed: the item counts as manual (unattested) until someone "
            "checks the control and attests it again."
        )
    attested = attestation.attested_by or "unknown"
    if attestation.attested_at:
        attested += f" on {attestation.attested_at:%Y-%m-%d}"
    facts = [
        ("Guide item", f"{item}: {attestation.item_title}"),
        ("Justification", _quote(attestation.justification)),
        ("Evidence", attestation.evidence_link),
        ("Attested by", attested),
        ("Re-attest by", due),
    ]
    return Regression(
        kind,
        cluster_id,
        cluster_name,
        attestation.severity,
        f"cluster:{cluster_id}:attestation:{attestation.attestation_id}:{kind.value}:"
        f"{attestation.reattest_by.isoformat()}",
        title,
        summary,
        facts=tuple((label, value) for label, value in facts if value),
        link=attestation.link,
        link_label="See the guide item and its attestations",
    )
