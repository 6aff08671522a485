"""Configuration mistakes surface as Django system checks, with ids and hints."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development key.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value.",
                id="rampart.E001",
            )
        ]
    return []


@register(Tags.security)
def check_encryption_keys(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    for index, key in enumerate(settings.RAMPART_ENCRYPTION_KEYS):
        try:
            Fernet(key.encode())
        except ValueError:
            problems.append(
                Error(
                    f"RAMPART_ENCRYPTION_KEYS entry {index + 1} is not a Fernet key.",
                    hint="Generate one with `python manage.py generate_encryption_key`.",
                    id="rampart.E002",
                )
            )
    if not settings.RAMPART_ENCRYPTION_KEYS and not settings.DEBUG:
        problems.append(
            Warning(
                "RAMPART_ENCRYPTION_KEYS is not set: cluster credentials are encrypted with a key "
                "derived from SECRET_KEY, so changing SECRET_KEY makes them unreadable.",
                hint="Set RAMPART_ENCRYPTION_KEYS (`python manage.py generate_encryption_key`).",
                id="rampart.W002",
            )
        )
    return problems


@register()
def check_broker(app_configs: Any, **kwargs: Any) -> list[Error]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return [
            Error(
                "CELERY_BROKER_URL is memory://, which no separate worker process can read.",
                hint="Use filesystem:// (the embedded default) or redis://host:6379/0.",
                id="rampart.E003",
            )
        ]
    if not url.startswith(("filesystem://", "redis://", "rediss://", "amqp://")):
        return [
            Error(
                f"CELERY_BROKER_URL scheme of {url.split(':', 1)[0]!r} is not supported.",
                hint="Use filesystem:// or redis://.",
                id="rampart.E004",
            )
        ]
    return []
