"""Rampart's one settings file.

Every value comes from the environment (or a `.env` file at the project root, which `make run`
writes on first start), through the small typed helpers below. Defaults are safe for a laptop:
SQLite, Celery's filesystem transport, emails to the console. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY and RAMPART_ENCRYPTION_KEYS; `manage.py check --deploy` says what
is missing.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines into the environment; variables already set win."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


# The test suite must not depend on a developer's local .env (written by `make run`), nor share
# its database, broker folders and uploads.
RUNNING_TESTS = "pytest" in sys.modules
if not RUNNING_TESTS or "RAMPART_ENV_FILE" in os.environ:
    _load_dotenv(Path(os.environ.get("RAMPART_ENV_FILE", BASE_DIR / ".env")))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_cidrs(name: str) -> list[str]:
    """Comma-separated networks (10.0.0.0/8, fd00::/8), each checked at startup."""
    cidrs = env_list(name)
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {cidr!r} is not a network (write it as 169.254.10.0/24)"
            ) from exc
    return cidrs


def env_url(name: str, default: str = "") -> str:
    """An http(s) URL, or "" when unset; anything else is a configuration mistake."""
    value = os.environ.get(name, default).strip()
    if value and not value.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(
    env_str("RAMPART_DATA_DIR", str(BASE_DIR / ("var/test" if RUNNING_TESTS else "var")))
)

# A fixed development key only ever serves DEBUG; system check rampart.E001 refuses it otherwise.
DEVELOPMENT_SECRET_KEY = "rampart-development-only-secret-key-do-not-deploy"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "csp",
    "axes",
    "accounts",
    "clusters",
    "posture",
    "compliance",
    "alerts",
    "history",
    "pipeline",
    "backups",
]

MIDDLEWARE = [
    # Answers /healthz and /readyz before host validation: kubelet probes carry the pod's IP.
    "config.health.HealthMiddleware",
    # Cache versions are read once per request (config/shared_cache.py).
    "config.shared_cache.RequestVersionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.auth_cache.CachedPermissionsMiddleware",
    "accounts.middleware.SessionExpiryMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "posture.context_processors.release_catalog",
            ],
        },
    },
]

# SQLite is the embedded default a new user meets; PostgreSQL is the production database.
DATABASES = {
    "default": dj_database_url.parse(
        env_secret("DATABASE_URL", f"sqlite:///{DATA_DIR / 'rampart.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite cannot create its folder; a fresh checkout has no var/ yet.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not :memory:, so a real worker process in the test suite sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-rampart.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# `manage.py backup` writes fixtures with microsecond timestamps (Django's JSON keeps ms).
SERIALIZATION_MODULES = {"rampartjson": "backups.serializer"}

# The cache holds page data between writes (clusters/page_cache.py) and must be one for every
# web process: Redis with CACHE_URL (production); otherwise files under the data directory,
# which the embedded default's processes on one machine share. The tests use memory per process
# (each test clears it); a test that needs two processes sets a file cache of its own.
if env_str("CACHE_URL"):
    _cache: dict[str, Any] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL"),
    }
elif RUNNING_TESTS:
    _cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
else:
    _cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
        # Culling lists the directory on every write past this: a few entries per cluster.
        "OPTIONS": {"MAX_ENTRIES": env_int("RAMPART_CACHE_MAX_ENTRIES", 10_000)},
    }
CACHES = {"default": _cache}
# How long page data may be served from the cache at most. Every write through the services
# invalidates it at once; this bounds writes that bypass them and relative times ("2 hours ago").
RAMPART_PAGE_CACHE_SECONDS = env_int("RAMPART_PAGE_CACHE_SECONDS", 120)
# How many of those entries each process also keeps unpickled, least recently used dropped
# first (a cluster page's is a few hundred kB).
RAMPART_CACHE_PROCESS_ENTRIES = env_int("RAMPART_CACHE_PROCESS_ENTRIES", 256)
# With a shared cache, read sessions from it instead of a database query on every page; the
# tests' per-process LocMemCache would keep serving a session another process had logged out.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.db"
    if _cache["BACKEND"].endswith("LocMemCache")
    else "django.contrib.sessions.backends.cached_db"
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("RAMPART_PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username + address before any password is hashed.
# The single sign-on backend answers only its own callback, and only when it is enabled.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.sso.SsoBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "fleet"
LOGOUT_REDIRECT_URL = "login"

# --- Login throttling (django-axes) -----------------------------------------------------------
# After this many failed logins for one username from one address, that pair is refused for the
# cool-off, which restarts with every further attempt during it. An admin unlocks earlier by
# deleting the attempt (Admin > Axes > Access attempts) or `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = env_int("RAMPART_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("RAMPART_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login clears that pair's failures
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"  # the styled page, HTTP 429
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
# Behind this many reverse proxies the client is the address they appended to X-Forwarded-For;
# 0 uses the connection's address (REMOTE_ADDR) and ignores the header, which a client can forge.
RAMPART_PROXY_COUNT = env_int("RAMPART_PROXY_COUNT", 0)
if AXES_FAILURE_LIMIT < 1 or RAMPART_PROXY_COUNT < 0:
    raise ImproperlyConfigured(
        "RAMPART_LOGIN_FAILURE_LIMIT must be at least 1 and RAMPART_PROXY_COUNT at least 0"
    )

# --- Single sign-on (OpenID Connect, mozilla-django-oidc); off unless enabled ---------------
RAMPART_OIDC_ENABLED = env_bool("RAMPART_OIDC_ENABLED", False)
OIDC_RP_CLIENT_ID = env_str("RAMPART_OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_secret("RAMPART_OIDC_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("RAMPART_OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("RAMPART_OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("RAMPART_OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("RAMPART_OIDC_JWKS_ENDPOINT")
# When set, the ID token's `iss` must be exactly this (the provider's issuer URL).
RAMPART_OIDC_ISSUER = env_str("RAMPART_OIDC_ISSUER")
OIDC_RP_SIGN_ALGO = env_str("RAMPART_OIDC_SIGN_ALGORITHM", "RS256")
OIDC_RP_SCOPES = env_str("RAMPART_OIDC_SCOPES", "openid email profile")
OIDC_USE_PKCE = True  # the code is useless to whoever intercepts the redirect
OIDC_TIMEOUT = env_int("RAMPART_OIDC_TIMEOUT", 10)
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"
# The claim listing a person's groups, and which group grants which role (roles: admin,
# security_engineer, auditor). The role is recomputed at every sign-in; no mapped group, no role.
RAMPART_OIDC_GROUPS_CLAIM = env_str("RAMPART_OIDC_GROUPS_CLAIM", "groups")
RAMPART_OIDC_ROLE_KEYS = ("admin", "security_engineer", "auditor")


def _group_roles(name: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in env_list(name):
        group, _, role = item.rpartition(":")
        if not group or role.strip() not in RAMPART_OIDC_ROLE_KEYS:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not GROUP:ROLE with ROLE one of "
                + ", ".join(RAMPART_OIDC_ROLE_KEYS)
            )
        mapping[group.strip()] = role.strip()
    return mapping


RAMPART_OIDC_GROUP_ROLES = _group_roles("RAMPART_OIDC_GROUP_ROLES")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# The image collects static files into itself (RAMPART_STATIC_ROOT), so an upgrade serves the new
# ones rather than those a data volume kept from the first image.
STATIC_ROOT = Path(env_str("RAMPART_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"  # never served: evidence files are streamed by views that check roles
# Bundles can be large (50k pods); anything over this is refused before it is read.
RAMPART_MAX_UPLOAD_BYTES = env_int("RAMPART_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security of Rampart itself -------------------------------------------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# A session ends at the first of: the browser closing, RAMPART_SESSION_IDLE_MINUTES without a
# page view (background polling does not count), or SESSION_COOKIE_AGE seconds after sign-in.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
RAMPART_SESSION_IDLE_MINUTES = env_int("RAMPART_SESSION_IDLE_MINUTES", 30)  # 0: no idle limit
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# HSTS whenever Rampart is served over HTTPS (SECURE_COOKIES): a year, subdomains included.
# Django sends it on HTTPS responses only, so plain http on 127.0.0.1 (`make run`) is unaffected.
# `preload` only consents to the browsers' list; submitting the domain there is a separate step.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SECURE_COOKIES else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)

# Strict CSP: nothing inline, everything self-hosted. tests/test_security.py forbids unsafe-*.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# --- Credentials at rest ----------------------------------------------------------------------
# Comma-separated Fernet keys, newest first. Data encrypted with an older key stays readable;
# `manage.py rotate_encryption_keys` re-encrypts everything with the first one.
RAMPART_ENCRYPTION_KEYS = env_list("RAMPART_ENCRYPTION_KEYS", env_secret("RAMPART_ENCRYPTION_KEYS"))
# An admin may allow exec/auth-provider kubeconfigs; off by default because registering a
# cluster would otherwise run commands or read files on the worker.
RAMPART_ALLOW_KUBECONFIG_EXEC = env_bool("RAMPART_ALLOW_KUBECONFIG_EXEC", False)
# API servers are never link-local, cloud metadata, unspecified, multicast or broadcast
# addresses (clusters/addresses.py); these networks are allowed all the same, e.g. an API
# server an appliance really serves on 169.254.x.y. Loopback and private ranges need no entry.
RAMPART_ALLOWED_SERVER_CIDRS = env_cidrs("RAMPART_ALLOWED_SERVER_CIDRS")

# --- Collection -------------------------------------------------------------------------------
RAMPART_DEFAULT_COLLECTION_INTERVAL = timedelta(
    minutes=env_int("RAMPART_DEFAULT_COLLECTION_INTERVAL_MINUTES", 6 * 60)
)
RAMPART_KUBE_PAGE_SIZE = env_int("RAMPART_KUBE_PAGE_SIZE", 500)
RAMPART_KUBE_REQUEST_TIMEOUT = env_int("RAMPART_KUBE_REQUEST_TIMEOUT", 30)  # each socket read
# A socket timeout bounds each read, not a response (clusters/kube_http.py): a server trickling
# its answer, or paging forever, is stopped by these. A kind not read in time is an error (its
# checks unknown, the run partial), never an empty list. The collection deadline stays below
# CELERY_TASK_SOFT_TIME_LIMIT so that what was read is still recorded.
RAMPART_KUBE_REQUEST_DEADLINE = env_int("RAMPART_KUBE_REQUEST_DEADLINE", 120)  # s, one request
RAMPART_KUBE_COLLECTION_DEADLINE = env_int("RAMPART_KUBE_COLLECTION_DEADLINE", 20 * 60)  # s
RAMPART_KUBE_MAX_PAGES = env_int("RAMPART_KUBE_MAX_PAGES", 1000)  # per list
RAMPART_KUBE_MAX_RESPONSE_BYTES = env_int("RAMPART_KUBE_MAX_RESPONSE_BYTES", 128 * 1024 * 1024)
RAMPART_KUBE_MAX_RETRY_AFTER = env_int("RAMPART_KUBE_MAX_RETRY_AFTER", 30)  # s, 429/503 waits
RAMPART_KUBE_MAX_RETRIES = env_int("RAMPART_KUBE_MAX_RETRIES", 4)  # 429/503 per request
if min(RAMPART_KUBE_REQUEST_DEADLINE, RAMPART_KUBE_COLLECTION_DEADLINE, RAMPART_KUBE_MAX_PAGES) < 1:
    raise ImproperlyConfigured(
        "RAMPART_KUBE_REQUEST_DEADLINE, RAMPART_KUBE_COLLECTION_DEADLINE and "
        "RAMPART_KUBE_MAX_PAGES must be at least 1"
    )
# Provider links (clusters.providers): each request to GKE or EKS is bounded by this, so a
# provider that hangs costs a collection seconds, not its time limit.
RAMPART_PROVIDER_REQUEST_TIMEOUT = env_int("RAMPART_PROVIDER_REQUEST_TIMEOUT", 20)
# Where a live collection looks for the latest kube-bench Job's pod logs (clusters.kube_bench).
RAMPART_KUBE_BENCH_NAMESPACE = env_str("RAMPART_KUBE_BENCH_NAMESPACE", "kube-bench")
# Where the official clients send requests; empty = the providers' public endpoints. Set for
# a private endpoint (Private Service Connect, a VPC endpoint) or a test fake.
RAMPART_GKE_API_ENDPOINT = env_url("RAMPART_GKE_API_ENDPOINT")
RAMPART_EKS_ENDPOINT_URL = env_url("RAMPART_EKS_ENDPOINT_URL")
# A stored Google service-account key is used only if its token_uri is this one: a key with
# another token_uri would make the worker send a signed assertion wherever the key says.
RAMPART_GKE_TOKEN_URI = env_url("RAMPART_GKE_TOKEN_URI", "https://oauth2.googleapis.com/token")
# Registries images may come from; empty means the check is not applicable until one is set.
RAMPART_ALLOWED_REGISTRIES = env_list("RAMPART_ALLOWED_REGISTRIES")
# A namespace carrying this label (any value but "false") must run pods in a sandbox.
RAMPART_UNTRUSTED_NAMESPACE_LABEL = env_str(
    "RAMPART_UNTRUSTED_NAMESPACE_LABEL", "rampart.dev/untrusted"
)
RAMPART_WAIVER_MAX_DAYS = env_int("RAMPART_WAIVER_MAX_DAYS", 180)

# --- Celery -----------------------------------------------------------------------------------
# filesystem:// needs no server: the embedded default. Production uses redis://.
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", "filesystem://")
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # A message a dead worker took (acks are late) is given to another worker after the
    # visibility timeout: minutes, not hours. A collection still running when its message comes
    # back is recognised by its fresh heartbeat and left alone (pipeline.tasks.collect), so the
    # timeout need not exceed the hard time limit. Unacked messages are looked for every 10 s.
    else {
        "visibility_timeout": env_int("RAMPART_BROKER_VISIBILITY_TIMEOUT", 5 * 60),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
)
if CELERY_BROKER_URL.startswith("filesystem"):
    # The transport cannot create its folders, and every process (web, worker, beat, inspect)
    # may be the first to touch them.
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"  # never pickle: payloads are ids
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None  # results live in CollectionRun rows, not in the broker
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ...including when the process is killed outright
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # collections are long; do not hoard them in one worker
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30 * 60)  # record, then stop
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 35 * 60)  # the process is killed
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 1_500_000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Worker faults (clusters.collection): the collecting worker touches its run's heartbeat every
# RAMPART_RUN_HEARTBEAT_SECONDS; a running run whose heartbeat is older than
# RAMPART_RUN_STALE_SECONDS lost its worker (killed, out of memory, machine gone). The reaper
# (beat, every RAMPART_REAP_INTERVAL_SECONDS) fails it, a new trigger supersedes it and a
# redelivered message re-claims it, so a dead worker blocks a cluster for minutes at most.
RAMPART_RUN_HEARTBEAT_SECONDS = env_int("RAMPART_RUN_HEARTBEAT_SECONDS", 20)
RAMPART_RUN_STALE_SECONDS = env_int("RAMPART_RUN_STALE_SECONDS", 120)
RAMPART_REAP_INTERVAL_SECONDS = env_int("RAMPART_REAP_INTERVAL_SECONDS", 60)
# A run still pending this long after its message was sent is sent again (the broker lost it).
RAMPART_RUN_RESEND_SECONDS = env_int("RAMPART_RUN_RESEND_SECONDS", 15 * 60)
if RAMPART_RUN_STALE_SECONDS < 3 * RAMPART_RUN_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "RAMPART_RUN_STALE_SECONDS must be at least three RAMPART_RUN_HEARTBEAT_SECONDS, "
        "or a slow database write would make a live collection look dead"
    )
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# One beat schedule, self-describing keys. Beat only enqueues; the worker does the work.
CELERY_BEAT_SCHEDULE = {
    "enqueue-due-collections-every-minute": {
        "task": "clusters.tasks.enqueue_due_collections",
        "schedule": 60.0,
    },
    # Frees clusters whose collecting worker died (no heartbeat): see RAMPART_RUN_STALE_SECONDS.
    "fail-stale-collection-runs-every-minute": {
        "task": "clusters.tasks.fail_stale_runs",
        "schedule": float(RAMPART_REAP_INTERVAL_SECONDS),
    },
    # Stored verdicts name when they go stale (a waiver expiring, an attestation lapsing):
    # derive them again then, and audit each expiry once.
    "refresh-stale-verdicts-every-minute": {
        "task": "compliance.tasks.refresh_verdicts",
        "schedule": 60.0,
    },
    "send-alert-digests-daily-at-0700": {
        "task": "alerts.tasks.send_daily_digests",
        "schedule": crontab(hour=7, minute=0),
    },
    # Waivers/attestations expiring within 7 days or expired in the last 2 (deduplicated).
    "alert-on-expiring-waivers-and-attestations-every-hour": {
        "task": "alerts.tasks.check_expiries",
        "schedule": 3600.0,
    },
    "alert-on-stale-cluster-data-every-hour": {
        "task": "alerts.tasks.check_stale_data",
        "schedule": 3600.0,
    },
    "refresh-fleet-history-every-15-minutes": {
        "task": "history.tasks.refresh_fleet_days",
        "schedule": 900.0,
    },
    "prune-detailed-history-daily-at-0330": {
        "task": "history.tasks.prune_history",
        "schedule": crontab(hour=3, minute=30),
    },
    # Waiver requests to those who may approve them, decisions to the requester: read from
    # the audit log (compliance sits below alerts and cannot call it), each event once.
    "notify-waiver-requests-and-decisions-every-minute": {
        "task": "alerts.tasks.notify_waiver_events",
        "schedule": 60.0,
    },
    # Re-sends notifications whose worker died mid-send (at-least-once; see alerts.delivery).
    "requeue-stuck-notifications-every-5-minutes": {
        "task": "alerts.tasks.requeue_stuck_notifications",
        "schedule": 300.0,
    },
}

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "rampart@localhost")

# --- Regressions and alerts -------------------------------------------------------------------
# The severity floor: no regression of any kind below it is emailed (critical|high|medium|low|
# info). Findings carry their check's severity, expiries the waived check's; the regressions of
# the cluster as a whole (score drop, coverage drop, failing or stale collections) carry
# RAMPART_ALERT_CLUSTER_SEVERITY, so they are sent while it is at or above the floor.
RAMPART_ALERT_MIN_SEVERITY = env_str("RAMPART_ALERT_MIN_SEVERITY", "high").lower()
RAMPART_ALERT_CLUSTER_SEVERITY = env_str("RAMPART_ALERT_CLUSTER_SEVERITY", "high").lower()
for _name, _value in (
    ("RAMPART_ALERT_MIN_SEVERITY", RAMPART_ALERT_MIN_SEVERITY),
    ("RAMPART_ALERT_CLUSTER_SEVERITY", RAMPART_ALERT_CLUSTER_SEVERITY),
):
    if _value not in {"critical", "high", "medium", "low", "info"}:
        raise ImproperlyConfigured(f"{_name}={_value!r}: use critical, high, medium, low or info")
RAMPART_ALERT_SCORE_DROP = env_int("RAMPART_ALERT_SCORE_DROP", 5)  # points between collections
RAMPART_ALERT_FAILED_RUNS = env_int("RAMPART_ALERT_FAILED_RUNS", 3)  # failed collections in a row
RAMPART_ALERT_STALE_HOURS = env_int("RAMPART_ALERT_STALE_HOURS", 24)  # live clusters only
# A notification `sending` this long lost its worker (the send task's hard limit is 90 s).
RAMPART_ALERT_SEND_TIMEOUT_MINUTES = env_int("RAMPART_ALERT_SEND_TIMEOUT_MINUTES", 15)
RAMPART_ALERT_MAX_ATTEMPTS = env_int("RAMPART_ALERT_MAX_ATTEMPTS", 6)

# --- History and retention -------------------------------------------------------------------
# Collections, evaluations and their verdicts are kept this many days (each cluster's latest
# always stays); the daily rollups that trends read are kept RAMPART_HISTORY_DAILY_DAYS
# (0 = forever). Pruning runs daily (history.tasks.prune_history).
RAMPART_HISTORY_DETAIL_DAYS = env_int("RAMPART_HISTORY_DETAIL_DAYS", 90)
RAMPART_HISTORY_DAILY_DAYS = env_int("RAMPART_HISTORY_DAILY_DAYS", 0)
if RAMPART_HISTORY_DETAIL_DAYS < 1 or RAMPART_HISTORY_DAILY_DAYS < 0:
    raise ImproperlyConfigured(
        "RAMPART_HISTORY_DETAIL_DAYS must be at least 1 and RAMPART_HISTORY_DAILY_DAYS at least 0"
    )

# Trend pages keep their rendered charts this long (0 = not at all); a new collection of the
# cluster shows at once, a waiver marker or the fleet's worst movers within this delay.
RAMPART_TREND_CACHE_SECONDS = env_int("RAMPART_TREND_CACHE_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Credential-shaped text (tokens, PEM blocks, user:password@ URLs) is masked in every
    # record a handler writes; Celery's own handlers get the same filter (config/celery.py).
    "filters": {
        "redact_credentials": {"()": "clusters.redaction.RedactingFilter"},
        "expected_denials": {"()": "config.log_filters.ExpectedDenialFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_credentials"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # The client logs request bodies at DEBUG, which could include tokens.
        "kubernetes": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Failed and locked-out logins are warnings; every successful one at INFO is noise.
        "axes": {"level": "WARNING"},
        # Report PDFs: WeasyPrint logs every page it lays out at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # A refused page (403) is one warning line; its traceback would only be noise.
        "django.request": {"filters": ["expected_denials"]},
    },
}
