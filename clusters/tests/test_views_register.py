import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_credentials
from clusters.tests.factories import TOKEN, bundle_bytes, kubeconfig, make_cluster

pytestmark = pytest.mark.django_db
REGISTER = reverse("cluster_register")


def form(**fields):
    return {
        "name": "prod-eu",
        "environment": "Production",
        "description": "Shop, EU region",
        "owners": "platform@example.com, SRE@example.com",
        "source_kind": "kubeconfig",
        "kubeconfig": kubeconfig(),
        "context": "",
        **fields,
    }


def test_it_registers_a_cluster_from_a_pasted_kubeconfig(engineer):
    response = engineer.post(REGISTER, form())

    cluster = Cluster.objects.get(name="prod-eu")
    assert response.status_code == 302
    assert response["Location"] == cluster.get_absolute_url()
    assert cluster.environment == "production"
    assert cluster.api_server == "https://kube.example.com:6443"
    assert sorted(cluster.owners.values_list("email", flat=True)) == [
        "platform@example.com",
        "sre@example.com",
    ]
    assert TOKEN.encode() not in bytes(cluster.credentials)
    assert cluster_credentials(cluster).token == TOKEN
    assert cluster.runs.get().trigger == CollectionRun.Trigger.REGISTRATION
    assert cluster.created_by == engineer.user


def test_it_registers_a_cluster_from_a_kubeconfig_file(engineer):
    upload = SimpleUploadedFile("config", kubeconfig().encode())

    response = engineer.post(REGISTER, form(kubeconfig="", kubeconfig_file=upload))

    assert response.status_code == 302
    assert cluster_credentials(Cluster.objects.get(name="prod-eu")).token == TOKEN


def test_it_registers_an_air_gapped_cluster_from_a_bundle(engineer):
    upload = SimpleUploadedFile("evidence.tar.gz", bundle_bytes())

    response = engineer.post(REGISTER, form(source_kind="bundle", kubeconfig="", bundle=upload))

    cluster = Cluster.objects.get(name="prod-eu")
    assert response.status_code == 302
    assert cluster.source_kind == Cluster.SourceKind.BUNDLE
    assert bytes(cluster.credentials) == b""
    assert (cluster.runs.get().bundle.name or "").endswith(".tar.gz")


def test_it_registers_the_cluster_rampart_runs_in(engineer):
    response = engineer.post(REGISTER, form(source_kind="in_cluster", kubeconfig=""))

    assert response.status_code == 302
    assert Cluster.objects.get(name="prod-eu").source_kind == Cluster.SourceKind.IN_CLUSTER


def test_it_ignores_a_kubeconfig_sent_with_another_source(engineer):
    engineer.post(REGISTER, form(source_kind="in_cluster"))

    assert bytes(Cluster.objects.get(name="prod-eu").credentials) == b""


def test_it_shows_why_a_registration_was_refused(engineer):
    make_cluster("prod-eu")

    response = engineer.post(REGISTER, form())

    body = response.content.decode()
    assert response.status_code == 200
    assert "already registered" in body
    assert Cluster.objects.count() == 1


def test_it_never_echoes_the_kubeconfig_back(engineer):
    make_cluster("prod-eu")

    body = engineer.post(REGISTER, form()).content.decode()

    assert TOKEN not in body
    assert "Shop, EU region" in body  # harmless fields are kept for the next attempt


def test_it_refuses_a_kubeconfig_that_would_run_a_command(engineer):
    with_exec = kubeconfig().replace(
        f"    token: {TOKEN}\n",
        f"    exec:\n      command: /bin/steal\n      args: ['{TOKEN}']\n",
    )

    response = engineer.post(REGISTER, form(kubeconfig=with_exec))

    body = response.content.decode()
    assert "runs a command" in body
    assert TOKEN not in body
    assert not Cluster.objects.exists()


def test_it_never_quotes_a_secret_from_a_malformed_kubeconfig(engineer):
    # PyYAML quotes the line it stopped at, here the token's (cut to its last characters).
    broken = kubeconfig().replace(f"token: {TOKEN}", f"token: {TOKEN}: oops")

    body = engineer.post(REGISTER, form(kubeconfig=broken)).content.decode()

    assert "not valid YAML" in body
    assert TOKEN[-16:] not in body


def test_it_requires_the_source_it_was_given(engineer):
    kubeconfig_missing = engineer.post(REGISTER, form(kubeconfig=""))
    bundle_missing = engineer.post(REGISTER, form(source_kind="bundle", kubeconfig=""))
    wrong_suffix = engineer.post(
        REGISTER,
        form(source_kind="bundle", bundle=SimpleUploadedFile("evidence.txt", b"x")),
    )

    assert "Paste a kubeconfig" in kubeconfig_missing.content.decode()
    assert "Choose an evidence bundle" in bundle_missing.content.decode()
    assert "must be a .tar.gz or .zip" in wrong_suffix.content.decode()
    assert not Cluster.objects.exists()


def test_it_refuses_an_owner_that_is_not_an_email(engineer):
    response = engineer.post(REGISTER, form(owners="platform team"))

    assert "is not an email address" in response.content.decode()
    assert not Cluster.objects.exists()


def test_it_refuses_a_name_that_is_not_a_slug(engineer):
    response = engineer.post(REGISTER, form(name="Prod EU"))

    assert response.status_code == 200
    assert not Cluster.objects.exists()


def test_it_shows_the_form_to_an_engineer(engineer):
    body = engineer.get(REGISTER).content.decode()

    assert 'enctype="multipart/form-data"' in body
    assert '<label for="id_kubeconfig">' in body
    assert "/static/js/register.js" in body


def test_it_forbids_an_auditor_to_register(auditor):
    assert auditor.get(REGISTER).status_code == 403
    assert auditor.post(REGISTER, form()).status_code == 403
    assert not Cluster.objects.exists()
