"""Accounts and regions on the dashboard: the graph outlines each account's subdomains as the
placement settings put them (nothing when there is one account), a trace says where each
hop ran and marks those that crossed with their latency, and an event a bus policy refused is
shown as refused on the Failures page, read from the other account's dead-letter queue."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
from django.urls import reverse

from dashboard import aws
from dashboard.live.graph import CHIP_H, Graph, graph_build
from dashboard.readmodel import services
from dashboard.shared.placements import Settings, placements_of
from tests.dashboard import factories
from tests.dashboard.conftest import REGION, moto_client
from tests.dashboard.test_graph import _assert_nothing_overlaps, _boxes
from workflow.dead_letters import read_dead_letter
from workflow.model import CHOREOGRAPHY, Bus, Route, ToBus

HOME, LOYALTY = factories.HOME_ACCOUNT, factories.LOYALTY_ACCOUNT
HOME_OUTPUTS = {"Account": HOME, "Region": "us-east-1"}
TWO_ACCOUNTS = Settings(subdomain_accounts=f"loyalty={LOYALTY}", replica_region="eu-west-1")


def two_account_graph(model=CHOREOGRAPHY) -> Graph:
    return graph_build(model, placements=placements_of(TWO_ACCOUNTS, HOME_OUTPUTS, model))


def inside(box, boundary) -> bool:
    _, x1, y1, x2, y2 = box
    return (boundary.x <= x1 and x2 <= boundary.x + boundary.w
            and boundary.y <= y1 and y2 <= boundary.y + boundary.h)


def crosses(box, boundary) -> bool:
    """Whether a box straddles the outline (partly in, partly out)."""
    _, x1, y1, x2, y2 = box
    bx1, by1, bx2, by2 = boundary.x, boundary.y, boundary.x + boundary.w, boundary.y + boundary.h
    overlaps = x1 < bx2 and bx1 < x2 and y1 < by2 and by1 < y2
    return overlaps and not inside(box, boundary)


# --- the graph -------------------------------------------------------------------------


def test_one_account_draws_no_boundary_and_the_same_graph():
    alone = graph_build(placements=placements_of(Settings(), HOME_OUTPUTS))
    assert alone.boundaries == []
    assert alone.to_dict() == graph_build().to_dict()


def test_loyalty_in_its_own_account_is_outlined_and_labelled_apart_from_the_home_account():
    graph = two_account_graph()
    by_account: dict[str, list] = {}
    for boundary in graph.boundaries:
        by_account.setdefault(boundary.account, []).append(boundary)
    (loyalty,) = by_account[LOYALTY]
    assert loyalty.areas == ["loyalty"] and not loyalty.home
    assert loyalty.label == f"{LOYALTY} · us-east-1"
    # the home account around everything else framed: in the top row one run, in the bottom
    # row one on each side of Loyalty; and the replica, in the home account, in its region
    assert sorted(b.areas for b in by_account[HOME]) == [["observability"], ["order", "warehouse"],
                                                          ["payment"], ["replica"]]
    assert all(b.home and b.label == f"home {HOME} · us-east-1"
               for b in by_account[HOME] if b.areas != ["replica"])
    (replica,) = [b for b in by_account[HOME] if b.areas == ["replica"]]
    assert not replica.home and replica.label == f"{HOME} · eu-west-1"
    assert "replicated to eu-west-1" in next(b.detail for b in by_account[HOME]
                                             if b.areas == ["observability"])
    # Loyalty's bus and function are inside its outline, and nothing else is
    for node in graph.nodes:
        box = (node.id, node.x, node.y, node.x + node.w, node.y + node.h)
        assert inside(box, loyalty) == (node.area == "loyalty"), node.id


def test_boundaries_never_overlap_each_other_nor_cut_a_box_or_label_and_their_labels_fit():
    graph = two_account_graph()
    _assert_nothing_overlaps(graph)
    for a, b in itertools.combinations(graph.boundaries, 2):
        apart = (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)
        assert apart, f"{a.label} {a.areas} overlaps {b.label} {b.areas}"
    labels = [(f"label {b.areas}", b.label_left, b.label_y - 7, b.label_x, b.label_y + 7)
              for b in graph.boundaries]
    for boundary in graph.boundaries:
        for box in _boxes(graph):
            assert not crosses(box, boundary), f"{box[0]} straddles {boundary.areas}"
        assert boundary.x + 8 <= boundary.label_left, f"the label of {boundary.areas} overflows"
    for connector in graph.connectors:  # no outline runs through a line's caption
        if not connector.note:
            continue
        width = len(connector.note) * 5.9
        left = connector.note_x if connector.note_anchor == "start" else connector.note_x - width / 2
        top, bottom = connector.note_y - 9, connector.note_y + 2
        for boundary in graph.boundaries:
            for edge in (boundary.y, boundary.y + boundary.h):
                cut = top < edge < bottom and left < boundary.x + boundary.w and boundary.x < left + width
                assert not cut, f"{boundary.areas} cuts the caption {connector.note!r}"
    for label in labels:
        assert label[1] >= 0 and label[2] >= 0 and label[3] <= graph.width and label[4] <= graph.height
        for box in _boxes(graph):
            overlap = (label[1] < box[3] and box[1] < label[3] and label[2] < box[4]
                       and box[2] < label[4])
            assert not overlap, f"{label[0]} overlaps {box[0]}"


def test_a_route_added_across_the_boundary_is_drawn_crossing_the_outline():
    route = Route("order.cancelled", Bus.GLOBAL, ToBus(Bus.LOYALTY))
    model = dataclasses.replace(CHOREOGRAPHY, routes=(*CHOREOGRAPHY.routes, route))
    placements = placements_of(TWO_ACCOUNTS, HOME_OUTPUTS, model)
    assert route in placements.crossings(model)
    graph = two_account_graph(model)
    (loyalty,) = [b for b in graph.boundaries if b.account == LOYALTY]
    edge = next(edge for edge in graph.edges if edge.id == route.rule_id)
    connector = next(c for c in graph.connectors if c.id == edge.connector)
    chip = next(chip for chip in connector.chips if chip.edge == route.rule_id)
    assert chip.text == "order.cancelled"
    # its label outside the outline, on the line that ends at the loyalty bus, inside it
    assert not inside(("chip", chip.left, chip.y, chip.left + chip.w, chip.y + CHIP_H), loyalty)
    (x, y) = connector.points[-1]
    assert loyalty.x < x < loyalty.x + loyalty.w and loyalty.y < y < loyalty.y + loyalty.h
    _assert_nothing_overlaps(graph)


@pytest.mark.django_db
def test_the_live_page_draws_the_boundaries_the_settings_place(client, stack, settings):
    assert "data-boundary=" not in client.get("/").content.decode()
    settings.DASHBOARD_SUBDOMAIN_ACCOUNTS = f"loyalty={LOYALTY}"
    settings.DASHBOARD_HOME_ACCOUNT, settings.DASHBOARD_HOME_REGION = HOME, "us-east-1"
    html = client.get("/").content.decode()
    assert f'data-boundary="{LOYALTY}" data-region="us-east-1" data-areas="loyalty"' in html
    assert f">{LOYALTY} · us-east-1</text>" in html
    assert f">home {HOME} · us-east-1</text>" in html


def test_settings_that_could_not_have_been_deployed_draw_one_place():
    # Warehouse is fed by a queue on the global bus: it cannot leave alone
    placements = placements_of(Settings(subdomain_accounts=f"warehouse={LOYALTY}"), HOME_OUTPUTS)
    assert placements.single


# --- the trace -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_trace_says_where_each_hop_ran_and_marks_the_crossings_with_their_latency(client, stack):
    events = factories.happy_path(order_id="ord-across")
    services.observation_record(observations=factories.published_in(
        events, {"loyalty.points-awarded": LOYALTY}))

    html = client.get(reverse("order-trace", args=["ord-across"])).content.decode()

    rows = html.split('<details class="span"')[1:]
    assert len(rows) == 5
    where = [row.split("data-where", 1)[1].split("</span>", 1)[0].rsplit(">", 1)[1] for row in rows]
    assert where == [f"{HOME} · us-east-1"] * 3 + [f"{LOYALTY} · us-east-1", f"{HOME} · us-east-1"]
    crossed = [(row.split('data-crossed-from="', 1)[1].split('"', 1)[0],
                row.split("data-crossed", 1)[1].split("</span>", 1)[0].rsplit(">", 1)[1])
               if "data-crossed" in row else None for row in rows]
    # each step is 40 ms after its cause (factories.STEP)
    assert crossed == [None, None, None, (f"{HOME} · us-east-1", "⇄ 40 ms"),
                       (f"{LOYALTY} · us-east-1", "⇄ 40 ms")]
    assert f"ran in {LOYALTY} · us-east-1 (its cause in {HOME} · us-east-1)" in rows[3]

    body = client.get("/api/orders/ord-across").json()
    points = body["events"][3]
    assert (points["account"], points["crossedFrom"]["account"], points["crossLatencyMs"]) == (
        LOYALTY, HOME, 40.0)
    assert body["events"][2]["crossedFrom"] is None


@pytest.mark.django_db
def test_a_trace_in_one_account_shows_no_boundary(client, stack):
    services.observation_record(observations=factories.published_in(
        factories.happy_path(order_id="ord-home"), {}))
    html = client.get(reverse("order-trace", args=["ord-home"])).content.decode()
    assert "data-where" not in html and "data-crossed" not in html
    assert f"ran in {HOME} · us-east-1" in html  # still said, in each event's detail


# --- a refusal ------------------------------------------------------------------------------


def test_a_dead_letter_with_no_permissions_reads_as_refused_by_the_bus_policy():
    letter = read_dead_letter({"MessageId": "m-1", "Body": json.dumps(factories.envelope(
        factories.happy_path()[3])), "MessageAttributes": {
        "ERROR_CODE": {"StringValue": "NO_PERMISSIONS", "DataType": "String"},
        "ERROR_MESSAGE": {"StringValue": f"bus policy does not allow account {LOYALTY}",
                          "DataType": "String"},
        "TARGET_ARN": {"StringValue": f"arn:aws:events:us-east-1:{HOME}:event-bus/choreo-global",
                       "DataType": "String"}}})
    assert letter.kind == "refused"
    assert letter.reason == (f"refused by the bus policy of arn:aws:events:us-east-1:{HOME}:"
                             f"event-bus/choreo-global: bus policy does not allow account {LOYALTY}")
    assert letter.event_type == "loyalty.points-awarded"


@pytest.fixture
def refused_in_loyalty_account(moto_stack, settings):
    """The Loyalty stack in its own account of the embedded AWS, its rule-target DLQ holding
    the points the home bus's policy refused."""
    settings.DASHBOARD_SUBDOMAIN_ACCOUNTS = f"loyalty={LOYALTY}"
    settings.DASHBOARD_HOME_ACCOUNT, settings.DASHBOARD_HOME_REGION = HOME, REGION
    sqs = moto_client(moto_stack.context.endpoint_url, "sqs")
    sqs.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", LOYALTY))
    url = sqs.create_queue(QueueName="choreo-loyalty-RuleTargetDlq")["QueueUrl"]
    assert f"/{LOYALTY}/" in url
    event = factories.envelope(factories.happy_path(order_id="ord-refused")[3])
    event["account"] = LOYALTY
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
        name: {"DataType": "String", "StringValue": value} for name, value in {
            "ERROR_CODE": "NO_PERMISSIONS",
            "ERROR_MESSAGE": f"bus policy does not allow account {LOYALTY}",
            "RULE_ARN": f"arn:aws:events:{REGION}:{LOYALTY}:rule/choreo-loyalty-loyalty/points",
            "TARGET_ARN": f"arn:aws:events:{REGION}:{HOME}:event-bus/choreo-global"}.items()})
    context = aws.in_account(LOYALTY, stack_name="choreo-loyalty", region=REGION)
    assert context is not None
    context._outputs = aws.StackOutputs("choreo-loyalty", {"RuleTargetDeadLetterQueueUrl": url,
                                                           "Account": LOYALTY})
    yield url
    sqs.delete_queue(QueueUrl=url)
    context._outputs = None


@pytest.mark.django_db
def test_the_failures_page_shows_the_refused_event_in_the_other_accounts_queue(
        client, refused_in_loyalty_account, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("failures")).content.decode()
    section = html.split('id="queue-RuleTarget-loyalty"', 1)[1].split("</section>", 1)[0]
    assert f'data-queue-account="{LOYALTY}"' in section
    assert 'data-count="1"' in html.split('id="queue-RuleTarget-loyalty"', 1)[1][:200]
    assert 'badge kind-refused">refused' in section
    assert "loyalty.points-awarded" in section and "ord-refused" in section
    assert f"refused by the bus policy of arn:aws:events:{REGION}:{HOME}" in section
    assert "Redrive" not in section  # redriven where it is, not from here

    counts = client.get(reverse("dead-letters-json")).json()
    assert {"name": "RuleTarget-loyalty", "count": 1} in counts["queues"]
