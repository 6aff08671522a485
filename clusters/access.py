"""Who may see or do what with a cluster: the one access helper every view starts with."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from clusters.models import Cluster


def get_cluster_for_user(
    request: HttpRequest,
    name: str,
    permission: str = "clusters.view_cluster",
    *,
    with_sets: bool = True,
) -> Cluster:
    """The cluster named `name` if the user holds `permission`; 403 before any lookup.

    With its latest evaluation's result and verdict sets (`with_sets`): the pages that show the
    evaluation read both, unless they serve it from the page cache (read then only on a miss).
    """
    if not request.user.has_perm(permission):
        raise PermissionDenied
    related = ["latest_run", "latest_evaluation__run"]
    if with_sets:
        related += ["latest_evaluation__result_set", "latest_evaluation__verdict_set"]
    return get_object_or_404(Cluster.objects.select_related(*related), name=name)


def person(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user: LoginRequiredMiddleware lets no anonymous request reach a view."""
    return cast(AbstractBaseUser, request.user)
