"""Celery tasks of the compliance app: thin, no arguments to trust, one service each."""

from __future__ import annotations

from celery import shared_task

from compliance.reports.services import report_build
from compliance.services import verdicts_refresh_due, waivers_expire


@shared_task(name="compliance.tasks.refresh_verdicts")
def refresh_verdicts() -> int:
    """Audit waivers that expired, and derive again every stored verdict gone stale by itself
    (a waiver's expiry, an attestation's lapse); returns how many clusters were re-derived."""
    return len(set(waivers_expire()) | set(verdicts_refresh_due()))


@shared_task(name="compliance.tasks.generate_report")
def generate_report(report_id: int) -> str:
    """Build one requested report; a row already claimed, finished or deleted is left be."""
    report = report_build(report_id=report_id)
    return report.status if report else "skipped"
