"""Settings, from environment variables only.

Two profiles (`CHOREO_PROFILE`):
- `local` (default): one process bound to 127.0.0.1, SQLite under the cache folder, the
  in-memory channel layer, no login — like Jaeger's or Temporal's development UIs.
- `production`: several ASGI processes and one poller process sharing PostgreSQL
  (`DATABASE_URL`) and Redis (`REDIS_URL`), started together by `manage.py serve_production`;
  Django auth for every page and websocket, staff for actions; `DJANGO_SECRET_KEY` is
  required.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
ROOT = BASE_DIR.parent


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DATABASE_SCHEMES = ("postgres", "postgresql", "sqlite")
"""What DATABASE_URL may name: the production profile's PostgreSQL, or a SQLite file."""


def database_from_url(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a `postgres://user:password@host:port/name` or
    `sqlite:///absolute/path` URL, as dj-database-url reads it. A SQLite path is taken from
    the root whether it is written with three slashes or four."""
    scheme = urlsplit(url).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(f"DATABASE_URL scheme {scheme!r} is not supported")
    try:
        # Connections are reused by the ASGI server's worker threads.
        database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60,
                                                              conn_health_checks=True))
    except ValueError as error:  # the library's own errors; they never repeat the URL
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if scheme == "sqlite":
        return _sqlite(Path("/") / database["NAME"])
    return database


def _sqlite(path: Path) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # The poller writes while pages read: WAL lets readers go on during a write, and
            # IMMEDIATE transactions queue writers instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        # A file on this machine: keep each thread's connection rather than opening one (and
        # running the pragmas above) for every batch the poller records.
        "CONN_MAX_AGE": None,
    }


PROFILE = os.environ.get("CHOREO_PROFILE", "local").strip().lower()
if PROFILE not in {"local", "production"}:
    raise ImproperlyConfigured(f"CHOREO_PROFILE must be local or production, not {PROFILE!r}")
PRODUCTION = PROFILE == "production"

DEBUG = _flag("DJANGO_DEBUG")
if PRODUCTION and DEBUG:
    # Debug pages show settings, SQL and stack frames to whoever makes a request fail.
    raise ImproperlyConfigured("DJANGO_DEBUG is refused in the production profile")

if PRODUCTION:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
    if not SECRET_KEY:
        raise ImproperlyConfigured("the production profile needs DJANGO_SECRET_KEY")
else:
    # Local mode has no login and binds to the loopback interface; nothing signed with this
    # key outlives the process that matters.
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "local-mode-only-not-secret")

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
_bind_host = os.environ.get("CHOREO_HOST", "127.0.0.1")
ALLOWED_HOSTS = list(dict.fromkeys(["127.0.0.1", "localhost", "[::1]", _bind_host,
                                    *_list("DJANGO_ALLOWED_HOSTS")]))
if not PRODUCTION and not set(ALLOWED_HOSTS) <= set(LOOPBACK_HOSTS):
    # Fail closed: the local profile has no login and a well-known key, so it serves this
    # machine alone. A forgotten CHOREO_PROFILE on a server must not open the dashboard.
    raise ImproperlyConfigured(
        "the local profile serves only this machine (no login): CHOREO_HOST and "
        "DJANGO_ALLOWED_HOSTS may name only 127.0.0.1, localhost or ::1; set "
        "CHOREO_PROFILE=production to serve others")
CSRF_TRUSTED_ORIGINS = _list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "dashboard.apps.DashboardConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.web.csp.ContentSecurityPolicyMiddleware",
    "dashboard.web.query_strings.NulInQueryStringMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Login for everything in production: pages, JSON and (in the consumers) websockets.
DASHBOARD_REQUIRE_LOGIN = PRODUCTION or _flag("DASHBOARD_REQUIRE_LOGIN")
if DASHBOARD_REQUIRE_LOGIN:
    MIDDLEWARE.append("django.contrib.auth.middleware.LoginRequiredMiddleware")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "live"
LOGOUT_REDIRECT_URL = "login"

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.shared.access.dashboard_context",
                "dashboard.insight.drift_views.drift_count_context",
            ],
        },
    },
]

_cache_dir = Path(os.environ.get("CHOREO_CACHE_DIR", str(ROOT / ".cache")))
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
elif PRODUCTION:
    raise ImproperlyConfigured("the production profile needs DATABASE_URL (postgres://...)")
else:
    DATABASES = {"default": _sqlite(_cache_dir / "dashboard.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The in-memory layer's default capacity of 100 makes group_send drop messages silently
# under load; broadcasts are batched, so this bounds memory, not throughput.
CHANNEL_CAPACITY = int(os.environ.get("DASHBOARD_CHANNEL_CAPACITY", "10000"))
# What grows with history is bounded (docs/dashboard.md, "Limits"). Anyone may publish under
# any subject, so a trace loads at most this many events: the first half observed and the
# newest half.
DASHBOARD_TRACE_EVENTS = max(2, int(os.environ.get("DASHBOARD_TRACE_EVENTS", "400")))
# Observed events are kept as long as the log group keeps their history (a month: 30 days,
# cdk/constructs/defaults.py), so that a replay into an empty read model restores exactly what
# is kept; older events and the orders left without any are pruned. 0 keeps everything.
DASHBOARD_RETENTION_DAYS = max(0, int(os.environ.get("DASHBOARD_RETENTION_DAYS", "30")))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Dashboards sharing one Redis (staging beside production, test runs) keep their groups and
# counters apart by prefix: otherwise each would stream the other's events.
REDIS_PREFIX = os.environ.get("DASHBOARD_REDIS_PREFIX", "choreo")
# A consumer waits for its next message with a blocking pop that Redis ends after 5 seconds;
# the socket must wait longer than that. redis-py 8 reads for at most 5 seconds by default,
# and a quiet websocket then fails with "Timeout reading from" Redis and is dropped.
REDIS_READ_TIMEOUT_SECONDS = 15
if PRODUCTION:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL,
                                  "socket_timeout": REDIS_READ_TIMEOUT_SECONDS,
                                  "socket_connect_timeout": 5}],
                       "prefix": REDIS_PREFIX, "capacity": CHANNEL_CAPACITY, "expiry": 30},
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                    "CONFIG": {"capacity": CHANNEL_CAPACITY, "expiry": 30}},
    }

# Websockets, per process: at most this many connections, and this many from one client
# address; each message at most this size, and a subscribing connection this many at once,
# then this many a second (dashboard/live/consumers.py).
DASHBOARD_WS_MAX_PER_PROCESS = int(os.environ.get("DASHBOARD_WS_MAX_PER_PROCESS", "1000"))
DASHBOARD_WS_MAX_PER_ADDRESS = int(os.environ.get("DASHBOARD_WS_MAX_PER_ADDRESS", "20"))
DASHBOARD_WS_MAX_MESSAGE_BYTES = int(os.environ.get("DASHBOARD_WS_MAX_MESSAGE_BYTES", "4096"))
DASHBOARD_WS_MESSAGE_BURST = int(os.environ.get("DASHBOARD_WS_MESSAGE_BURST", "200"))
DASHBOARD_WS_MESSAGES_PER_SECOND = float(os.environ.get("DASHBOARD_WS_MESSAGES_PER_SECOND", "10"))

# A search (dashboard/insight/search.py) is stopped after this long, and answers 503 saying so.
DASHBOARD_SEARCH_SECONDS = float(os.environ.get("DASHBOARD_SEARCH_SECONDS", "5"))

# The failures page's look at a dead-letter queue is shared by every viewer for this long
# (in the cache), and takes at most this many receives (ten letters each).
DASHBOARD_DEAD_LETTER_PEEK_SECONDS = int(os.environ.get("DASHBOARD_DEAD_LETTER_PEEK_SECONDS", "15"))
DASHBOARD_DEAD_LETTER_PEEK_RECEIVES = int(os.environ.get("DASHBOARD_DEAD_LETTER_PEEK_RECEIVES", "5"))

# A redrive job that has reported no progress for this long counts as failed (its process
# stopped), and another may start (dashboard/failures/redrive_jobs.py).
DASHBOARD_REDRIVE_STALE_SECONDS = int(os.environ.get("DASHBOARD_REDRIVE_STALE_SECONDS", "300"))

# Stuck orders (dashboard/insight/stuck.py): how long the step after an event may take is
# derived from the model (workflow/deadlines.py) plus this margin; DASHBOARD_STEP_DEADLINES
# (JSON) sets it in seconds instead, by event type or by a route's rule id, e.g.
# {"order.placed": 60, "PaymentTakenToLoyalty": 300}.
DASHBOARD_STEP_DEADLINE_MARGIN_SECONDS = float(
    os.environ.get("DASHBOARD_STEP_DEADLINE_MARGIN_SECONDS", "30"))
DASHBOARD_STEP_DEADLINES: dict[str, float] = {
    str(key): float(value)
    for key, value in json.loads(os.environ.get("DASHBOARD_STEP_DEADLINES") or "{}").items()}

# Shared by the dashboard's processes in production (failed sign-ins are counted there).
if PRODUCTION:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": REDIS_PREFIX}}

STATIC_URL = "/static/"
STATIC_ROOT = _cache_dir / "static"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Production sits behind HTTPS; set DJANGO_SECURE_COOKIES=0 and DJANGO_SSL_REDIRECT=0 to try
# the profile over plain HTTP.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _flag("DJANGO_SECURE_COOKIES", PRODUCTION)
SECURE_SSL_REDIRECT = _flag("DJANGO_SSL_REDIRECT", PRODUCTION)
# Browsers remember to use HTTPS only: a year, subdomains included, and ready for the preload
# list (DJANGO_HSTS_SECONDS=0 turns it off while trying a domain out).
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _flag("DJANGO_HSTS_PRELOAD", True)
# The proxies whose X-Forwarded-For names the client (addresses or CIDR networks, comma
# separated): without them every client behind a proxy is the proxy's address, and one
# client's failed sign-ins lock out all the others. Read in dashboard/shared/client_address.py.
DASHBOARD_TRUSTED_PROXIES = _list("DJANGO_TRUSTED_PROXIES")
for _proxy in DASHBOARD_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"DJANGO_TRUSTED_PROXIES: {_proxy!r} is neither an IP address nor a network") from None
# Behind a TLS-terminating proxy, the proxy says the request came over HTTPS. Trusted only when
# set: a client reaching Django directly could send the header itself. Naming trusted proxies
# says the dashboard is behind one, so it sets this too unless DJANGO_BEHIND_PROXY=0.
if _flag("DJANGO_BEHIND_PROXY", bool(DASHBOARD_TRUSTED_PROXIES)):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[dashboard] %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"dashboard": {"handlers": ["console"], "level": os.environ.get(
        "DASHBOARD_LOG_LEVEL", "INFO"), "propagate": False}},
}

# Where each part of the choreography runs (workflow/placement.py), for the boundaries the
# graph draws, the account and region of a trace's hops and the other accounts' dead-letter
# queues on the Failures page: the settings the deployment was made with (the same
# variables `python -m choreo up` reads). The home account and region default to the home
# stack's `Account` and `Region` outputs.
DASHBOARD_SUBDOMAIN_ACCOUNTS = os.environ.get("CHOREO_SUBDOMAIN_ACCOUNTS", "")
DASHBOARD_REPLICA_REGION = os.environ.get("CHOREO_REPLICA_REGION", "")
DASHBOARD_HOME_ACCOUNT = os.environ.get("CHOREO_HOME_ACCOUNT", "")
DASHBOARD_HOME_REGION = os.environ.get("CHOREO_HOME_REGION", "")
# Whether the deployment carries the v1-only sales ledger and its translator
# (workflow/legacy.py): the same variable `python -m choreo up` reads, so the graph draws
# what runs.
DASHBOARD_LEGACY_CONSUMER = _flag("CHOREO_LEGACY_CONSUMER")
# On AWS, a boto3 profile per other account to read its stack's dead-letter queues with
# (`222222222222=loyalty-readonly`); the embedded AWS needs none.
DASHBOARD_ACCOUNT_PROFILES = os.environ.get("CHOREO_ACCOUNT_PROFILES", "")
