"""Backup and restore as an operator runs them, on SQLite and on PostgreSQL: register a live
cluster (over real HTTP, against the fake API server) and a bundle cluster, collect both,
attest with an evidence file, `manage.py backup`, wipe the database and the data folder,
`migrate`, `manage.py restore`, and find the same posture, credentials that decrypt (a new
live collection succeeds) and the evidence file downloadable. Without the encryption keys the
restore says which clusters' credentials are unreadable, their collections fail in one clear
line, and `update_kubeconfig` brings them back with their history.

Each step is a `manage.py` process with its own database: the suite's own test database is
never touched, and both engines are covered whichever one the suite runs on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from clusters.tests.fakeapi import FakeApiServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "bundles"
EVIDENCE = b"%PDF-1.4\n% signed-off network review, 2026-11\n"
POSTGRES = os.environ.get("RAMPART_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")

SEED = """
import json
from datetime import timedelta
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from accounts.roles import SECURITY_ENGINEER
from accounts.services import user_create
from clusters.models import Cluster
from compliance.services import attestation_create

call_command("register_cluster", "prod-eu", "--kubeconfig", "{kubeconfig}", "--no-collect")
call_command("collect", "prod-eu", "--sync")
call_command("register_cluster", "air-gapped", "--bundle", "{bundle}")
call_command("collect", "air-gapped", "--sync")
erin, _ = user_create(username="erin", email="erin@example.com", role=SECURITY_ENGINEER)
attestation = attestation_create(
    cluster=Cluster.objects.get(name="prod-eu"),
    guide="cis-kubernetes",
    item_id="5.6.1",
    by=erin,
    justification="Reviewed the namespace boundaries with the platform team.",
    reattest_by=timezone.localdate() + timedelta(days=60),
    evidence_file=SimpleUploadedFile("network-review.pdf", {evidence!r}),
)
print(json.dumps({{"attestation": attestation.pk}}))
"""

INSPECT = """
import io, json
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from clusters.models import Cluster
from clusters import services
from compliance.models import Attestation

def posture(name):
    out = io.StringIO()
    call_command("posture", name, "--format", "json", stdout=out)
    return json.loads(out.getvalue())

client = Client()
client.force_login(get_user_model().objects.get(username="erin"))
attestation = Attestation.objects.get()
evidence = client.get(f"/attestations/{attestation.pk}/evidence/", HTTP_HOST="localhost")
served = evidence.status_code == 200
try:
    token = services.cluster_credentials(Cluster.objects.get(name="prod-eu")).token
except Exception as exc:
    token = type(exc).__name__
print(json.dumps({
    "posture": {name: posture(name) for name in ("prod-eu", "air-gapped")},
    "token": token,
    "evidence_status": evidence.status_code,
    "evidence": b"".join(evidence.streaming_content).decode() if served else "",
    "users": sorted(get_user_model().objects.values_list("username", flat=True)),
}))
"""


@dataclass
class Installation:
    """One Rampart installation: a data folder, a database and its keys."""

    data_dir: Path
    database_url: str
    keys: str

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.data_dir.parent),
            "RAMPART_ENV_FILE": str(self.data_dir.parent / "no.env"),
            "RAMPART_DATA_DIR": str(self.data_dir),
            "SECRET_KEY": "round-trip-secret-key-" + "x" * 40,
            "RAMPART_ENCRYPTION_KEYS": self.keys,
            "CELERY_BROKER_URL": "filesystem://",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            **({"DATABASE_URL": self.database_url} if self.database_url else {}),
        }

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def shell(self, code: str) -> dict:
        output = self.manage("shell", "-c", code).stdout
        return json.loads(output.strip().splitlines()[-1])


class Engine:
    """A database that can be created empty and dropped: an SQLite file or a PostgreSQL db."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name, self.tmp_path = name, tmp_path
        self.database = f"rampart_backup_{uuid.uuid4().hex[:10]}"

    def url(self) -> str:
        if self.name == "sqlite":
            return ""  # the default: var/rampart.sqlite3 inside the data folder
        return POSTGRES.rsplit("/", 1)[0] + f"/{self.database}"

    def create(self) -> None:
        if self.name == "postgresql":
            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        if self.name == "postgresql":
            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator[Engine]:
    engine = Engine(request.param, tmp_path)
    if engine.name == "postgresql":
        try:
            psycopg.connect(POSTGRES, connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc}")
    engine.create()
    yield engine
    engine.drop()


def wipe(installation: Installation, engine: Engine) -> None:
    shutil.rmtree(installation.data_dir)
    engine.drop()
    engine.create()


def test_it_restores_the_same_posture_credentials_and_evidence(engine, tmp_path):
    keys = Fernet.generate_key().decode()
    site = Installation(tmp_path / "data", engine.url(), keys)
    backup = tmp_path / "rampart-backup.tar.gz"
    with FakeApiServer.from_bundle(DEMO / "storefront-staging") as api:
        kubeconfig = tmp_path / "kubeconfig.yaml"
        kubeconfig.write_text(api.kubeconfig())
        site.manage("migrate", "--noinput")
        site.shell(SEED.format(kubeconfig=kubeconfig, bundle=DEMO / "edge-dev", evidence=EVIDENCE))
        before = site.shell(INSPECT)

        made = site.manage("backup", "--output", str(backup))
        wipe(site, engine)
        site.manage("migrate", "--noinput")
        restored = site.manage("restore", str(backup))
        after = site.shell(INSPECT)
        again = site.manage("collect", "prod-eu", "--sync")

        # The same backup where the keys were not kept: everything but the credentials.
        wipe(site, engine)
        elsewhere = Installation(site.data_dir, engine.url(), Fernet.generate_key().decode())
        elsewhere.manage("migrate", "--noinput")
        keyless = elsewhere.manage("restore", str(backup))
        keyless_state = elsewhere.shell(INSPECT)
        keyless_collect = elsewhere.manage("collect", "prod-eu", "--sync", check=False)
        # Registering the credentials again keeps the cluster's history.
        elsewhere.manage("update_kubeconfig", "prod-eu", "--kubeconfig", str(kubeconfig))
        recovered = elsewhere.manage("collect", "prod-eu", "--sync")

    assert "Backed up" in made.stdout and "not in the backup" in made.stdout
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert "Restored" in restored.stdout and "cannot decrypt" not in restored.stderr
    assert before["evidence_status"] == 200 and before["evidence"] == EVIDENCE.decode()
    assert before["token"] == api.token
    assert before["posture"]["prod-eu"]["checks"], "the live cluster was evaluated"
    assert after == before
    assert "Succeeded" in again.stdout or "Partial" in again.stdout

    assert keyless.returncode == 0
    assert "cannot decrypt the credentials of 1 clusters: prod-eu" in keyless.stderr
    assert "register those clusters again" in keyless.stderr
    assert keyless_state["posture"] == before["posture"]
    assert keyless_state["evidence"] == EVIDENCE.decode()
    assert keyless_state["token"] == "CredentialsUnreadable"
    assert keyless_collect.returncode == 1
    assert "cannot be decrypted with any configured key" in keyless_collect.stderr
    assert "Traceback" not in keyless_collect.stderr
    assert "Succeeded" in recovered.stdout or "Partial" in recovered.stdout


def test_it_refuses_to_restore_over_an_installation_in_use(tmp_path):
    site = Installation(tmp_path / "data", "", Fernet.generate_key().decode())
    backup = tmp_path / "rampart-backup.tar.gz"
    site.manage("migrate", "--noinput")
    site.manage("create_user", "ada", "--role", "admin")
    site.manage("backup", "--output", str(backup))

    refused = site.manage("restore", str(backup), check=False)
    replaced = site.manage("restore", str(backup), "--replace")
    not_a_backup = site.manage("restore", str(tmp_path / "no.env"), check=False)

    assert refused.returncode == 1
    assert "already holds clusters or users" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "Restored" in replaced.stdout
    assert not_a_backup.returncode == 1
    assert "is not a Rampart backup" in not_a_backup.stderr
