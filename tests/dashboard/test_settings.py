"""Settings differ between profiles by environment variables only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.settings import database_from_url
from tests.services import redis_url

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import json, django; django.setup(); from django.conf import settings as s; "
         "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
         "'name': str(s.DATABASES['default']['NAME']), "
         "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
         "'capacity': s.CHANNEL_LAYERS['default']['CONFIG']['capacity'], "
         "'login': s.DASHBOARD_REQUIRE_LOGIN, 'middleware': s.MIDDLEWARE, 'debug': s.DEBUG, "
         "'hosts': s.ALLOWED_HOSTS, "
         "'prefixes': [s.CHANNEL_LAYERS['default']['CONFIG'].get('prefix'), "
         "s.CACHES['default'].get('KEY_PREFIX')]}))")


def settings_under(**environment: str) -> subprocess.CompletedProcess[str]:
    return run_under(PROBE, **environment)


def run_under(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Python code run with the dashboard's settings read from `environment` alone."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CHOREO_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DJANGO_SETTINGS_MODULE": "dashboard.settings", **environment})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_local_mode_is_sqlite_in_memory_layer_and_no_login(tmp_path):
    result = settings_under(CHOREO_CACHE_DIR=str(tmp_path))
    found = json.loads(result.stdout)
    assert found["db"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / "dashboard.sqlite3")
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["capacity"] >= 10_000  # the default 100 drops events silently under load
    assert not found["login"] and not found["debug"]
    assert {"127.0.0.1", "localhost"} <= set(found["hosts"])


def test_production_is_postgres_redis_and_login_for_everything():
    result = settings_under(CHOREO_PROFILE="production", DJANGO_SECRET_KEY="s3cret",
                            DATABASE_URL="postgres://dashboard:pw@db.internal:5433/choreo",
                            REDIS_URL="redis://cache.internal:6379/1")
    found = json.loads(result.stdout)
    assert found["db"] == "django.db.backends.postgresql" and found["name"] == "choreo"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["login"]
    assert "django.contrib.auth.middleware.LoginRequiredMiddleware" in found["middleware"]


def test_dashboards_sharing_a_redis_keep_apart_by_prefix():
    """Two dashboards on one Redis would otherwise stream each other's events and count each
    other's failed sign-ins."""
    base = {"CHOREO_PROFILE": "production", "DJANGO_SECRET_KEY": "s3cret",
            "DATABASE_URL": "postgres://dashboard:pw@db.internal:5433/choreo"}
    default = json.loads(settings_under(**base).stdout)
    staging = json.loads(settings_under(**base, DASHBOARD_REDIS_PREFIX="staging").stdout)
    assert default["prefixes"] == ["choreo", "choreo"]
    assert staging["prefixes"] == ["staging", "staging"]


def test_production_refuses_to_start_without_a_secret_key_or_a_database():
    no_key = settings_under(CHOREO_PROFILE="production", DATABASE_URL="postgres://x@y/z")
    no_database = settings_under(CHOREO_PROFILE="production", DJANGO_SECRET_KEY="s3cret")
    assert no_key.returncode != 0 and "DJANGO_SECRET_KEY" in no_key.stderr
    assert no_database.returncode != 0 and "DATABASE_URL" in no_database.stderr


def test_database_urls_name_postgresql_or_a_sqlite_file_and_anything_else_is_refused(tmp_path):
    postgres = database_from_url("postgres://dashboard:p%40w@db.internal:5433/choreo")
    assert {key: postgres[key] for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")} == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "choreo", "USER": "dashboard",
        "PASSWORD": "p@w", "HOST": "db.internal", "PORT": 5433}
    assert postgres["CONN_MAX_AGE"] == 60 and postgres["CONN_HEALTH_CHECKS"]
    assert database_from_url("postgresql://127.0.0.1/dash")["HOST"] == "127.0.0.1"
    for url in (f"sqlite://{tmp_path}/a.sqlite3", f"sqlite:///{tmp_path}/a.sqlite3"):
        sqlite = database_from_url(url)
        assert sqlite["ENGINE"] == "django.db.backends.sqlite3", url
        assert sqlite["NAME"] == tmp_path / "a.sqlite3", url
        assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE", url
    for url, says in (("mysql://dashboard:pw@db/choreo", "scheme 'mysql' is not supported"),
                      ("db.internal/choreo", "scheme '' is not supported"),
                      ("postgres://dashboard:s3cret@db:port/choreo", "is not a database URL")):
        with pytest.raises(ImproperlyConfigured, match=says) as refused:
            database_from_url(url)
        assert "s3cret" not in str(refused.value)


PRODUCTION = {"CHOREO_PROFILE": "production", "DJANGO_SECRET_KEY": "k" * 60 + "Ab9#",
              "DATABASE_URL": "postgres://dashboard:pw@db.internal:5433/choreo"}


def test_production_refuses_debug_pages():
    result = settings_under(**PRODUCTION, DJANGO_DEBUG="1")
    assert result.returncode != 0 and "DJANGO_DEBUG is refused" in result.stderr


def test_the_local_profile_refuses_to_serve_beyond_this_machine():
    """A forgotten CHOREO_PROFILE on a server must not open a dashboard without login."""
    for environment in ({"CHOREO_HOST": "0.0.0.0"}, {"DJANGO_ALLOWED_HOSTS": "dash.example.com"}):
        result = settings_under(**environment)
        assert result.returncode != 0, environment
        assert "CHOREO_PROFILE=production" in result.stderr
    assert settings_under(CHOREO_HOST="localhost").returncode == 0


def test_production_passes_the_deployment_checklist_without_a_warning():
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CHOREO_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**env, **PRODUCTION}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no issues (0 silenced)" in result.stdout


QUIET_RECEIVE = """
import asyncio, django
django.setup()
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    quiet = RedisChannelLayer.brpop_timeout + 2

    async def later():
        await asyncio.sleep(quiet)
        await layer.send(channel, {"type": "late"})

    sender = asyncio.create_task(later())
    message = await layer.receive(channel)
    await sender
    print(message["type"])

asyncio.run(main())
"""


def test_a_production_consumer_waits_out_a_quiet_spell_on_redis():
    """A websocket's consumer waits on Redis for its next frame: a quiet spell longer than one
    blocking pop must not fail it (it did with redis-py 8's 5-second read timeout, dropping
    every quiet websocket)."""
    result = run_under(QUIET_RECEIVE, **PRODUCTION, REDIS_URL=redis_url())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "late"


PROXY_PROBE = ("import json, django; django.setup(); from django.conf import settings as s; "
               "print(json.dumps({'proxies': s.DASHBOARD_TRUSTED_PROXIES, "
               "'ssl_header': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))")


def test_naming_trusted_proxies_says_the_dashboard_is_behind_one():
    def found(**environment: str) -> dict[str, object]:
        result = run_under(PROXY_PROBE, **PRODUCTION, **environment)
        assert result.returncode == 0, result.stderr[-2000:]
        return dict(json.loads(result.stdout))

    forwarded_proto = ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found() == {"proxies": [], "ssl_header": None}
    assert found(DJANGO_BEHIND_PROXY="1") == {"proxies": [], "ssl_header": forwarded_proto}
    assert found(DJANGO_TRUSTED_PROXIES="10.0.0.5, 2001:db8::/32") == {
        "proxies": ["10.0.0.5", "2001:db8::/32"], "ssl_header": forwarded_proto}
    assert found(DJANGO_TRUSTED_PROXIES="10.0.0.5", DJANGO_BEHIND_PROXY="0")["ssl_header"] is None
    refused = run_under(PROXY_PROBE, **PRODUCTION, DJANGO_TRUSTED_PROXIES="10.0.0.5,lb.internal")
    assert refused.returncode != 0 and "'lb.internal'" in refused.stderr
