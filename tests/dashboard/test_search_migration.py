"""Events kept before search existed become searchable when the read model is migrated."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.dashboard import factories

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("dashboard", "0006_conformance")]
AFTER = [("dashboard", "0007_search")]


def test_the_migration_fills_the_terms_of_events_already_kept():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    event = factories.placed(order_id="ord-kept", customer_id="c-before")
    old.get_model("dashboard", "ObservedEvent").objects.create(
        event_id=event.id, type=event.type, source=event.source, order_id="ord-kept",
        time=event.time, observed_at=event.time, data=event.data)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    from dashboard.insight import search
    query = search.search_query_parse([("customer", "c-before")])
    assert [e.event_id for e in search.event_search(query=query).events] == [event.id]
