"""Pod Security policy versions and the namespace labels that pin them.

A policy version is a Kubernetes minor (`v1.29`) or `latest`. Upstream evaluates a version newer
than its newest rules with its newest rules, and labels it cannot parse as `restricted` and
`latest` (`PolicyToEvaluate` fails closed). Rampart mirrors that, except that `latest` or an
unset version is resolved to the cluster's own minor: the rule set its API server applies.
"""

from __future__ import annotations

import re
from functools import lru_cache

# The newest policy version whose rules this package implements (sysctls grew in v1.37).
LATEST_MINOR = 37

LEVELS = ("privileged", "baseline", "restricted")
LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"

# Upstream accepts exactly `latest` or `v1.<minor>`; anything else ("1.29", "v1.29.3") is invalid.
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
_GIT_VERSION = re.compile(r"^v?1\.(\d+)")


class InvalidVersionError(ValueError):
    pass


@lru_cache(maxsize=256)  # asked once per pod judged; labels name a handful of versions
def parse_minor(version: str) -> int:
    """The minor a policy version means; `latest` and newer-than-implemented give the newest."""
    if version == "latest":
        return LATEST_MINOR
    match = _VERSION.match(version)
    if not match:
        raise InvalidVersionError(f"invalid Pod Security version {version!r}")
    return min(int(match.group(1)), LATEST_MINOR)


def cluster_minor_version(git_version: str | None) -> str:
    """`v1.31.4-gke.100` -> `v1.31`; unknown -> `latest`."""
    match = _GIT_VERSION.match(git_version or "")
    return f"v1.{int(match.group(1))}" if match else "latest"


def namespace_policy(namespace_labels: dict[str, str], cluster_minor: str) -> tuple[str, str]:
    """(enforce level, enforce version) the API server applies to pods in this namespace.

    `cluster_minor` is the cluster's minor (`v1.31`, or a gitVersion such as `v1.31.4-gke.1`).
    An unset level is `privileged`, the upstream default when no AdmissionConfiguration sets
    one (which Rampart cannot see); an invalid level is `restricted`, as upstream fails closed.
    An unset version or `latest` means the newest rules the API server knows, i.e. the
    cluster's own minor; an invalid version is `latest` like upstream, hence the same.
    """
    labels = namespace_labels or {}
    level = labels.get(ENFORCE_LABEL) or "privileged"
    if level not in LEVELS:
        # Upstream's PolicyToEvaluate fails closed: an unparsable label means restricted/latest.
        level = "restricted"
    cluster = cluster_minor_version(cluster_minor)
    pinned = _VERSION.match(labels.get(ENFORCE_VERSION_LABEL) or "")
    if not pinned:  # unset, "latest" or invalid: the newest rules this API server knows
        return level, cluster
    cluster_match = _VERSION.match(cluster)
    # A pin newer than the API server is evaluated with the server's newest rules.
    if cluster_match and int(pinned.group(1)) > int(cluster_match.group(1)):
        return level, cluster
    return level, pinned.group(0)
