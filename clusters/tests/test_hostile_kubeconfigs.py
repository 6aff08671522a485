"""The hostile kubeconfig corpus, entered where kubeconfigs enter: parser, form, command.

Every case ends in one clear line that quotes no secret, with nothing stored: a form error on
the web (never a 500), exit code 1 on the command line (never a traceback).
"""

from __future__ import annotations

import html
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from clusters.kubeconfig import KubeconfigError, decode_kubeconfig, parse_kubeconfig
from clusters.models import Cluster, CollectionRun
from clusters.tests.hostile_kubeconfigs import Case, cases

CASES = cases()
PARSED = [case for case in CASES if case.parse]
PASTED = [case for case in CASES if case.text is not None]
REGISTER = reverse("cluster_register")


def ids(case: Case) -> str:
    return case.id


def assert_refused_cleanly(case: Case, message: str) -> None:
    assert case.refusal in message, f"{case.id}: {case.refusal!r} not in the answer"
    assert "Traceback" not in message, case.id
    for secret in case.secrets:
        assert secret not in message, f"{case.id} echoes a secret"


def assert_nothing_stored() -> None:
    assert not Cluster.objects.exists()
    assert not CollectionRun.objects.exists()


def test_it_holds_more_than_fifty_hostile_kubeconfigs() -> None:
    assert len(CASES) >= 50
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", PARSED, ids=ids)
def test_it_refuses_a_hostile_kubeconfig_in_one_line(case: Case) -> None:
    started = time.perf_counter()
    with pytest.raises(KubeconfigError) as raised:
        parse_kubeconfig(decode_kubeconfig(case.data))
    elapsed = time.perf_counter() - started

    message = str(raised.value)
    assert_refused_cleanly(case, message)
    assert "\n" not in message and len(message) <= 1000
    assert elapsed < 1.0  # bombs and deep nesting are refused before they expand


# The entry points below loop over the corpus in one test each: one persona and one database
# for ~100 cases, each failure named by its case.


@pytest.mark.django_db
def test_it_shows_a_form_error_for_every_hostile_kubeconfig_file(engineer) -> None:
    for case in CASES:
        upload = SimpleUploadedFile("config", case.data)
        response = engineer.post(
            REGISTER, {"name": "hostile", "source_kind": "kubeconfig", "kubeconfig_file": upload}
        )
        assert response.status_code == 200, case.id
        assert_refused_cleanly(case, html.unescape(response.content.decode()))
        assert_nothing_stored()


@pytest.mark.django_db
def test_it_shows_a_form_error_for_every_hostile_pasted_kubeconfig(engineer) -> None:
    for case in PASTED:
        response = engineer.post(
            REGISTER, {"name": "hostile", "source_kind": "kubeconfig", "kubeconfig": case.text}
        )
        assert response.status_code == 200, case.id
        assert_refused_cleanly(case, html.unescape(response.content.decode()))
        assert_nothing_stored()


@pytest.mark.django_db
def test_it_refuses_every_hostile_kubeconfig_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    for case in CASES:
        path.write_bytes(case.data)
        with pytest.raises(CommandError) as raised:
            call_command("register_cluster", "hostile", "--kubeconfig", str(path))
        message = str(raised.value)
        assert_refused_cleanly(case, message)
        assert "\n" not in message, case.id
        assert_nothing_stored()


@pytest.mark.django_db
def test_it_exits_with_code_one_and_no_traceback(tmp_path: Path) -> None:
    """One real process: what an operator's shell sees for an alias bomb."""
    bomb = next(case for case in CASES if case.id == "alias-bomb-in-a-context-name")
    path = tmp_path / "config"
    path.write_bytes(bomb.data)
    env = {"RAMPART_ENV_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}
    env |= {key: str(value) for key, value in _database_env().items()}

    result = subprocess.run(
        [sys.executable, "manage.py", "register_cluster", "hostile", "--kubeconfig", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # System-check warnings (an unset encryption key in tests) may come first.
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError: ")]
    assert len(errors) == 1, result.stderr
    assert "aliases" in errors[0]
    assert result.stderr.rstrip().endswith(errors[0])
    assert_nothing_stored()


def _database_env() -> dict[str, str]:
    from tests.workers import test_database_url

    return {
        "DATABASE_URL": test_database_url(),
        "RAMPART_DATA_DIR": str(settings.DATA_DIR),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
