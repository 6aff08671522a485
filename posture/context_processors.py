from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from posture.release_catalog import get_catalog

# Kubernetes ships patches monthly; a catalog older than two months misses at least one round.
STALE_AFTER = timedelta(days=60)


def release_catalog(request: HttpRequest) -> dict[str, Any]:
    """The catalog's version and age; a stale one is a banner for whoever runs the server.

    Only admins (staff) can run `manage.py refresh_catalog`, so only they get the banner with
    the command; everyone else sees a quiet note in the footer. A catalog younger than
    STALE_AFTER shows neither, from the very first run on.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    catalog = get_catalog()
    age = timezone.localdate() - catalog.generated_at
    stale = age > STALE_AFTER
    return {
        "release_catalog_version": catalog.version,
        "release_catalog_date": catalog.generated_at,
        "release_catalog_age_days": age.days,
        "release_catalog_stale": stale,
        "release_catalog_banner": stale and bool(user.is_staff),
    }
