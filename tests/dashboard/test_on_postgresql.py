"""The read model on PostgreSQL, the production profile's database, which refuses what SQLite
keeps: a NUL character in text or JSON, NaN in JSON, a lone surrogate. The tests of hostile
events, those of what recording costs (each read of the read model still reads an index,
shared search pairs) and those of search's bounds (its own statement timeout) run again in a
pytest of their own, with DATABASE_URL naming a PostgreSQL server, on a test database made for
the run and dropped after it.

The server is `CHOREO_TEST_POSTGRES_URL` (postgres://postgres@127.0.0.1:5432/postgres unless
set); the test is skipped only when that server cannot be reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("CHOREO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
MODULES = ["tests/dashboard/test_hostile_events.py",
           # the reads an index served still read one; shared search pairs
           "tests/dashboard/test_recording_cost.py",
           # search's bounds: terms, a NUL, a time beyond a datetime, the statement timeout
           "tests/dashboard/test_search_limits.py"]


def unreachable(url: str) -> str | None:
    """Why the server cannot be reached, or None if it can."""
    try:
        with psycopg.connect(url, connect_timeout=5):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip() or type(error).__name__


def drop(database: str) -> None:
    """pytest-django makes test_<name> and drops it at the end of the run, unless a connection
    is still open then or the run never got there."""
    with psycopg.connect(SERVER, autocommit=True) as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def test_no_one_event_breaks_a_page_or_its_batch_on_postgresql():
    if connection.vendor == "postgresql":
        pytest.skip("this run is on PostgreSQL already, the tests of hostile events with it")
    problem = unreachable(SERVER)
    if problem:
        pytest.skip(f"PostgreSQL unreachable at {SERVER}: {problem}")
    database = f"choreo_{uuid.uuid4().hex[:12]}"
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("CHOREO_", "DJANGO_", "DATABASE_URL"))}
    environment["DATABASE_URL"] = urlunsplit(urlsplit(SERVER)._replace(path=f"/{database}"))

    try:
        run = subprocess.run([sys.executable, "-m", "pytest", *MODULES, "-q", "-p", "no:cacheprovider",
                              "--create-db", "-m", "not browser"],
                             cwd=ROOT, env=environment, capture_output=True, text=True, timeout=240)
    finally:
        drop(f"test_{database}")

    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
