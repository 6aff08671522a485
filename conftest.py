import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: cached page fragments must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _test_storage(settings, tmp_path_factory):
    """Plain static storage: tests render templates without a collectstatic manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Its own folder, not tmp_path: tests that inspect their tmp_path must find only their files.
    settings.STATIC_ROOT = tmp_path_factory.mktemp("static")


def _persona(django_user_model, username, role):
    from django.test import Client

    from accounts.services import user_create

    if role is None:
        user = django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com"
        )
    else:
        user, _ = user_create(username=username, email=f"{username}@example.com", role=role)
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    # As in a running server after the person's first page: the permission set is in the cache
    # (accounts.auth_cache), so query counts are the pages' own.
    from accounts.auth_cache import permissions_load

    permissions_load(django_user_model.objects.get(pk=user.pk))
    return client


@pytest.fixture
def admin(db, django_user_model):
    """Ada, an administrator: everything a security engineer does, plus users and settings."""
    from accounts.roles import ADMIN

    return _persona(django_user_model, "ada", ADMIN)


@pytest.fixture
def engineer(db, django_user_model):
    """Erin, a security engineer: registers clusters and starts collections."""
    from accounts.roles import SECURITY_ENGINEER

    return _persona(django_user_model, "erin", SECURITY_ENGINEER)


@pytest.fixture
def auditor(db, django_user_model):
    """Aude, an auditor: reads everything, changes nothing."""
    from accounts.roles import AUDITOR

    return _persona(django_user_model, "aude", AUDITOR)


@pytest.fixture
def outsider(db, django_user_model):
    """Oscar has an account but no role: he may log in and see nothing."""
    return _persona(django_user_model, "oscar", None)


@pytest.fixture
def known_checks():
    """Three sample checks (critical access, medium network, low supply chain) in the registry."""
    from clusters.tests.factories import sample_checks

    with sample_checks() as checks:
        yield checks
