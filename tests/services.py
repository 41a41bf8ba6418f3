"""The PostgreSQL and Redis that the production profile's tests run against.

`CHOREO_TEST_POSTGRES_URL` names a database to connect to for creating one database per run
(default `postgres://127.0.0.1:5432/postgres`, as the local user); `CHOREO_TEST_REDIS_URL`
names the Redis (default `redis://127.0.0.1:6379/0`), shared by runs that keep apart by key
prefix. A test that needs one that is not there is skipped, saying which.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get("CHOREO_TEST_POSTGRES_URL", "postgres://127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHOREO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    """The Redis to test against, or a skip when none answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL} (CHOREO_TEST_REDIS_URL): {error}")
    return REDIS_URL


def unique_name(kind: str) -> str:
    """A name no other run uses at the same time."""
    return f"choreo_test_{kind}_{uuid.uuid4().hex[:10]}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own for one run, dropped after it: its URL. Skips when PostgreSQL
    cannot be reached."""
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (CHOREO_TEST_POSTGRES_URL): {error}")
    name = unique_name("db")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            parts = urlsplit(POSTGRES_URL)
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own for one run on the shared Redis; its keys are deleted after."""
    import redis

    prefix = unique_name("redis")
    try:
        yield prefix
    finally:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3) as client, \
                contextlib.suppress(redis.RedisError):  # no Redis, no keys
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
