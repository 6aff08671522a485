"""The one vocabulary of verdicts, with the label and order every page and export uses.

A check's own verdict (its raw status) is one of pass, fail, unknown, not applicable or error.
The stored effective verdict adds what governance decides: a failing check whose every affected
object an approved waiver covers is `waived`; a manual checklist item with a current
attestation is `attested`, without one it is `manual`. The members are declared most urgent
first, which is the order tables list them in.
"""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"  # the check itself raised: a bug, shown as such
    UNKNOWN = "unknown", "Unknown"  # data missing or forbidden: never counted as a pass
    MANUAL = "manual", "Manual — awaiting attestation"
    WAIVED = "waived", "Waived"
    ATTESTED = "attested", "Attested"
    PASS = "pass", "Pass"
    NOT_APPLICABLE = "not_applicable", "Not applicable"

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored value; a value no longer in the vocabulary shows as itself."""
        try:
            return str(cls(value).label)
        except ValueError:
            return value.replace("_", " ").capitalize()

    @classmethod
    def order_of(cls, value: str) -> int:
        """Position in the most-urgent-first order; unknown values sort last."""
        return _ORDER.get(value, len(_ORDER))


_ORDER = {member.value: index for index, member in enumerate(Status)}

# A check's raw verdict saw its data: findings reconcile only these (posture/findings.py).
OBSERVED = frozenset({Status.PASS, Status.FAIL})
# Effective verdicts that count in the score's denominator (posture/scoring.py).
WEIGHED = frozenset({Status.PASS, Status.FAIL, Status.WAIVED})
# Verdicts that could not be reached: out of the score, and they lower coverage.
UNJUDGED = frozenset({Status.UNKNOWN, Status.ERROR})
