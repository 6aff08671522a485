"""Production settings: `check --deploy` is clean with the documented production environment,
HSTS follows HTTPS, and the health endpoints answer probes without a login or any data."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def production_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """.env.example as an operator fills it in: real secrets, nothing from this machine's env."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "RAMPART_ENV_FILE": str(ROOT / ".env.example"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "RAMPART_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "RAMPART_DATA_DIR": str(tmp_path / "data"),
    }
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_passes_check_deploy_with_production_settings(tmp_path):
    result = manage(production_environment(tmp_path), "check", "--deploy", "--fail-level", "DEBUG")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_names_what_a_careless_production_setup_lacks(tmp_path):
    env = production_environment(tmp_path, RAMPART_ENV_FILE=str(tmp_path / "absent.env"))
    del env["SECRET_KEY"], env["RAMPART_ENCRYPTION_KEYS"]

    result = manage(env, "check", "--deploy")

    assert result.returncode != 0
    for problem in ("rampart.E001", "rampart.W002", "security.W008"):
        assert problem in result.stderr + result.stdout, problem


def hsts_seconds(tmp_path: Path, secure_cookies: str) -> str:
    env = production_environment(tmp_path, SECURE_COOKIES=secure_cookies)
    env["RAMPART_ENV_FILE"] = str(tmp_path / "absent.env")
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.SECURE_HSTS_SECONDS)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_it_turns_hsts_on_with_https_and_off_for_plain_http(tmp_path):
    assert hsts_seconds(tmp_path, "true") == "31536000"
    assert hsts_seconds(tmp_path, "false") == "0"


@pytest.mark.django_db
def test_it_sends_hsts_on_https_responses_only(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000

    secure = client.get("/login/", secure=True)
    plain = client.get("/login/")

    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in plain


@pytest.mark.django_db
def test_it_answers_health_probes_from_any_host_without_a_login(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.244.3.17:8000")
        assert response.status_code == 200, path
        assert response.content == b"ok\n"
        assert response["Content-Type"] == "text/plain"
        assert response["Cache-Control"] == "no-store"
    assert client.post("/healthz").status_code == 405
    # Everything else still refuses an unknown host and redirects plain http.
    assert client.get("/login/", HTTP_HOST="10.244.3.17:8000").status_code == 400
    assert client.get("/login/").status_code == 301
