"""Who may see or do what with a cluster: the one access helper every view starts with."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from clusters.models import Cluster


def get_cluster_for_user(
    request: HttpRequest, name: str, permission: str = "clusters.view_cluster"
) -> Cluster:
    """The cluster named `name` if the user holds `permission`; 403 before any lookup."""
    if not request.user.has_perm(permission):
        raise PermissionDenied
    # The result and verdict sets too: the pages that show the latest evaluation read both.
    return get_object_or_404(
        Cluster.objects.select_related(
            "latest_run",
            "latest_evaluation__run",
            "latest_evaluation__result_set",
            "latest_evaluation__verdict_set",
        ),
        name=name,
    )


def person(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user: LoginRequiredMiddleware lets no anonymous request reach a view."""
    return cast(AbstractBaseUser, request.user)
