"""Supply-chain checks: tags, digests, registries, miners, admission control and scan reports."""

from __future__ import annotations

import pytest

from clusters.inventory import KindStatus
from posture.checks.base import REGISTRY, CheckContext, Severity, Status
from posture.checks.image_refs import parse_image
from posture.tests.supply_chain_factories import (
    DIGEST,
    cluster,
    container,
    deployment,
    names,
    run,
)

# --- image references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "name", "tag", "digest"),
    [
        ("nginx", "docker.io/library/nginx", "", ""),
        ("nginx:1.27", "docker.io/library/nginx", "1.27", ""),
        ("acme/app:latest", "docker.io/acme/app", "latest", ""),
        ("index.docker.io/library/redis:7", "docker.io/library/redis", "7", ""),
        ("localhost:5000/app:1", "localhost:5000/app", "1", ""),
        ("gcr.io/acme/api@" + DIGEST, "gcr.io/acme/api", "", DIGEST),
        ("registry.k8s.io/pause:3.10@" + DIGEST, "registry.k8s.io/pause", "3.10", DIGEST),
    ],
)
def test_it_normalises_image_references(image: str, name: str, tag: str, digest: str) -> None:
    ref = parse_image(image)

    assert (ref.name, ref.tag, ref.digest) == (name, tag, digest)


# --- tags, digests, pull policy ---------------------------------------------------------------


def test_it_fails_mutable_tags_on_the_owning_deployment() -> None:
    inventory = cluster(
        deployment("web", "frontend", container("web", "nginx"), container("side", "envoy:v1.31")),
        deployment("web", "api", container("api", "acme/api:latest")),
    )

    outcome = run("supply_chain.mutable_tags", inventory)

    assert outcome.status == Status.FAIL
    assert names(outcome) == [("Deployment", "web", "api"), ("Deployment", "web", "frontend")]
    assert {a.detail for a in outcome.affected} == {
        "container web: image nginx has no tag",
        "container api: image acme/api:latest uses :latest",
    }


def test_it_passes_fixed_tags_and_digests() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx@" + DIGEST)))

    assert run("supply_chain.mutable_tags", inventory).status == Status.PASS
    assert run("supply_chain.digest_pinning", inventory).status == Status.PASS


def test_it_still_fails_a_template_when_pods_were_not_collected_and_says_so() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx")))
    inventory.set_missing("pods", KindStatus.FORBIDDEN, "pods is forbidden")

    outcome = run("supply_chain.mutable_tags", inventory)

    # The template in hand runs a mutable tag whatever the pods say: evidence is never hidden.
    assert outcome.status == Status.FAIL
    assert {(a.kind, a.namespace) for a in outcome.affected} == {("Deployment", "web")}
    assert "pods forbidden" in outcome.summary
    assert outcome.missing == ("pods",)


def test_it_is_unknown_when_pods_were_not_collected_and_nothing_else_fails() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx@" + DIGEST)))
    inventory.set_missing("pods", KindStatus.FORBIDDEN, "pods is forbidden")

    outcome = run("supply_chain.mutable_tags", inventory)

    assert outcome.status == Status.UNKNOWN
    assert "pods forbidden" in outcome.summary


def test_it_fails_images_not_pinned_by_digest() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx:1.27")))

    outcome = run("supply_chain.digest_pinning", inventory)

    assert names(outcome) == [("Deployment", "web", "frontend")]
    assert REGISTRY["supply_chain.digest_pinning"].severity == Severity.LOW


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,  # upper case: not the OCI encoding
        "sha256:" + "a" * 63,  # a digit short
        "sha256:" + "a" * 65,
        "sha512:" + "a" * 32,  # sha512 is 128 hex
        "sha256:" + "g" * 64,  # not hex
        "md5:" + "a" * 32,  # not a registered algorithm
        "sha256:",
    ],
)
def test_it_does_not_count_a_malformed_digest_as_pinned(digest: str) -> None:
    inventory = cluster(deployment("web", "frontend", container("web", f"nginx@{digest}")))

    assert run("supply_chain.digest_pinning", inventory).status == Status.FAIL
    assert run("supply_chain.mutable_tags", inventory).status == Status.FAIL


@pytest.mark.parametrize("digest", ["sha256:" + "0f" * 32, "sha512:" + "ab" * 64])
def test_it_counts_an_oci_digest_as_pinned(digest: str) -> None:
    inventory = cluster(deployment("web", "frontend", container("web", f"nginx:1.27@{digest}")))

    assert run("supply_chain.digest_pinning", inventory).status == Status.PASS
    assert run("supply_chain.mutable_tags", inventory).status == Status.PASS


def test_it_fails_latest_without_pull_policy_always() -> None:
    inventory = cluster(
        deployment(
            "web", "cached", container("web", "nginx:latest", imagePullPolicy="IfNotPresent")
        ),
        deployment("web", "defaulted", container("web", "nginx:latest")),
        deployment("web", "always", container("web", "nginx", imagePullPolicy="Always")),
    )

    outcome = run("supply_chain.pull_policy_latest", inventory)

    assert names(outcome) == [("Deployment", "web", "cached")]
    assert "imagePullPolicy IfNotPresent" in outcome.affected[0].detail


# --- registries -------------------------------------------------------------------------------


def test_it_is_not_applicable_without_an_allow_list() -> None:
    inventory = cluster(deployment("web", "frontend", container("web", "nginx:1.27")))

    assert run("supply_chain.allowed_registries", inventory).status == Status.NOT_APPLICABLE


def test_it_fails_images_from_registries_off_the_allow_list() -> None:
    inventory = cluster(
        deployment("web", "hub", container("web", "nginx:1.27")),
        deployment("web", "ours", container("api", "gcr.io/acme/api:2.1")),
        deployment("web", "lookalike", container("api", "gcr.io/acmex/api:2.1")),
        deployment("web", "quay", container("api", "quay.io/evil/api:2.1")),
    )
    context = CheckContext(allowed_registries=("docker.io/library", "gcr.io/acme/"))

    outcome = run("supply_chain.allowed_registries", inventory, context)

    assert names(outcome) == [("Deployment", "web", "lookalike"), ("Deployment", "web", "quay")]
    assert "from quay.io is not in the allow-list" in outcome.affected[1].detail


def test_it_accepts_docker_hub_aliases_and_wildcard_hosts() -> None:
    inventory = cluster(
        deployment("web", "hub", container("web", "nginx:1.27")),
        deployment("web", "ar", container("api", "europe-docker.pkg.dev/acme/app/api:1")),
    )
    context = CheckContext(allowed_registries=("index.docker.io/library", "*.pkg.dev"))

    assert run("supply_chain.allowed_registries", inventory, context).status == Status.PASS


# --- crypto-miners ----------------------------------------------------------------------------


def test_it_fails_a_known_miner_image_as_critical() -> None:
    inventory = cluster(
        deployment("default", "system-monitor", container("monitor", "metal3d/xmrig:latest"))
    )

    outcome = run("supply_chain.miner_images", inventory)

    assert names(outcome) == [("Deployment", "default", "system-monitor")]
    assert "miner image name 'xmrig'" in outcome.affected[0].detail
    assert REGISTRY["supply_chain.miner_images"].severity == Severity.CRITICAL


def test_it_fails_a_stratum_url_or_pool_host_in_an_innocent_image() -> None:
    stratum = container("worker", "alpine:3.20", args=["-o", "stratum+tcp://198.51.100.7:3333"])
    pool = container(
        "worker", "busybox:1.36", env=[{"name": "POOL", "value": "xmr-eu1.nanopool.org:14444"}]
    )
    inventory = cluster(deployment("batch", "a", stratum), deployment("batch", "b", pool))

    outcome = run("supply_chain.miner_images", inventory)

    assert [a.name for a in outcome.affected] == ["a", "b"]
    assert "stratum mining-pool URL" in outcome.affected[0].detail
    assert "mining pool host xmr-eu1.nanopool.org" in outcome.affected[1].detail


def test_it_combines_weak_signals_but_never_fires_on_ports_alone() -> None:
    ports_only = container(
        "web", "acme/web:1.0", ports=[{"containerPort": 8080}, {"containerPort": 3333}]
    )
    flag_and_port = container(
        "x", "acme/tool:1.0", args=["--donate-level=1"], ports=[{"containerPort": 3333}]
    )
    inventory = cluster(
        deployment("web", "site", ports_only), deployment("web", "tool", flag_and_port)
    )

    outcome = run("supply_chain.miner_images", inventory)

    assert names(outcome) == [("Deployment", "web", "tool")]
    assert "miner option '--donate-level'" in outcome.affected[0].detail


def test_it_passes_ordinary_workloads() -> None:
    inventory = cluster(
        deployment("web", "shop", container("web", "nginx:1.27", ports=[{"containerPort": 8080}]))
    )

    assert run("supply_chain.miner_images", inventory).status == Status.PASS
