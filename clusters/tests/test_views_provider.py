"""The cluster page's provider section: link a provider, upload a description, who may."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters.models import ProviderDocument, ProviderLink
from clusters.tests.factories import make_cluster
from clusters.tests.fakeproviders import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    recording,
    service_account_key,
)
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
TOKEN_URI = "https://oauth2.googleapis.com/token"


def page(client, cluster) -> str:
    return client.get(reverse("cluster_detail", args=[cluster.name])).content.decode()


def gke_form(**changes):
    return {
        "kind": "gke",
        "project": "acme-orders",
        "location": "europe-west1",
        "name": "orders-eu",
        "credentials_kind": "key",
        "key_json": service_account_key(TOKEN_URI),
    } | changes


def test_it_links_gke_with_a_key_it_never_shows_again(engineer):
    cluster = make_cluster()
    form = gke_form()
    key = json.loads(form["key_json"])

    response = engineer.post(reverse("provider_link_save", args=[cluster.name]), form)

    assert response.status_code == 302
    link = ProviderLink.objects.get(cluster=cluster)
    assert link.target == "projects/acme-orders/locations/europe-west1/clusters/orders-eu"
    assert link.credentials_label == key["client_email"]
    html = page(engineer, cluster)
    assert "projects/acme-orders/locations/europe-west1/clusters/orders-eu" in html
    assert key["client_email"] in html
    assert key["private_key"][40:90] not in html
    assert "BEGIN PRIVATE KEY" not in html
    event = AuditEvent.objects.get(action="provider_link.set")
    assert event.actor_name == "erin" and event.cluster_name == cluster.name
    assert "PRIVATE KEY" not in json.dumps(event.after)


def test_it_keeps_the_stored_key_when_only_the_location_changes(engineer):
    cluster = make_cluster()
    engineer.post(reverse("provider_link_save", args=[cluster.name]), gke_form())
    stored = bytes(ProviderLink.objects.get(cluster=cluster).credentials)

    engineer.post(
        reverse("provider_link_save", args=[cluster.name]),
        gke_form(location="europe-west4", key_json=""),
    )

    link = ProviderLink.objects.get(cluster=cluster)
    assert link.location == "europe-west4"
    assert bytes(link.credentials) == stored
    assert AuditEvent.objects.filter(action="provider_link.set").count() == 2


def test_it_refuses_a_key_pointing_elsewhere_saying_why(engineer):
    cluster = make_cluster()
    key = service_account_key("https://token.example.net/token")
    response = engineer.post(
        reverse("provider_link_save", args=[cluster.name]), gke_form(key_json=key), follow=True
    )
    html = response.content.decode()
    assert "token_uri" in html
    assert "BEGIN PRIVATE KEY" not in html
    assert not ProviderLink.objects.exists()


def test_it_links_eks_with_an_access_key_and_removes_the_link(engineer):
    cluster = make_cluster()
    form = {
        "kind": "eks",
        "location": "eu-west-1",
        "name": "orders-prod",
        "credentials_kind": "key",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
    }
    engineer.post(reverse("provider_link_save", args=[cluster.name]), form)
    html = page(engineer, cluster)
    assert "eu-west-1/orders-prod" in html and "access key …0001" in html
    assert SECRET_ACCESS_KEY not in html

    engineer.post(reverse("provider_link_remove", args=[cluster.name]))

    assert not ProviderLink.objects.exists()
    assert AuditEvent.objects.filter(action="provider_link.remove").exists()


def test_it_stores_an_uploaded_description_for_the_following_collections(engineer):
    cluster = make_cluster()
    upload = SimpleUploadedFile("describe.json", json.dumps(recording("gke-hardened")).encode())

    response = engineer.post(
        reverse("provider_document_upload", args=[cluster.name]),
        {"kind": "gke", "document": upload},
    )

    assert response.status_code == 302
    stored = ProviderDocument.objects.get(cluster=cluster, kind="gke")
    assert stored.document["name"] == "orders-eu"
    assert "describe.json" in page(engineer, cluster)
    audited = AuditEvent.objects.get(action="provider_document.upload").after or {}
    assert audited["cluster_name"] == "orders-eu"
    engineer.post(reverse("provider_document_remove", args=[cluster.name, "gke"]))
    assert not ProviderDocument.objects.exists()


def test_it_refuses_an_upload_that_is_not_the_provider_s_json(engineer):
    cluster = make_cluster()
    upload = SimpleUploadedFile("pods.json", b'{"kind": "List", "items": []}')
    response = engineer.post(
        reverse("provider_document_upload", args=[cluster.name]),
        {"kind": "gke", "document": upload},
        follow=True,
    )
    assert "not a GKE Cluster resource" in response.content.decode()
    assert not ProviderDocument.objects.exists()


@pytest.mark.parametrize("persona", ["auditor", "outsider"])
def test_it_lets_only_people_who_change_clusters_edit_provider_data(persona, request):
    client = request.getfixturevalue(persona)
    cluster = make_cluster()
    upload = SimpleUploadedFile("describe.json", json.dumps(recording("gke-hardened")).encode())
    for url, data in (
        (reverse("provider_link_save", args=[cluster.name]), gke_form()),
        (reverse("provider_link_remove", args=[cluster.name]), {}),
        (
            reverse("provider_document_upload", args=[cluster.name]),
            {"kind": "gke", "document": upload},
        ),
        (reverse("provider_document_remove", args=[cluster.name, "gke"]), {}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert not ProviderLink.objects.exists() and not ProviderDocument.objects.exists()


def test_it_shows_an_auditor_the_link_but_no_forms(auditor, engineer):
    cluster = make_cluster()
    engineer.post(reverse("provider_link_save", args=[cluster.name]), gke_form())
    html = page(auditor, cluster)
    assert "Provider control plane" in html
    assert "orders-eu" in html
    assert "Save provider link" not in html
