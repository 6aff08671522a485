"""Celery tasks of the compliance app: thin, no arguments to trust, one service each."""

from __future__ import annotations

from celery import shared_task

from compliance.services import waivers_expire


@shared_task(name="compliance.tasks.expire_waivers")
def expire_waivers() -> int:
    """Audit waivers that expired and rescore their clusters; returns how many were rescored."""
    return len(waivers_expire())
