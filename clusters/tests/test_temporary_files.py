"""Nothing an upload or a registration writes to $TMPDIR outlives the request or command."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from clusters.models import Cluster
from clusters.services import RegistrationError, cluster_register
from clusters.tests import hostile_archives
from clusters.tests import hostile_bundles as hostile

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$TMPDIR for this test: Django's upload handler and tempfile both write here."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def archive_of(tmp_path: Path, files: dict, name: str = "bundle.tar.gz") -> bytes:
    directory = hostile.write_bundle(tmp_path / name.replace(".", "-"), files)
    return hostile_archives.tar_gz(directory, tmp_path / name).read_bytes()


def large_files() -> dict:
    """Over FILE_UPLOAD_MAX_MEMORY_SIZE once compressed: Django spools it to a file of its own."""
    files = hostile.clean_files()
    padding = base64.b64encode(os.urandom(6 * 1024 * 1024)).decode()
    files["pods.json"]["items"][1]["metadata"]["annotations"] = {"padding": padding}
    return files


@pytest.fixture
def bundle_cluster(tmp_path: Path) -> Cluster:
    clean = hostile.write_bundle(tmp_path / "clean", hostile.clean_files())
    return cluster_register(
        name="evidence", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=clean, collect=False
    )


def test_it_leaves_nothing_behind_after_uploads(
    engineer, bundle_cluster: Cluster, tmp_path: Path, scratch: Path
) -> None:
    upload = reverse("cluster_upload", args=[bundle_cluster.name])
    small = archive_of(tmp_path, hostile.clean_files(), "small.tar.gz")
    large = archive_of(tmp_path, large_files(), "large.tar.gz")
    assert len(large) > 5 * 1024 * 1024

    for data in (small, large):
        response = engineer.post(upload, {"bundle": SimpleUploadedFile("b.tar.gz", data)})
        assert response.status_code == 302
        run = bundle_cluster.runs.latest("created_at")
        assert Path(run.bundle.path).read_bytes() == data  # stored whole, where it belongs
        assert list(scratch.iterdir()) == []
        run.delete()


def test_it_leaves_nothing_behind_after_a_refused_upload(
    engineer, bundle_cluster: Cluster, tmp_path: Path, scratch: Path
) -> None:
    upload = reverse("cluster_upload", args=[bundle_cluster.name])
    bomb = hostile_archives.zip_bomb(tmp_path / "bomb.zip", members=10).read_bytes()
    broken = b"\x1f\x8b" + b"not really gzip"

    for name, data in (("bomb.zip", bomb), ("broken.tar.gz", broken)):
        engineer.post(upload, {"bundle": SimpleUploadedFile(name, data)})
        assert list(scratch.iterdir()) == [], name
    assert not bundle_cluster.runs.exists()


def test_it_leaves_nothing_behind_after_registering_a_directory(
    tmp_path: Path, scratch: Path
) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.clean_files())

    cluster = cluster_register(
        name="from-a-directory", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=directory
    )
    call_command("register_cluster", "from-the-cli", "--bundle", str(directory))

    assert list(scratch.iterdir()) == []
    assert Path(cluster.runs.get().bundle.path).is_file()


def test_it_leaves_nothing_behind_after_refusing_a_directory(tmp_path: Path, scratch: Path) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.clean_files())
    (directory / "nodes.json").unlink()
    (directory / "nodes.json").symlink_to(tmp_path / "elsewhere.json")

    with pytest.raises(RegistrationError):
        cluster_register(
            name="linked", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=directory
        )
    with pytest.raises(CommandError, match="symbolic link"):
        call_command("register_cluster", "linked", "--bundle", str(directory))

    assert list(scratch.iterdir()) == []
    assert not Cluster.objects.exists()
