"""Container image references: `nginx` is docker.io/library/nginx, with tag and digest apart.

Shared by the supply-chain checks (tags, digests, registries, miners) and the patching checks
that read add-on versions from image tags (ingress-nginx, kube-proxy).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from clusters.inventory import JSON
from posture.checks.base import Affected
from posture.workloads import Workload

DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
# The OCI image spec's registered digest algorithms and their encodings: lowercase hex of the
# algorithm's full length. Anything else (upper case, a digit short, sha512 with 32 characters,
# an unregistered algorithm) identifies no image for certain, so it pins nothing.
_DIGEST = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


@dataclass(frozen=True)
class ImageRef:
    registry: str  # "docker.io", "gcr.io", "localhost:5000"
    repository: str  # "library/nginx"
    tag: str  # "" when absent
    digest: str  # "sha256:..." when pinned
    raw: str

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def pinned(self) -> bool:
        return bool(self.digest) and bool(_DIGEST.match(self.digest))

    @property
    def mutable(self) -> bool:
        """No tag or `:latest`, and no valid digest to hold it still."""
        return not self.pinned and self.tag in ("", "latest")

    @property
    def basename(self) -> str:
        return self.repository.rsplit("/", 1)[-1]


# Replicas and checks ask about the same few images thousands of times per evaluation; the
# result is immutable, so one parse per distinct string is shared (bounded for long workers).
@lru_cache(maxsize=16_384)
def parse_image(image: str) -> ImageRef:
    """`nginx` -> docker.io/library/nginx (tag "", digest "")."""
    raw = image.strip()
    rest, _, digest = raw.partition("@")
    registry = "docker.io"
    first, slash, remainder = rest.partition("/")
    # A first path component is a registry host when it looks like one (Docker's own rule).
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first.lower(), remainder
    if registry in DOCKER_HUB_ALIASES:
        registry = "docker.io"
    last_slash = rest.rfind("/")
    repository, tag = rest, ""
    if ":" in rest[last_slash + 1 :]:
        repository, _, tag = rest.rpartition(":")
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry, repository, tag, digest, raw)


def container_images(workload: Workload) -> Iterator[tuple[JSON, ImageRef]]:
    for _, container in workload.containers():
        image = container.get("image")
        if isinstance(image, str) and image:
            yield container, parse_image(image)


def workload_affected(workload: Workload, detail: str) -> Affected:
    return Affected(workload.kind, workload.namespace, workload.name, detail)
