"""Retiring an encryption key: put the new key first, rotate, drop the old one; credentials
still decrypt. Dropping the old key before rotating is refused in one line, changing nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters import services
from clusters.models import Cluster
from clusters.tests.factories import TOKEN, kubeconfig

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def register(name: str) -> Cluster:
    return services.cluster_register(
        name=name, source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=kubeconfig(), collect=False
    )


def stored(name: str) -> bytes:
    return bytes(Cluster.objects.get(name=name).credentials)


def test_it_retires_a_key_by_rotating_before_dropping_it(settings):
    settings.RAMPART_ENCRYPTION_KEYS = [OLD]
    register("prod-eu")
    register("staging-us")

    settings.RAMPART_ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    settings.RAMPART_ENCRYPTION_KEYS = [NEW]

    assert "Re-encrypted the credentials of 2 clusters." in out.getvalue()
    for name in ("prod-eu", "staging-us"):
        assert services.cluster_credentials(Cluster.objects.get(name=name)).token == TOKEN
        Fernet(NEW.encode()).decrypt(stored(name))
        with pytest.raises(InvalidToken):
            Fernet(OLD.encode()).decrypt(stored(name))


def test_it_refuses_to_rotate_when_the_old_key_was_dropped_first(settings):
    settings.RAMPART_ENCRYPTION_KEYS = [OLD]
    register("prod-eu")
    settings.RAMPART_ENCRYPTION_KEYS = [NEW]
    register("staging-us")  # already under the new key
    before = {name: stored(name) for name in ("prod-eu", "staging-us")}

    with pytest.raises(CommandError) as refused:
        call_command("rotate_encryption_keys", stdout=StringIO())

    message = str(refused.value)
    assert "decrypts the credentials of prod-eu:" in message
    assert "put the old key back" in message and "nothing was re-encrypted" in message
    assert "\n" not in message
    assert {name: stored(name) for name in before} == before
    # With the old key back behind the new one, the same command completes.
    settings.RAMPART_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_encryption_keys", stdout=StringIO())
    settings.RAMPART_ENCRYPTION_KEYS = [NEW]
    assert services.cluster_credentials(Cluster.objects.get(name="prod-eu")).token == TOKEN


def test_it_gives_a_cluster_new_credentials_keeping_its_history(settings, tmp_path):
    settings.RAMPART_ENCRYPTION_KEYS = [OLD]
    cluster = register("prod-eu")
    settings.RAMPART_ENCRYPTION_KEYS = [NEW]  # the old key is lost: credentials unreadable
    fresh = tmp_path / "kubeconfig.yaml"
    fresh.write_text(kubeconfig(token="a-brand-new-reader-token"))

    call_command("update_kubeconfig", "prod-eu", "--kubeconfig", str(fresh), stdout=StringIO())

    again = Cluster.objects.get(pk=cluster.pk)
    assert services.cluster_credentials(again).token == "a-brand-new-reader-token"
    with pytest.raises(CommandError, match="no cluster named 'nope'"):
        call_command("update_kubeconfig", "nope", "--kubeconfig", str(fresh))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("update_kubeconfig", "prod-eu", "--kubeconfig", str(tmp_path / "absent"))


def test_a_value_under_a_retired_and_removed_key_fails_clearly(settings):
    """Rotated clusters keep working with the old key gone; one left under the removed key
    (registered from a backup, say) fails its collection with a one-line reason to act on."""
    from clusters.crypto import CredentialsUnreadable
    from pipeline.collection import collection_execute

    settings.RAMPART_ENCRYPTION_KEYS = [OLD]
    rotated = register("prod-eu")
    settings.RAMPART_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_encryption_keys", stdout=StringIO())
    settings.RAMPART_ENCRYPTION_KEYS = [OLD]
    stranded = register("legacy")  # encrypted only with OLD, after the rotation
    settings.RAMPART_ENCRYPTION_KEYS = [NEW]  # OLD retired and removed

    assert services.cluster_credentials(Cluster.objects.get(pk=rotated.pk)).token == TOKEN
    with pytest.raises(CredentialsUnreadable, match="cannot be decrypted with any configured key"):
        services.cluster_credentials(Cluster.objects.get(pk=stranded.pk))
    run = services.collection_request(cluster=stranded, trigger="manual", enqueue=False)
    failed = collection_execute(run_id=run.pk)
    assert failed is not None and failed.status == "failed"
    assert "cannot be decrypted with any configured key" in failed.last_error
    assert "restore the old key" in failed.last_error
    assert "\n" not in failed.last_error and "Traceback" not in failed.last_error
    with pytest.raises(CommandError, match="legacy"):  # rotating now names it, changes nothing
        call_command("rotate_encryption_keys", stdout=StringIO())
