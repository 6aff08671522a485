"""Kubernetes-style versions, including provider builds, as comparable values.

`v1.30.5-gke.1014001`, `v1.29.3-eks-adc7111`, `v1.28.9+k3s1` and `v1.27.3+rke2r1` are upstream
1.30.5 / 1.29.3 / 1.28.9 / 1.27.3 plus a build tag; `1.12.0-beta.0` and `v1.31.0-rc.1` are
pre-releases that sort before their release. The same parser reads kubelet, containerd and
ingress-nginx versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(.*)$")
_PRERELEASE = re.compile(r"^-((?:alpha|beta|rc|pre)(?:[.]?\d+)*)", re.IGNORECASE)
# Build tags of well-known distributions, matched at the start of the tag.
_PROVIDERS = ("gke", "eks", "aks", "k3s", "rke2", "oke", "iks", "tke", "ack")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""  # "rc.1", "beta.0": sorts before the release
    build: str = ""  # provider build tag: "gke.1014001", "eks-adc7111", "k3s1", "rke2r1"
    raw: str = ""

    @property
    def minor_key(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def upstream(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{self.prerelease}" if self.prerelease else text

    @property
    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, str], ...]]:
        """Ordering key; provider builds of one upstream patch compare equal."""
        pre = tuple(
            (int(part), "") if part.isdigit() else (-1, part)
            for part in re.split(r"[.]", self.prerelease)
            if part
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    @property
    def is_provider_build(self) -> bool:
        return bool(self.build)

    @property
    def provider(self) -> str:
        """Short distribution name of a provider build ("gke", "k3s"), "" for upstream."""
        if not self.build:
            return ""
        lowered = self.build.lower()
        for name in _PROVIDERS:
            if lowered.startswith(name):
                return name
        return "provider"

    def provider_note(self) -> str:
        if not self.build:
            return ""
        return (
            f"{self.raw or self.upstream} is a {self.provider} build of upstream {self.upstream}: "
            "the provider may have backported fixes, so confirm with its security bulletins"
        )

    def __str__(self) -> str:
        return self.raw or self.upstream


def parse_version(text: str | None) -> Version | None:
    """`v1.30.5-gke.1014001` -> 1.30.5 + build "gke.1014001"; None when not a version."""
    if not text:
        return None
    cleaned = text.strip()
    match = _VERSION.match(cleaned)
    if not match:
        return None
    major, minor, patch, rest = match.groups()
    prerelease = ""
    pre = _PRERELEASE.match(rest)
    if pre:
        prerelease = pre.group(1)
        rest = rest[pre.end() :]
    if rest and rest[0] not in "-+_.":
        return None  # "1.2.3abc" is not a version we can reason about
    build = rest.lstrip("-+_.")
    return Version(int(major), int(minor), int(patch or 0), prerelease, build, cleaned)
