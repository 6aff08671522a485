"""Patching checks: control plane, kubelets, runtimes and add-ons judged against the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clusters.inventory import JSON, Inventory, KindStatus
from posture.checks.base import REGISTRY, CheckContext, Outcome, Severity, Status, run_check
from posture.workloads import WORKLOAD_NEEDS

TODAY = date(2026, 8, 22)


@pytest.fixture(autouse=True)
def bundled_catalog_only(settings: Any, tmp_path: Path) -> None:
    """Judge against the bundled catalog, whatever a developer imported into var/."""
    settings.DATA_DIR = tmp_path


def node(
    name: str,
    kubelet: str = "v1.34.11",
    *,
    runtime: str = "containerd://2.0.11",
    os_image: str = "Container-Optimized OS from Google",
    kernel: str = "6.6.87+",
    platform: str = "linux",
) -> JSON:
    return {
        "metadata": {"name": name},
        "status": {
            "nodeInfo": {
                "kubeletVersion": kubelet,
                "containerRuntimeVersion": runtime,
                "osImage": os_image,
                "kernelVersion": kernel,
                "operatingSystem": platform,
            }
        },
    }


def deployment(namespace: str, name: str, image: str) -> list[tuple[str, JSON]]:
    """A Deployment, its ReplicaSet and one running Pod, as the API lists them."""
    container = {"name": "main", "image": image}
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    rs_name = f"{name}-6d4cf56db6"
    return [
        (
            "deployments",
            {"metadata": {"namespace": namespace, "name": name}, "spec": {"template": template}},
        ),
        (
            "replicasets",
            {
                "metadata": {
                    "namespace": namespace,
                    "name": rs_name,
                    "ownerReferences": [{"kind": "Deployment", "name": name, "controller": True}],
                },
                "spec": {"template": template},
            },
        ),
        (
            "pods",
            {
                "metadata": {
                    "namespace": namespace,
                    "name": f"{rs_name}-x7k2p",
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": rs_name, "controller": True}
                    ],
                },
                "spec": {"containers": [container]},
            },
        ),
    ]


def daemonset(namespace: str, name: str, image: str) -> list[tuple[str, JSON]]:
    template = {"spec": {"containers": [{"name": name, "image": image}]}}
    return [
        (
            "daemonsets",
            {"metadata": {"namespace": namespace, "name": name}, "spec": {"template": template}},
        )
    ]


def cluster(
    version: str | None = "v1.34.11",
    *,
    nodes: list[JSON] | None = None,
    objects: Iterable[tuple[str, JSON]] = (),
) -> Inventory:
    listed = list(objects)
    inventory = Inventory(version={"gitVersion": version} if version else None)
    inventory.set_objects("nodes", nodes if nodes is not None else [node("n1")])
    for key in WORKLOAD_NEEDS:
        inventory.set_objects(key, [obj for k, obj in listed if k == key])
    return inventory


def run(check_id: str, inventory: Inventory, today: date = TODAY) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext(today=today)).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]


# --- control plane ----------------------------------------------------------------------------


def test_it_passes_a_supported_control_plane() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.36.4"))

    assert outcome.status == Status.PASS
    assert "2027-06-28" in outcome.summary


def test_it_passes_a_minor_in_maintenance_but_says_to_plan() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.34.11"), today=date(2026, 9, 1))

    assert outcome.status == Status.PASS
    assert "maintenance mode" in outcome.summary
    assert "plan the upgrade" in outcome.summary


def test_it_fails_an_end_of_life_control_plane() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.29.15"))

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Cluster", "", "control-plane")]
    assert "reached end of life on 2025-02-28" in outcome.affected[0].detail
    assert REGISTRY["patching.control_plane_eol"].severity == Severity.HIGH


def test_it_calls_out_an_unfixed_critical_cve_on_an_eol_minor() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.12.2"))

    assert outcome.status == Status.FAIL
    assert "critical: unfixed critical CVE CVE-2018-1002105" in outcome.affected[0].detail


def test_it_notes_provider_backports_on_a_provider_build() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.30.5-gke.1014001"))

    assert outcome.status == Status.FAIL
    assert "gke build of upstream 1.30.5" in outcome.summary
    assert "backported" in outcome.summary


def test_it_is_unknown_for_a_minor_newer_than_the_catalog() -> None:
    outcome = run("patching.control_plane_eol", cluster("v1.37.0"))

    assert outcome.status == Status.UNKNOWN
    assert "refresh the catalog" in outcome.summary


def test_it_is_unknown_without_or_with_an_unreadable_version() -> None:
    assert run("patching.control_plane_eol", cluster(None)).status == Status.UNKNOWN
    unreadable = run("patching.control_plane_patch", cluster("banana"))
    assert unreadable.status == Status.UNKNOWN
    assert "banana" in unreadable.summary


def test_it_counts_patches_behind_the_latest_of_the_minor() -> None:
    outcome = run("patching.control_plane_patch", cluster("v1.34.2"))

    assert outcome.status == Status.FAIL
    detail = outcome.affected[0].detail
    assert detail.startswith("v1.34.2: 9 patches behind 1.34.11")
    assert "since 2025-12-09" in detail  # 1.34.3, the first fix missed


def test_it_passes_the_latest_patch() -> None:
    assert run("patching.control_plane_patch", cluster("v1.34.11")).status == Status.PASS


def test_it_lists_control_plane_cves_one_finding_each() -> None:
    outcome = run("patching.control_plane_cves", cluster("v1.29.3"))

    assert outcome.status == Status.FAIL
    assert {a.name for a in outcome.affected} == {"control-plane"}
    assert "CVE-2024-3177" in outcome.summary
    assert any(
        "CVE-2024-3177 (low, apiserver)" in a.detail and "fixed in 1.29.4" in a.detail
        for a in outcome.affected
    )


def test_it_says_when_a_cve_has_no_fix_on_the_running_minor() -> None:
    outcome = run("patching.control_plane_cves", cluster("v1.29.15"))

    details = {a.detail.split(" ")[1]: a.detail for a in outcome.affected}
    assert set(details) == {"CVE-2025-5187", "CVE-2025-13281"}
    assert details["CVE-2025-5187"].endswith("no fix on 1.29: fixed in 1.31.12, 1.32.8, 1.33.4")


def test_it_passes_control_plane_cves_on_a_current_patch() -> None:
    assert run("patching.control_plane_cves", cluster("v1.36.4")).status == Status.PASS


# --- kubelets ---------------------------------------------------------------------------------


def test_it_fails_kubelets_newer_or_too_old_for_the_api_server() -> None:
    inventory = cluster(
        "v1.34.11",
        nodes=[node("new", "v1.35.0"), node("ok", "v1.31.14"), node("old", "v1.30.14")],
    )

    outcome = run("patching.kubelet_skew", inventory)

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Node", "", "new"), ("Node", "", "old")]
    details = {a.name: a.detail for a in outcome.affected}
    assert details["new"] == "kubelet v1.35.0: newer than the API server v1.34.11"
    assert "4 minors older" in details["old"] and "at most 3" in details["old"]


def test_it_allows_only_two_minors_of_skew_before_1_25() -> None:
    inventory = cluster("v1.24.17", nodes=[node("a", "v1.22.17"), node("b", "v1.21.14")])

    outcome = run("patching.kubelet_skew", inventory)

    assert names(outcome) == [("Node", "", "b")]


def test_it_is_unknown_when_nodes_were_not_collected() -> None:
    inventory = cluster("v1.34.11")
    inventory.set_missing("nodes", KindStatus.FORBIDDEN, "nodes is forbidden")

    outcome = run("patching.kubelet_skew", inventory)

    assert outcome.status == Status.UNKNOWN
    assert "nodes forbidden" in outcome.summary


def test_it_fails_nodes_on_eol_minors_or_behind_their_patch() -> None:
    inventory = cluster(
        nodes=[
            node("eol", "v1.28.15"),
            node("behind", "v1.33.4-gke.1245000"),
            node("current", "v1.34.11"),
        ]
    )

    outcome = run("patching.kubelet_behind", inventory)

    details = {a.name: a.detail for a in outcome.affected}
    assert set(details) == {"eol", "behind"}
    assert details["eol"] == "kubelet v1.28.15: 1.28 end of life since 2024-10-28"
    assert details["behind"].startswith("kubelet v1.33.4-gke.1245000: 1.33 end of life")
    assert "9 patches behind 1.33.13" in details["behind"]
    assert "gke build: may carry backports" in details["behind"]


def test_it_is_unknown_when_no_kubelet_version_can_be_read() -> None:
    inventory = cluster(nodes=[node("a", ""), node("b", "v1.99.0")])

    assert run("patching.kubelet_behind", inventory).status == Status.UNKNOWN


def test_it_says_which_nodes_were_not_judged() -> None:
    inventory = cluster(nodes=[node("a", "v1.36.4"), node("b", "")])

    outcome = run("patching.kubelet_behind", inventory)

    assert outcome.status == Status.PASS
    assert "1 nodes not judged" in outcome.summary


def test_it_matches_windows_only_kubelet_cves_to_windows_nodes() -> None:
    inventory = cluster(
        nodes=[node("linux", "v1.32.0"), node("windows", "v1.32.0", platform="windows")]
    )

    outcome = run("patching.kubelet_cves", inventory)

    details = {a.name: a.detail for a in outcome.affected}
    assert details["linux"] == "kubelet v1.32.0: CVE-2025-0426 (medium); fixed in 1.32.2"
    assert "CVE-2024-9042" in details["windows"]
    assert details["linux"].startswith("kubelet v1.32.0: ")


def test_it_passes_kubelet_cves_on_current_nodes() -> None:
    assert run("patching.kubelet_cves", cluster(nodes=[node("a", "v1.36.4")])).status == Status.PASS


# --- runtimes and node images -----------------------------------------------------------------


def test_it_fails_end_of_life_containerd_lines() -> None:
    inventory = cluster(
        nodes=[
            node("old", runtime="containerd://1.6.20"),
            node("ancient", runtime="containerd://1.5.9"),
            node("lts", runtime="containerd://1.7.34"),
        ]
    )

    outcome = run("patching.runtime_eol", inventory)

    assert {a.name for a in outcome.affected} == {"old", "ancient"}
    assert "containerd 1.6.20: line 1.6 end of life since 2025-08-23" in {
        a.detail for a in outcome.affected
    }
    # 1.7 is LTS until 2026-09-01.
    later = run("patching.runtime_eol", inventory, today=date(2026, 9, 2))
    assert "lts" in {a.name for a in later.affected}


def test_it_is_unknown_when_no_node_runs_containerd() -> None:
    inventory = cluster(nodes=[node("a", runtime="cri-o://1.30.4")])

    assert run("patching.runtime_eol", inventory).status == Status.UNKNOWN


def test_it_fails_containerd_behind_its_latest_patch() -> None:
    inventory = cluster(
        nodes=[node("a", runtime="containerd://2.0.5"), node("b", runtime="containerd://2.0.11")]
    )

    outcome = run("patching.runtime_patch", inventory)

    assert [(a.name, a.detail) for a in outcome.affected] == [
        ("a", "containerd 2.0.5: 6 patches behind 2.0.11")
    ]


def test_it_flags_nodes_that_differ_from_the_fleet() -> None:
    inventory = cluster(
        nodes=[
            node("a", "v1.34.11", kernel="6.6.87+"),
            node("b", "v1.34.11", kernel="6.6.87+"),
            node("c", "v1.34.9", kernel="6.1.100+"),
            node("win", "v1.34.11", os_image="Windows Server 2022", platform="windows"),
        ]
    )

    outcome = run("patching.mixed_node_images", inventory)

    assert outcome.status == Status.FAIL
    assert [(a.name, a.detail) for a in outcome.affected] == [
        ("c", "kubelet v1.34.9 (other nodes: v1.34.11); kernel 6.1.100+ (other nodes: 6.6.87+)")
    ]
    assert REGISTRY["patching.mixed_node_images"].severity == Severity.LOW


def test_it_passes_a_uniform_fleet() -> None:
    inventory = cluster(nodes=[node("a"), node("b")])

    assert run("patching.mixed_node_images", inventory).status == Status.PASS


# --- add-ons ----------------------------------------------------------------------------------


def test_it_fails_ingress_nightmare_on_the_owning_deployment() -> None:
    image = "registry.k8s.io/ingress-nginx/controller:v1.11.2@sha256:" + "d" * 64
    inventory = cluster(objects=deployment("ingress-nginx", "ingress-nginx-controller", image))

    outcome = run("patching.ingress_nginx_cves", inventory)

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Deployment", "ingress-nginx", "ingress-nginx-controller")]
    assert "CVE-2025-1974 (critical)" in outcome.affected[0].detail
    # IngressNightmare has a 1.11 fix; the 2026 CVEs only exist fixed on 1.13 and 1.14.
    assert "upgrade to a newer minor (CVE-2026-24512" in outcome.affected[0].detail


def test_it_passes_a_fixed_ingress_nginx_and_skips_clusters_without_one() -> None:
    fixed = cluster(
        objects=deployment("ingress", "ctl", "registry.k8s.io/ingress-nginx/controller:v1.14.3")
    )
    assert run("patching.ingress_nginx_cves", fixed).status == Status.PASS
    none = cluster(objects=deployment("web", "shop", "nginx:1.27"))
    assert run("patching.ingress_nginx_cves", none).status == Status.NOT_APPLICABLE


def test_it_is_unknown_when_the_controller_version_is_only_a_digest() -> None:
    image = "registry.k8s.io/ingress-nginx/controller@sha256:" + "e" * 64
    inventory = cluster(objects=deployment("ingress", "ctl", image))

    assert run("patching.ingress_nginx_cves", inventory).status == Status.UNKNOWN


def test_it_is_unknown_when_workloads_were_not_collected() -> None:
    inventory = cluster()
    inventory.set_missing("pods", KindStatus.NOT_COLLECTED, "no pods.json in the bundle")

    assert run("patching.ingress_nginx_cves", inventory).status == Status.UNKNOWN


def test_it_fails_kube_proxy_newer_than_the_api_server() -> None:
    inventory = cluster(
        "v1.34.11",
        objects=daemonset("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.35.0"),
    )

    outcome = run("patching.kube_proxy_skew", inventory)

    assert names(outcome) == [("DaemonSet", "kube-system", "kube-proxy")]
    assert "newer than the API server" in outcome.affected[0].detail


def test_it_passes_kube_proxy_within_skew_and_skips_clusters_without_it() -> None:
    within = cluster(
        "v1.34.11",
        objects=daemonset("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.33.13"),
    )
    assert run("patching.kube_proxy_skew", within).status == Status.PASS
    assert run("patching.kube_proxy_skew", cluster()).status == Status.NOT_APPLICABLE
