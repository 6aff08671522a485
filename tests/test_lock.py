"""The lock files pin the whole dependency tree with hashes, in step with pyproject.toml.

A dependency added to pyproject.toml without `make lock` fails here rather than in an install.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for every pin in a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            pins[name] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def declared(*, extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return [Requirement(text) for text in requirements]


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements-runtime.lock", ()), ("requirements.lock", ("dev",))]
)
def test_it_locks_every_declared_dependency_at_an_allowed_version(lock, extras):
    pins = locked(ROOT / lock)

    for requirement in declared(extras=extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {lock}: run `make lock`"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{lock} pins {name}=={pins[name][0]}, pyproject.toml wants {requirement}: "
            "run `make lock`"
        )


@pytest.mark.parametrize("lock", ["requirements-runtime.lock", "requirements.lock"])
def test_it_pins_every_package_with_hashes(lock):
    text = (ROOT / lock).read_text()
    pins = locked(ROOT / lock)

    assert len(pins) > 40  # the whole tree, not only the top level
    assert all(hashes > 0 for _, hashes in pins.values()), pins
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "--hash=")):
            assert PIN.match(stripped), f"not an exact pin: {line!r}"


def test_it_keeps_the_runtime_lock_a_subset_of_the_full_one():
    runtime = locked(ROOT / "requirements-runtime.lock")
    full = locked(ROOT / "requirements.lock")

    for name, (version, _) in runtime.items():
        assert full.get(name, ("missing",))[0] == version, name
    assert "pytest" in full and "pytest" not in runtime
