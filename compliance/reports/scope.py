"""What a report covers, checked once where the request enters (form, command line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from clusters.models import Cluster
from posture.guides import Guide, guide_get

# An as-of report looks back this far for its trend and its changes.
AS_OF_LOOKBACK_DAYS = 90
# A period longer than this is refused: trends and changes of more are a second report.
MAX_PERIOD_DAYS = 731


class ScopeError(ValueError):
    """A report request that cannot be served; the message is one line for the person."""


@dataclass(frozen=True)
class Scope:
    guide: Guide
    end: date  # the as-of date, or the period's last day (inclusive)
    start: date | None = None  # the period's first day; None: as of `end`
    cluster: Cluster | None = None  # None: the fleet
    environment: str = ""  # a fleet report of one environment

    @property
    def is_fleet(self) -> bool:
        return self.cluster is None

    @property
    def window_start(self) -> date:
        """The first day of the trend and the changes."""
        return self.start or self.end - timedelta(days=AS_OF_LOOKBACK_DAYS)

    @property
    def cutoff(self) -> datetime:
        """The end of `end` (local midnight after it): evaluations before it count."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def window_cutoff_start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.window_start, time.min))

    @property
    def period_label(self) -> str:
        if self.start:
            return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"
        return f"as of {self.end:%Y-%m-%d}"


def scope_build(
    *,
    guide: str,
    cluster: Cluster | None = None,
    environment: str = "",
    as_of: date | None = None,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
) -> Scope:
    """A checked scope: a known guide, a date or a period that is not in the future."""
    found = guide_get(guide)
    if found is None:
        raise ScopeError(f"unknown guide {guide!r}")
    today = today or timezone.localdate()
    if as_of and (start or end):
        raise ScopeError("give either an as-of date or a period (from and to), not both")
    if (start is None) != (end is None):
        raise ScopeError("a period needs both its first day (from) and its last day (to)")
    if start and end:
        if start > end:
            raise ScopeError(f"the period starts ({start}) after it ends ({end})")
        if (end - start).days > MAX_PERIOD_DAYS:
            raise ScopeError(f"a period may span at most {MAX_PERIOD_DAYS} days")
    last = end or as_of or today
    if last > today:
        raise ScopeError(f"{last} is in the future; a report shows what was stored")
    if cluster is not None and environment:
        raise ScopeError("an environment selects clusters of a fleet report, not of one cluster")
    return Scope(guide=found, end=last, start=start, cluster=cluster, environment=environment)


def parse_day(value: str, *, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ScopeError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None
