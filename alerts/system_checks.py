"""Alerting configuration mistakes, as Django system checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

from alerts.regressions import meets


@register()
def check_cluster_severity(app_configs: Any, **kwargs: Any) -> list[Warning]:
    floor = settings.RAMPART_ALERT_MIN_SEVERITY
    severity = settings.RAMPART_ALERT_CLUSTER_SEVERITY
    if meets(severity, floor):
        return []
    return [
        Warning(
            f"RAMPART_ALERT_CLUSTER_SEVERITY ({severity}) is below RAMPART_ALERT_MIN_SEVERITY "
            f"({floor}): score drops, coverage drops and failing or stale collections are "
            "never emailed.",
            hint="Raise RAMPART_ALERT_CLUSTER_SEVERITY to the floor or above, or lower the floor.",
            id="rampart.W301",
        )
    ]
