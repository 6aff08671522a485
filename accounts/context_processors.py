from typing import Any

from django.http import HttpRequest

from accounts.roles import user_role


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "user_role": user_role(user),
        "can_register": user.has_perm("clusters.add_cluster"),
        "can_collect": user.has_perm("clusters.add_collectionrun"),
    }
