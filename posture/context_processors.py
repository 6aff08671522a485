from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from posture.release_catalog import get_catalog

# Kubernetes ships patches monthly; a catalog older than two months misses at least one round.
STALE_AFTER = timedelta(days=60)


def release_catalog(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    catalog = get_catalog()
    return {
        "release_catalog_version": catalog.version,
        "release_catalog_date": catalog.generated_at,
        "release_catalog_stale": timezone.localdate() - catalog.generated_at > STALE_AFTER,
    }
