"""What every test shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The test database on SQLite is a file, as the dashboard's own is, not Django's default
    shared-cache in-memory database. In memory, a page that reads while the poller writes
    (every browser test with live events) fails at once with "database table is locked":
    shared-cache locks are per table and do not wait. A file keeps the settings' WAL journal
    and busy timeout, so readers go on during a write as they do when the dashboard runs."""
    from django.conf import settings

    database: dict[str, Any] = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        path: Path = tmp_path_factory.mktemp("database") / "test.sqlite3"
        database["TEST"] = {**database.get("TEST", {}), "NAME": str(path)}
