"""Events kept before search existed become searchable when the read model is migrated."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.dashboard import factories

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("dashboard", "0006_conformance")]
AFTER = [("dashboard", "0007_search")]
SHARING = [("dashboard", "0010_recording_cost")]


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
    terms = executor.loader.project_state(AFTER).apps.get_model("dashboard", "SearchTerm")
    assert terms.objects.filter(event__event_id=event.id, path="order.customerId",
                                value="c-before").exists()

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from dashboard.insight import search
    query = search.search_query_parse([("customer", "c-before")])
    assert [e.event_id for e in search.event_search(query=query).events] == [event.id]


def test_the_order_part_of_events_already_kept_is_shared_when_migrated():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    events = factories.happy_path(order_id="ord-kept", customer_id="c-before")[:2]
    for event in events:
        old.get_model("dashboard", "ObservedEvent").objects.create(
            event_id=event.id, type=event.type, source=event.source, order_id="ord-kept",
            time=event.time, observed_at=event.time, data=event.data)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(SHARING)  # 0007 fills every pair per event; 0010 shares the order's

    new = executor.loader.project_state(SHARING).apps
    assert new.get_model("dashboard", "TermSet").objects.count() == 1
    assert not new.get_model("dashboard", "SearchTerm").objects.filter(
        path__startswith="order.").exists()
    assert new.get_model("dashboard", "SearchTerm").objects.filter(
        path="reservation.reservationId").count() == 1

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from dashboard.insight import search
    query = search.search_query_parse([("customer", "c-before")])
    assert sorted(e.event_id for e in search.event_search(query=query).events) == \
        sorted(e.id for e in events)


def test_the_shared_pairs_go_back_to_each_event_when_migrated_back():
    events = factories.happy_path(order_id="ord-kept", customer_id="c-back")[:2]
    from dashboard.readmodel import services
    services.observation_record(observations=factories.sightings_of(events))

    executor = MigrationExecutor(connection)
    executor.migrate([("dashboard", "0009_route_health")])

    old = executor.loader.project_state([("dashboard", "0009_route_health")]).apps
    terms = old.get_model("dashboard", "SearchTerm").objects.filter(
        path="order.customerId", value="c-back")
    assert sorted(terms.values_list("event__event_id", flat=True)) == sorted(e.id for e in events)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
