"""The release catalog: bundled data, version parsing, support status, CVE ranges and imports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from posture import release_catalog
from posture.release_catalog import (
    BUNDLED_PATH,
    CatalogError,
    SupportStatus,
    cves_affecting,
    get_catalog,
    import_catalog,
    latest_patch,
    load_catalog,
    minor_status,
    parse_version,
)

TODAY = date(2026, 8, 22)


@pytest.fixture(autouse=True)
def empty_data_dir(settings: Any, tmp_path: Path) -> Path:
    """No imported catalog unless a test writes one: DATA_DIR/catalog starts empty."""
    settings.DATA_DIR = tmp_path
    return tmp_path / "catalog"


def bundled_document() -> dict[str, Any]:
    return json.loads(BUNDLED_PATH.read_text(encoding="utf-8"))


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def cve_feed(*items: dict[str, str]) -> dict[str, Any]:
    """The shape of kubernetes.io's official-cve-feed/index.json (JSON Feed 1.1)."""
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Kubernetes Vulnerability Announcements - CVE Feed",
        "home_page_url": "https://kubernetes.io",
        "feed_url": "https://kubernetes.io/docs/reference/issues-security/official-cve-feed/index.json",
        "description": "Auto-refreshing official CVE feed for Kubernetes repository",
        "authors": [{"name": "Kubernetes Community", "url": "https://www.kubernetes.dev"}],
        "_kubernetes_io": {"feed_refresh_job": "https://testgrid.k8s.io", "updated_at": "2026-09"},
        "items": list(items),
    }


def feed_item(cve_id: str, issue: int, summary: str) -> dict[str, Any]:
    return {
        "id": cve_id,
        "url": f"https://github.com/kubernetes/kubernetes/issues/{issue}",
        "external_url": f"https://www.cve.org/cverecord?id={cve_id}",
        "summary": summary,
        "content_text": "### Affected Versions\n- kube-apiserver v1.29.0 - v1.29.3\n",
        "date_published": "2024-04-16T00:00:00Z",
        "status": "fixed",
        "_kubernetes_io": {"google_group_url": "https://groups.google.com/", "issue_number": issue},
    }


# --- the bundled file ------------------------------------------------------------------------


def test_it_bundles_a_valid_catalog_of_minors_1_24_to_1_36() -> None:
    catalog = load_catalog(BUNDLED_PATH)

    assert catalog.version == "2026.08.22"
    assert sorted(catalog.minors, key=lambda m: int(m.split(".")[1])) == [
        f"1.{minor}" for minor in range(24, 37)
    ]
    assert str(catalog.latest_patch("1.36")) == "1.36.4"
    assert str(catalog.latest_patch("1.24")) == "1.24.17"
    assert len(catalog.minors["1.31"].patches) == 15  # Appendix A lists 1.31.0 .. 1.31.14
    assert {"1.6", "1.7", "2.0", "2.1", "2.2", "2.3"} == set(catalog.runtimes["containerd"])


def test_it_names_its_sources_and_generation_date() -> None:
    document = bundled_document()

    assert document["generated_at"] == "2026-08-22"
    assert any("endoflife" in source["url"] for source in document["sources"])


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "upstream", "build", "provider"),
    [
        ("v1.30.5-gke.1014001", "1.30.5", "gke.1014001", "gke"),
        ("v1.29.3-eks-adc7111", "1.29.3", "eks-adc7111", "eks"),
        ("v1.28.9+k3s1", "1.28.9", "k3s1", "k3s"),
        ("v1.27.3+rke2r1", "1.27.3", "rke2r1", "rke2"),
        ("1.33.4-gke.1245000", "1.33.4", "gke.1245000", "gke"),
        ("v1.34.11", "1.34.11", "", ""),
        ("v1.31.0-rc.1", "1.31.0-rc.1", "", ""),
    ],
)
def test_it_parses_provider_builds_as_upstream_plus_a_tag(
    text: str, upstream: str, build: str, provider: str
) -> None:
    version = parse_version(text)

    assert version is not None
    assert (version.upstream, version.build, version.provider) == (upstream, build, provider)
    assert version.is_provider_build is bool(build)


def test_it_says_a_provider_may_have_backported_fixes() -> None:
    gke = parse_version("v1.30.5-gke.1014001")
    upstream = parse_version("v1.30.5")
    assert gke is not None and upstream is not None

    assert "backported" in gke.provider_note()
    assert upstream.provider_note() == ""
    assert gke.key == upstream.key  # judged as the same upstream patch


def test_it_orders_pre_releases_before_their_release() -> None:
    beta, release = parse_version("1.12.0-beta.0"), parse_version("1.12.0")
    assert beta is not None and release is not None

    assert beta.key < release.key


@pytest.mark.parametrize("text", ["", "latest", "v1.2.3abc", "containerd://1.7.1"])
def test_it_refuses_what_is_not_a_version(text: str) -> None:
    assert parse_version(text) is None


# --- support status, patches, CVEs --------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "today", "status"),
    [
        ("1.36", TODAY, SupportStatus.SUPPORTED),
        ("1.34", date(2026, 8, 26), SupportStatus.SUPPORTED),
        ("1.34", date(2026, 8, 27), SupportStatus.MAINTENANCE),
        ("1.34", date(2026, 10, 27), SupportStatus.EOL),
        ("1.29", TODAY, SupportStatus.EOL),
        ("1.19", TODAY, SupportStatus.EOL),  # older than the oldest catalogued, dead, minor
        ("1.37", TODAY, SupportStatus.UNKNOWN),  # newer than the catalog: refresh it
    ],
)
def test_it_knows_each_minors_support_status(
    minor: str, today: date, status: SupportStatus
) -> None:
    assert minor_status(minor, today) == status


def test_it_gives_the_latest_patch_per_minor() -> None:
    assert str(latest_patch("1.33")) == "1.33.13"
    assert latest_patch("1.40") is None


def test_it_finds_cves_by_component_and_version() -> None:
    assert [c.id for c in cves_affecting("apiserver", "v1.29.3")] == [
        "CVE-2024-3177",
        "CVE-2025-5187",
    ]
    assert cves_affecting("apiserver", "v1.29.4-gke.1043002")[0].id == "CVE-2025-5187"
    assert cves_affecting("apiserver", "v1.36.4") == []


def test_it_treats_minors_before_the_first_affected_release_as_safe() -> None:
    # CVE-2025-4563 only exists from 1.32.0 on: 1.31 never had it.
    ids = {c.id for c in cves_affecting("apiserver", "v1.31.14")}
    assert "CVE-2025-4563" not in ids
    assert "CVE-2025-4563" in {c.id for c in cves_affecting("apiserver", "v1.32.5")}


def test_it_keeps_windows_only_kubelet_cves_off_linux_nodes() -> None:
    version = parse_version("v1.32.0")
    assert version is not None
    catalog = get_catalog()

    linux = {c.id for c in catalog.cves_affecting("kubelet", version, platform="linux")}
    windows = {c.id for c in catalog.cves_affecting("kubelet", version, platform="windows")}

    assert "CVE-2024-9042" not in linux
    assert {"CVE-2024-9042", "CVE-2025-0426"} <= windows


def test_it_leaves_design_cves_without_a_fix_out_unless_asked() -> None:
    version = parse_version("v1.36.4")
    assert version is not None
    catalog = get_catalog()

    assert catalog.cves_affecting("apiserver", version) == []
    unfixable = catalog.cves_affecting("apiserver", version, include_unfixable=True)
    assert "CVE-2020-8554" in {c.id for c in unfixable}


def test_it_matches_ingress_nginx_and_runc_ranges() -> None:
    nightmare = {c.id for c in cves_affecting("ingress-nginx", "v1.12.0-beta.0")}
    assert "CVE-2025-1974" in nightmare
    assert "CVE-2025-1974" not in {c.id for c in cves_affecting("ingress-nginx", "v1.12.1")}
    assert [c.id for c in cves_affecting("runc", "1.1.11")] == ["CVE-2024-21626"]
    assert cves_affecting("runc", "1.1.12") == []


# --- validation and loading -------------------------------------------------------------------


def test_it_rejects_a_fixed_patch_on_the_wrong_minor(tmp_path: Path) -> None:
    document = bundled_document()
    document["cves"][0]["fixed"] = {"1.7": "1.8.9"}

    with pytest.raises(CatalogError, match="another minor"):
        load_catalog(write_json(tmp_path / "bad.json", document))


def test_it_prefers_a_newer_imported_catalog(empty_data_dir: Path) -> None:
    document = bundled_document()
    document["catalog_version"] = "2026.09.30"
    document["kubernetes"]["minors"]["1.36"]["latest_patch"] = "1.36.5"
    document["kubernetes"]["minors"]["1.36"]["patches"] = {"1.36.5": "2026-09-16"}
    write_json(empty_data_dir / "kubernetes.json", document)

    assert get_catalog().version == "2026.09.30"
    assert str(latest_patch("1.36")) == "1.36.5"


def test_it_keeps_the_bundled_catalog_over_an_older_import(empty_data_dir: Path) -> None:
    document = bundled_document()
    document["catalog_version"] = "2026.01.01"
    write_json(empty_data_dir / "kubernetes.json", document)

    assert get_catalog().version == "2026.08.22"


def test_it_falls_back_to_the_bundled_catalog_when_the_import_is_damaged(
    empty_data_dir: Path,
) -> None:
    empty_data_dir.mkdir(parents=True)
    (empty_data_dir / "kubernetes.json").write_text("{not json", encoding="utf-8")

    assert get_catalog().version == "2026.08.22"


# --- importing --------------------------------------------------------------------------------


def test_it_merges_the_official_cve_feed_into_the_catalog(
    tmp_path: Path, empty_data_dir: Path
) -> None:
    feed = write_json(
        tmp_path / "index.json",
        cve_feed(
            feed_item("CVE-2024-3177", 124336, "Bypassing mountable secrets policy"),
            feed_item("CVE-2026-99999", 140001, "A brand new apiserver issue"),
            {"id": "not-a-cve", "summary": "ignored"},
        ),
    )

    summary = import_catalog(feed, empty_data_dir, today=date(2026, 9, 1))

    assert summary.source == "cve-feed"
    assert (summary.cves_added, summary.cves_updated) == (1, 1)
    assert summary.catalog_version == "2026.09.01"
    assert summary.written_to == empty_data_dir / "kubernetes.json"
    catalog = get_catalog()
    assert catalog.version == "2026.09.01"
    known = next(c for c in catalog.cves if c.id == "CVE-2024-3177")
    assert "https://github.com/kubernetes/kubernetes/issues/124336" in known.urls
    assert known.fixed["1.29"].upstream == "1.29.4"  # ranges still come from our table
    new = next(c for c in catalog.cves if c.id == "CVE-2026-99999")
    assert (new.ranges_known, new.summary) == (False, "A brand new apiserver issue")
    # Without ranges the new id is listed, never guessed onto a version.
    assert "CVE-2026-99999" not in {c.id for c in cves_affecting("apiserver", "v1.29.0")}


def test_it_writes_nothing_when_the_feed_adds_nothing(tmp_path: Path, empty_data_dir: Path) -> None:
    feed = write_json(tmp_path / "index.json", cve_feed(feed_item("CVE-2024-3177", 124336, "x")))
    import_catalog(feed, empty_data_dir, today=date(2026, 9, 1))

    again = import_catalog(feed, empty_data_dir, today=date(2026, 9, 2))

    assert again.written_to is None
    assert again.catalog_version == "2026.09.01"


def test_it_bumps_the_version_past_a_same_day_catalog(tmp_path: Path, empty_data_dir: Path) -> None:
    feed = write_json(tmp_path / "index.json", cve_feed(feed_item("CVE-2024-3177", 1, "x")))

    summary = import_catalog(feed, empty_data_dir, today=date(2026, 8, 22))

    assert summary.catalog_version == "2026.08.22.1"
    assert get_catalog().version == "2026.08.22.1"


def test_it_imports_a_newer_rampart_catalog_and_refuses_an_older_one(
    tmp_path: Path, empty_data_dir: Path
) -> None:
    older = bundled_document()
    older["catalog_version"] = "2025.12.01"
    refused = import_catalog(write_json(tmp_path / "old.json", older), empty_data_dir)
    assert refused.written_to is None
    assert "not newer" in refused.message

    newer = bundled_document()
    newer["catalog_version"] = "2026.10.01"
    accepted = import_catalog(write_json(tmp_path / "new.json", newer), empty_data_dir)

    assert accepted.source == "catalog"
    assert accepted.written_to == empty_data_dir / "kubernetes.json"
    assert get_catalog().version == "2026.10.01"


def test_it_refuses_files_that_are_neither_catalog_nor_feed(
    tmp_path: Path, empty_data_dir: Path
) -> None:
    with pytest.raises(CatalogError, match="neither"):
        import_catalog(write_json(tmp_path / "x.json", {"items": []}), empty_data_dir)
    assert not (empty_data_dir / "kubernetes.json").exists()


def test_it_refuses_an_invalid_catalog_without_writing(
    tmp_path: Path, empty_data_dir: Path
) -> None:
    document = bundled_document()
    document["catalog_version"] = "2027.01.01"
    document["cves"][0]["severity"] = "catastrophic"

    with pytest.raises(CatalogError, match="severity"):
        import_catalog(write_json(tmp_path / "bad.json", document), empty_data_dir)
    assert not (empty_data_dir / "kubernetes.json").exists()


def test_it_reloads_a_catalog_replaced_by_another_process(empty_data_dir: Path) -> None:
    document = bundled_document()
    document["catalog_version"] = "2026.09.01"
    path = write_json(empty_data_dir / "kubernetes.json", document)
    assert get_catalog().version == "2026.09.01"

    document["catalog_version"] = "2026.09.02"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")  # new size and mtime

    assert get_catalog().version == "2026.09.02"
    assert release_catalog.default_data_dir() == empty_data_dir
