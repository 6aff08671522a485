"""The hostile bundle corpus, entered where bundles enter: read_bundle (directory, .tar.gz,
.zip), the upload form, registration, and live pages from the fake API server.

A broken kind file leaves that kind not collected with its reason; a malformed object is left
out and named, its kind partial; the run is partial either way. No check errors, none flips
from fail to pass, and the planted privileged pod is never lost from the evidence.
"""

from __future__ import annotations

import tarfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters.bundles import BundleError, read_bundle
from clusters.collection import finished_run_fields
from clusters.inventory import Inventory, KindStatus
from clusters.models import Cluster, CollectionRun
from clusters.services import RegistrationError, cluster_register
from clusters.tests import hostile_archives
from clusters.tests import hostile_bundles as hostile
from clusters.tests.fakeapi import FakeApiServer
from clusters.tests.hostile_bundles import PLANTED, KindCase, ObjectCase
from clusters.tests.test_kube import CORE
from pipeline.collection import collection_execute
from posture.checks.base import CheckContext, Status, run_all

KIND_CASES = hostile.kind_cases()
OBJECT_CASES = hostile.object_cases()
CONTEXT = CheckContext()


def verdicts(inventory: Inventory) -> dict[str, Status]:
    return {result.check.id: result.status for result in run_all(inventory, CONTEXT)}


@pytest.fixture(scope="module")
def clean_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Status]:
    directory = hostile.write_bundle(tmp_path_factory.mktemp("clean"), hostile.clean_files())
    inventory = read_bundle(directory)
    assert inventory.kind_status["pods"] == KindStatus.OK
    found = verdicts(inventory)
    assert found["isolation.privileged"] == Status.FAIL
    return found


def assert_never_a_false_pass(inventory: Inventory, clean: dict[str, Status]) -> None:
    hostile_verdicts = verdicts(inventory)
    assert Status.ERROR not in hostile_verdicts.values(), [
        check for check, status in hostile_verdicts.items() if status == Status.ERROR
    ]
    flipped = [
        check
        for check, status in hostile_verdicts.items()
        if status == Status.PASS and clean.get(check) != Status.PASS
    ]
    assert not flipped, f"pass on broken data: {flipped}"
    assert hostile_verdicts["isolation.privileged"] in (Status.FAIL, Status.UNKNOWN)


def pod_identities(inventory: Inventory) -> set[tuple[str, str, str]]:
    return {
        ("Pod", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        for pod in inventory.objects.get("pods", [])
    }


def test_it_holds_more_than_fifty_hostile_bundles() -> None:
    # Besides the ~20 hostile archives and directories of the test_it_refuses_* tests below.
    assert len(KIND_CASES) + len(OBJECT_CASES) >= 50


@pytest.mark.parametrize("case", KIND_CASES, ids=lambda case: case.id)
@pytest.mark.parametrize("packing", ["directory", "tar.gz", "zip"])
def test_it_leaves_a_malformed_kind_file_not_collected(
    tmp_path: Path, case: KindCase, packing: str, clean_verdicts: dict[str, Status]
) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.with_kind_case(case))
    source = {
        "directory": lambda: directory,
        "tar.gz": lambda: hostile_archives.tar_gz(directory, tmp_path / "bundle.tar.gz"),
        "zip": lambda: hostile_archives.zip_of(directory, tmp_path / "bundle.zip"),
    }[packing]()

    inventory = read_bundle(source)

    assert inventory.kind_status[case.key] == KindStatus.ERROR
    assert case.reason in inventory.kind_errors[case.key]
    assert case.key not in inventory.objects
    fields = finished_run_fields(inventory)
    assert fields["status"] == CollectionRun.Status.PARTIAL
    assert f"{case.key}: " in fields["last_error"]
    assert_never_a_false_pass(inventory, clean_verdicts)


@pytest.mark.parametrize("case", OBJECT_CASES, ids=lambda case: case.id)
def test_it_leaves_a_malformed_object_out_and_keeps_the_rest(
    tmp_path: Path, case: ObjectCase, clean_verdicts: dict[str, Status]
) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.with_object_case(case))

    inventory = read_bundle(directory)

    assert inventory.kind_status[case.key] == KindStatus.PARTIAL
    reason = inventory.kind_errors[case.key]
    assert case.reason in reason and reason.startswith("1 of "), reason
    assert PLANTED in pod_identities(inventory)  # the evidence in hand is never dropped
    assert finished_run_fields(inventory)["status"] == CollectionRun.Status.PARTIAL
    assert_never_a_false_pass(inventory, clean_verdicts)


@pytest.mark.parametrize("case", OBJECT_CASES, ids=lambda case: case.id)
def test_it_leaves_a_malformed_object_of_a_live_page_out(case: ObjectCase) -> None:
    files = hostile.with_object_case(case)
    objects = {
        name.removesuffix(".json"): body["items"]
        for name, body in files.items()
        if name != "version.json"
    }
    resources = [*CORE, *hostile_resources(case.key)]
    with FakeApiServer(objects) as server:
        inventory = _collect(server, resources)

    assert inventory.kind_status[case.key] == KindStatus.PARTIAL
    assert case.reason in inventory.kind_errors[case.key]
    assert PLANTED in pod_identities(inventory)


def hostile_resources(key: str) -> list[Any]:
    from clusters.resources import BY_KEY

    return [] if any(resource.key == key for resource in CORE) else [BY_KEY[key]]


def _collect(server: FakeApiServer, resources: list[Any]) -> Inventory:
    from clusters import kube

    return kube.collect(server.credentials(), resources=resources, page_size=2)


@pytest.mark.django_db
def test_it_judges_every_hostile_upload_as_a_partial_run(engineer, tmp_path: Path) -> None:
    """Through the cluster page's upload form and a real collection of each upload."""
    clean = hostile.write_bundle(tmp_path / "clean", hostile.clean_files())
    cluster = cluster_register(
        name="evidence", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=clean, collect=False
    )
    upload = reverse("cluster_upload", args=[cluster.name])
    every: list[KindCase | ObjectCase] = [*KIND_CASES, *OBJECT_CASES]
    for case in every:
        files = (
            hostile.with_kind_case(case)
            if isinstance(case, KindCase)
            else hostile.with_object_case(case)
        )
        directory = hostile.write_bundle(tmp_path / case.id, files)
        archive = hostile_archives.tar_gz(directory, tmp_path / f"{case.id}.tar.gz")

        response = engineer.post(
            upload, {"bundle": SimpleUploadedFile("evidence.tar.gz", archive.read_bytes())}
        )

        assert response.status_code == 302, case.id
        run = cluster.runs.latest("created_at")
        finished = collection_execute(run_id=run.pk)
        assert finished is not None, case.id
        assert finished.status == CollectionRun.Status.PARTIAL, case.id
        expected = KindStatus.ERROR if isinstance(case, KindCase) else KindStatus.PARTIAL
        assert finished.kind_status[case.key] == expected, case.id
        assert case.reason in finished.kind_errors[case.key], case.id
        assert "Traceback" not in finished.last_error


# --- Archives: refused before they expand, links never followed ------------------------------


def refused_quickly(source: Path, reason: str) -> tuple[float, int]:
    """read_bundle(source) refuses with `reason`; returns (seconds, peak bytes allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BundleError) as raised:
            read_bundle(source)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason in str(raised.value), str(raised.value)
    assert "\n" not in str(raised.value)
    assert elapsed < 1.0, f"{elapsed:.2f}s"
    assert peak < 32 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    return elapsed, peak


BOMBS = {
    "zip-1-gib": (lambda target: hostile_archives.zip_bomb(target), "refused before expanding"),
    "zip-10-times-1-gib": (
        lambda target: hostile_archives.zip_bomb(target, members=10),
        "refused before expanding",
    ),
    "tar-gz-1-gib": (
        lambda target: hostile_archives.tar_gz_bomb(target),
        "refused before expanding",
    ),
    "tar-gz-10-times-1-gib": (
        lambda target: hostile_archives.tar_gz_bomb(target, members=10),
        "refused before expanding",
    ),
    "gzip-of-zeros-not-a-tar": (
        lambda target: hostile_archives.gzip_of_zeros(target),
        "holds no kubectl JSON output",
    ),
}


@pytest.mark.parametrize("bomb", BOMBS, ids=BOMBS)
def test_it_refuses_a_bomb_at_once_in_flat_memory(tmp_path: Path, bomb: str) -> None:
    build, reason = BOMBS[bomb]
    archive = build(tmp_path / "bomb")

    elapsed, peak = refused_quickly(archive, reason)

    print(f"{bomb}: {archive.stat().st_size:,} bytes, {elapsed * 1000:.0f} ms, {peak / 1e6:.1f} MB")


def test_it_reads_no_more_than_a_lying_zip_header_declares(tmp_path: Path) -> None:
    """Headers say 1,000 bytes, the data inflates to 1 GiB: 1,000 bytes are read, not more."""
    archive = hostile_archives.zip_bomb(tmp_path / "liar.zip", declared=1000)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        inventory = read_bundle(archive)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert inventory.kind_status["pods"] == KindStatus.ERROR  # 1,000 zero bytes: not JSON
    assert "not valid JSON" in inventory.kind_errors["pods"]
    assert elapsed < 1.0 and peak < 32 * 1024 * 1024


def test_it_refuses_an_archive_with_too_many_entries(tmp_path: Path) -> None:
    entries = [hostile_archives.tar_entry(f"notes/{index}.txt") for index in range(2_001)]
    refused_quickly(
        hostile_archives.tar_with(tmp_path / "many.tar.gz", entries), "more than 2,000 entries"
    )


def test_it_refuses_an_archive_with_too_many_json_files(tmp_path: Path) -> None:
    entries = [hostile_archives.tar_entry(f"pods-{index}.json") for index in range(501)]
    refused_quickly(
        hostile_archives.tar_with(tmp_path / "many.tar.gz", entries), "more than 500 JSON"
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (hostile_archives.tar_entry("pods.json", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (hostile_archives.tar_entry("pods.json", tarfile.LNKTYPE, "/etc/passwd"), "is a link"),
        (hostile_archives.tar_entry("notes", tarfile.SYMTYPE, "../../.."), "is a link"),
        (hostile_archives.tar_entry("console", tarfile.CHRTYPE), "device or pipe"),
        (hostile_archives.tar_entry("disk", tarfile.BLKTYPE), "device or pipe"),
        (hostile_archives.tar_entry("pods.json", tarfile.FIFOTYPE), "device or pipe"),
    ],
    ids=["symlink", "hardlink", "symlink-to-a-directory", "char-device", "block-device", "fifo"],
)
def test_it_refuses_links_and_devices_in_a_tar(tmp_path: Path, entry: Any, reason: str) -> None:
    version = hostile_archives.tar_entry("version.json")
    refused_quickly(hostile_archives.tar_with(tmp_path / "links.tar.gz", [version, entry]), reason)


def test_it_refuses_a_symlink_in_a_zip(tmp_path: Path) -> None:
    refused_quickly(hostile_archives.zip_with_symlink(tmp_path / "link.zip"), "is a symbolic link")


def test_it_never_follows_a_symlink_out_of_a_bundle_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"kind": "PodList", "items": []}')
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.clean_files())
    (directory / "pods.json").unlink()
    (directory / "pods.json").symlink_to(outside)

    refused_quickly(directory, "is a symbolic link")


def test_it_never_follows_a_symlinked_directory_out_of_a_bundle(tmp_path: Path) -> None:
    elsewhere = hostile.write_bundle(tmp_path / "elsewhere", {"pods.json": {"kind": "PodList"}})
    directory = hostile.write_bundle(tmp_path / "bundle", {"version.json": {"gitVersion": "v1"}})
    (directory / "more").symlink_to(elsewhere, target_is_directory=True)

    refused_quickly(directory, "symbolic link to a directory")


def test_it_refuses_a_fifo_in_a_bundle_directory(tmp_path: Path) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", {"version.json": {"gitVersion": "v1"}})
    hostile_archives.fifo(directory / "pods.json")

    refused_quickly(directory, "not a regular file")


def test_it_refuses_a_truncated_archive_and_a_non_archive(tmp_path: Path) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.clean_files())
    archive = hostile_archives.tar_gz(directory, tmp_path / "bundle.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    text = tmp_path / "text.tar.gz"
    text.write_text("this is not an archive\n")

    refused_quickly(truncated, "truncated")
    refused_quickly(text, "not a .tar.gz/.zip")


@pytest.mark.django_db
def test_it_refuses_bombs_and_links_through_the_upload_form(engineer, tmp_path: Path) -> None:
    clean = hostile.write_bundle(tmp_path / "clean", hostile.clean_files())
    cluster = cluster_register(
        name="evidence", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=clean, collect=False
    )
    upload = reverse("cluster_upload", args=[cluster.name])
    archives = [
        (hostile_archives.zip_bomb(tmp_path / "bomb.zip", members=10), "evidence.zip"),
        (hostile_archives.tar_gz_bomb(tmp_path / "bomb.tar.gz"), "evidence.tar.gz"),
        (hostile_archives.zip_with_symlink(tmp_path / "link.zip"), "evidence.zip"),
    ]
    for archive, name in archives:
        started = time.perf_counter()
        response = engineer.post(
            upload, {"bundle": SimpleUploadedFile(name, archive.read_bytes())}, follow=True
        )
        elapsed = time.perf_counter() - started

        body = response.content.decode()
        assert "cannot be read" in body, archive.name
        assert elapsed < 3.0, f"{archive.name}: {elapsed:.1f}s"  # posting 10 MB included
    assert not cluster.runs.exists()


@pytest.mark.django_db
def test_it_refuses_a_symlinked_directory_bundle_on_registration(tmp_path: Path) -> None:
    directory = hostile.write_bundle(tmp_path / "bundle", hostile.clean_files())
    (directory / "nodes.json").unlink()
    (directory / "nodes.json").symlink_to("/etc/hostname")

    with pytest.raises(RegistrationError, match="symbolic link"):
        cluster_register(
            name="linked", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=directory
        )
    assert not Cluster.objects.exists()
