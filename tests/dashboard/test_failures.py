"""The failures page: every dead-letter queue and its dead letters (from moto's SQS), redrive
through the page, the invalid events seen on the buses, and the local runtime's chaos knobs
(against the stand-in order API)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from django.test import Client, override_settings
from moto import mock_aws

from dashboard import aws
from dashboard.readmodel import services
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories
from tests.dashboard.conftest import REGION, StubOrderApi

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
EVENT = {"version": "0", "id": "eb-1", "detail-type": "payment.taken", "source": "payment",
         "detail": {"specversion": "1.0", "id": "ce-1", "type": "payment.taken",
                    "source": "payment", "subject": "ord-dead-1"}}


@dataclass
class DeadLetterStack:
    sqs: Any
    urls: dict[str, str]

    def dead_letter(self, queue: str, body: str, reason: str | None = None) -> str:
        attributes = {"reason": {"DataType": "String", "StringValue": reason}} if reason else {}
        return str(self.sqs.send_message(QueueUrl=self.urls[queue], MessageBody=body,
                                         MessageAttributes=attributes)["MessageId"])

    def count(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.urls[queue], AttributeNames=["ApproximateNumberOfMessages",
                                                       "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(value) for value in attributes["Attributes"].values())

    def bodies(self, queue: str) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.urls[queue], MaxNumberOfMessages=10,
                                            VisibilityTimeout=0).get("Messages", [])
        return [message["Body"] for message in messages]


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch, order_api: StubOrderApi) -> Iterator[DeadLetterStack]:
    """A stack with a queue and its dead-letter queue, and a rule targets' dead-letter queue,
    in moto's in-process AWS."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        boto3.client("events", region_name=REGION).create_event_bus(Name="choreo-global")
        urls = {name: sqs.create_queue(QueueName=f"choreo-{name}")["QueueUrl"]
                for name in ("Payment", "PaymentDlq", "RuleTargetDlq")}
        aws.configure(region=REGION, stack_name="choreo", endpoint_url=None, outputs={
            "PaymentQueueUrl": urls["Payment"], "PaymentDeadLetterQueueUrl": urls["PaymentDlq"],
            "RuleTargetDeadLetterQueueUrl": urls["RuleTargetDlq"],
            "GlobalEventBusName": "choreo-global", "OrderApiUrl": order_api.url},
            credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
        yield DeadLetterStack(sqs=sqs, urls=urls)
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9", outputs={})


def production(settings: Any) -> Any:
    middleware = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    return override_settings(DASHBOARD_REQUIRE_LOGIN=True, PRODUCTION=True, MIDDLEWARE=middleware)


def section(html: str, queue: str) -> str:
    found = re.search(rf'<section class="panel dlq[^"]*" id="queue-{queue}".*?</section>', html, re.S)
    assert found, f"no section for {queue}"
    return found.group(0)


def test_each_dead_letter_queue_shows_its_count_and_its_dead_letters(client, dead_letters):
    refused = "payment.taken: 'data' is a required property"
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT), reason=refused)
    dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "detail": {**EVENT["detail"], "id": "ce-2"}}))

    response = client.get("/failures/")

    assert response.status_code == 200
    html = response.content.decode()
    payment = section(html, "Payment")
    assert 'data-count="2"' in payment
    assert "refused" in payment and "payment.taken: &#x27;data&#x27; is a required property" in payment
    assert "exhausted" in payment and "failed on every delivery" in payment
    assert payment.count(">payment.taken<") == 2
    assert 'href="/orders/ord-dead-1"' in payment
    assert "back to the Payment queue" in payment  # where a redrive sends them
    assert 'data-count="0"' in section(html, "RuleTarget")
    assert "published again on the global bus" in section(html, "RuleTarget")
    assert html.index('id="queue-Payment"') < html.index('id="queue-RuleTarget"')  # non-empty first
    assert 'data-dead-letter-badge data-counted title="dead letters waiting">2<' in html  # the nav badge


def test_looking_at_dead_letters_neither_loses_nor_hides_them(client, dead_letters):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT), reason="refused")

    client.get("/failures/")
    client.get("/failures/")

    assert dead_letters.count("PaymentDlq") == 1
    assert dead_letters.bodies("PaymentDlq") == [json.dumps(EVENT)]  # visible again at once


def receives_counted() -> list[str]:
    """Every ReceiveMessage the dashboard makes from now on, by queue URL."""
    calls: list[str] = []
    aws.current().client("sqs").meta.events.register(
        "before-parameter-build.sqs.ReceiveMessage",
        lambda params, **_: calls.append(params["QueueUrl"]))
    return calls


def test_viewers_share_one_look_at_the_dead_letters(client, dead_letters):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT), reason="refused")
    assert "payment.taken" in section(client.get("/failures/").content.decode(), "Payment")
    receives = receives_counted()

    again = client.get("/failures/").content.decode()
    other_viewer = Client().get("/failures/").content.decode()

    assert receives == []  # the first look is shared, not repeated
    for html in (again, other_viewer):
        payment = section(html, "Payment")
        assert payment.count(">payment.taken<") == 1
        assert re.search(r"data-seen-at[^>]*>letters as seen [\d.]+ (ms|s) ago", payment)


def test_the_look_is_taken_again_once_it_is_stale(client, dead_letters, settings):
    settings.DASHBOARD_DEAD_LETTER_PEEK_SECONDS = 0
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    client.get("/failures/")
    receives = receives_counted()

    client.get("/failures/")

    assert dead_letters.urls["PaymentDlq"] in receives


def test_one_look_receives_a_bounded_number_of_times(client, dead_letters, settings):
    settings.DASHBOARD_DEAD_LETTER_PEEK_RECEIVES = 3
    for number in range(60):
        dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "id": f"eb-{number}"}))
    receives = receives_counted()

    payment = section(client.get("/failures/").content.decode(), "Payment")

    assert len(receives) == 3
    assert payment.count('class="letter"') == 30
    assert "showing 30 of 60" in payment
    assert dead_letters.count("PaymentDlq") == 60


def test_a_redriven_letter_is_gone_from_the_next_look(client, dead_letters):
    chosen = dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "id": "eb-other"}))
    assert chosen in client.get("/failures/").content.decode()

    client.post("/failures/Payment/redrive", {"message_id": chosen})

    assert chosen not in section(client.get("/failures/").content.decode(), "Payment")


def test_payloads_are_pretty_json_when_they_parse_and_escaped_always(client, dead_letters):
    dead_letters.dead_letter("RuleTargetDlq", SCRIPT)
    dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "note": SCRIPT}), reason=SCRIPT)

    html = client.get("/failures/").content.decode()

    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(html, "RuleTarget")
    assert '  &quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;' in section(html, "Payment")


def redrives_finished() -> None:
    """Wait for the redrive jobs this process runs in the background."""
    for thread in threading.enumerate():
        if thread.name.startswith("redrive-"):
            thread.join(timeout=10)
            assert not thread.is_alive(), f"{thread.name} still runs"


def held_redrives() -> threading.Event:
    """Redrive jobs wait, before touching their queue, until the event is set."""
    go_on = threading.Event()

    def hold(**_: Any) -> None:
        if threading.current_thread().name.startswith("redrive-"):
            go_on.wait(timeout=10)

    aws.current().client("sqs").meta.events.register("before-call.sqs.GetQueueAttributes", hold)
    return go_on


@pytest.mark.django_db(transaction=True)
def test_redriving_a_queue_hands_its_dead_letters_back_and_says_how_many(client, dead_letters):
    for number in range(3):
        dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "id": f"eb-{number}"}))

    # Not followed at once: the job writes its progress meanwhile, and the tests' in-memory
    # SQLite refuses a read of a table another connection is writing.
    response = client.post("/failures/Payment/redrive")
    redrives_finished()

    assert response.status_code == 302 and response["Location"] == "/failures/"
    page = client.get("/failures/").content.decode()
    assert "Payment: redrive started; its progress shows below." in page
    assert "Redrive finished: 3 moved." in section(page, "Payment")
    assert dead_letters.count("PaymentDlq") == 0
    assert sorted(json.loads(body)["id"] for body in dead_letters.bodies("Payment")) == \
        ["eb-0", "eb-1", "eb-2"]


@pytest.mark.django_db(transaction=True)
def test_a_redrive_runs_in_the_background_one_per_queue_and_shows_its_progress(client, dead_letters):
    for number in range(3):
        dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "id": f"eb-{number}"}))
    go_on = held_redrives()

    started = client.post("/failures/Payment/redrive")
    again = client.post("/failures/Payment/redrive", follow=True).content.decode()

    assert started.status_code == 302
    assert dead_letters.count("PaymentDlq") == 3  # the request did not wait for the redrive
    assert "Payment: a redrive is running already (0 moved so far)" in again
    payment = section(again, "Payment")
    assert 'data-redrive-job="Payment" data-state="running"' in payment
    assert "Redrive running: 0 moved." in payment and "data-redrive-all" not in payment
    assert 'style="' not in payment  # the page's Content-Security-Policy refuses them
    [running] = client.get("/api/redrives").json()["jobs"]
    assert (running["queue"], running["state"], running["moved"]) == ("Payment", "running", 0)

    go_on.set()
    redrives_finished()

    [done] = client.get("/api/redrives").json()["jobs"]
    assert {key: done[key] for key in ("state", "total", "moved", "kept", "failed", "remaining")} \
        == {"state": "finished", "total": 3, "moved": 3, "kept": 0, "failed": 0, "remaining": 0}
    assert done["finishedAt"] and done["summary"] == "Redrive finished: 3 moved."
    assert dead_letters.count("PaymentDlq") == 0
    client.post("/failures/RuleTarget/redrive")  # another queue's redrive is not held back
    redrives_finished()
    assert len(client.get("/api/redrives").json()["jobs"]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_redrive_whose_process_stopped_counts_as_failed_and_may_be_started_again(
        client, dead_letters):
    from dashboard.failures.redrive_jobs import RedriveJob

    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    RedriveJob.objects.create(queue="Payment", total=5, moved=2, started_at=long_ago,
                              updated_at=long_ago + timedelta(minutes=1))

    [stopped] = client.get("/api/redrives").json()["jobs"]
    assert stopped["state"] == "failed" and stopped["error"] == "its process stopped"
    client.post("/failures/Payment/redrive")
    redrives_finished()

    assert "redrive started" in client.get("/failures/").content.decode()
    assert RedriveJob.objects.get(started_at=long_ago).state == "failed"
    assert dead_letters.count("PaymentDlq") == 0


@pytest.mark.django_db(transaction=True)
def test_a_redrive_that_fails_says_why(client, dead_letters):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    dead_letters.sqs.delete_queue(QueueUrl=dead_letters.urls["Payment"])  # nowhere to go back to

    client.post("/failures/Payment/redrive")
    redrives_finished()

    [job] = client.get("/api/redrives").json()["jobs"]
    assert job["state"] == "failed" and "NonExistentQueue" in job["error"]
    assert "Redrive failed (" in section(client.get("/failures/").content.decode(), "Payment")
    assert dead_letters.count("PaymentDlq") == 1


def test_redriving_one_dead_letter_leaves_the_others(client, dead_letters):
    chosen = dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    dead_letters.dead_letter("PaymentDlq", json.dumps({**EVENT, "id": "eb-other"}))
    assert f'name="message_id" value="{chosen}"' in client.get("/failures/").content.decode()

    response = client.post("/failures/Payment/redrive", {"message_id": chosen}, follow=True)

    assert f"Payment: redrove message {chosen}." in response.content.decode()
    assert dead_letters.bodies("Payment") == [json.dumps(EVENT)]
    assert [json.loads(body)["id"] for body in dead_letters.bodies("PaymentDlq")] == ["eb-other"]
    again = client.post("/failures/Payment/redrive", {"message_id": chosen}, follow=True)
    assert "is no longer there" in again.content.decode()


@pytest.mark.django_db(transaction=True)
def test_what_holds_no_event_is_kept_and_said_so(client, dead_letters):
    dead_letters.dead_letter("RuleTargetDlq", "not an event")

    client.post("/failures/RuleTarget/redrive")
    redrives_finished()

    assert "Redrive finished: 0 moved, 1 kept (no event to hand back)." in \
        section(client.get("/failures/").content.decode(), "RuleTarget")
    assert dead_letters.count("RuleTargetDlq") == 1


def test_an_unknown_queue_is_404_and_redrive_is_post_only(client, dead_letters):
    assert client.post("/failures/Nope/redrive").status_code == 404
    assert client.get("/failures/Payment/redrive").status_code == 405


def test_redrive_is_csrf_protected(dead_letters):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    browser = Client(enforce_csrf_checks=True)

    assert browser.post("/failures/Payment/redrive").status_code == 403
    assert dead_letters.count("PaymentDlq") == 1


@pytest.mark.django_db(transaction=True)
def test_in_production_only_staff_may_redrive(client, dead_letters, settings, django_user_model):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))
    with production(settings):
        assert client.get("/failures/").status_code == 302  # to the login page
        client.force_login(django_user_model.objects.create_user("viewer"))
        page = client.get("/failures/").content.decode()
        assert "data-redrive-all" not in page and 'name="message_id"' not in page
        refused = client.post("/failures/Payment/redrive")
        assert refused.status_code == 403
        assert "redriving dead letters needs a staff account" in refused.content.decode()
        assert dead_letters.count("PaymentDlq") == 1

        client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
        assert "data-redrive-all" in client.get("/failures/").content.decode()
        assert client.post("/failures/Payment/redrive").status_code == 302
        redrives_finished()
        assert dead_letters.count("PaymentDlq") == 0


def test_dead_letter_counts_as_json_for_the_nav_badge(client, dead_letters):
    dead_letters.dead_letter("PaymentDlq", json.dumps(EVENT))

    body = client.get("/api/dead-letters").json()

    assert body == {"total": 1, "queues": [{"name": "Payment", "count": 1},
                                           {"name": "RuleTarget", "count": 0}], "problem": None}
    assert dead_letters.bodies("PaymentDlq") == [json.dumps(EVENT)]  # counted, not received


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_aws_is_a_clear_message_not_an_error(client, stack):
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                  outputs={"PaymentQueueUrl": "http://127.0.0.1:9/000000000000/Payment",
                           "PaymentDeadLetterQueueUrl": "http://127.0.0.1:9/000000000000/PaymentDlq"},
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})

    page = client.get("/failures/")
    counts = client.get("/api/dead-letters").json()
    one = client.post("/failures/Payment/redrive", {"message_id": "m-1"}, follow=True)
    unstarted = client.post("/failures/Payment/redrive", follow=True)  # no bus output: not begun
    aws.current().outputs().values["GlobalEventBusName"] = "choreo-global"
    client.post("/failures/Payment/redrive")
    redrives_finished()

    assert page.status_code == 200 and "SQS could not be asked" in page.content.decode()
    assert counts["total"] is None and counts["problem"]["title"] == "SQS could not be asked"
    assert one.status_code == 200 and "Payment: could not redrive" in one.content.decode()
    assert "Payment: could not redrive: stack choreo has no output GlobalEventBusName" in \
        unstarted.content.decode()
    [job] = client.get("/api/redrives").json()["jobs"]
    assert job["state"] == "failed" and "Could not connect" in job["error"]


def test_a_stack_that_cannot_be_read_is_a_clear_message(client, stack):
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})

    page = client.get("/failures/")

    assert page.status_code == 200
    assert "AWS unreachable" in page.content.decode()
    assert "the stack choreo could not be read at http://127.0.0.1:9" in page.content.decode()


def test_invalid_events_are_shown_with_their_reason(client, stack):
    event = factories.placed(order_id="ord-bad")
    broken = factories.schema_failing(event)
    observed_at = datetime.now(UTC)
    services.observation_record(observations=[
        observation_from_queue_body(factories.queue_body(broken), observed_at=observed_at, origin="live"),
        observation_from_queue_body(json.dumps({"bus": "global", "event": {"detail": SCRIPT}}),
                                    observed_at=observed_at, origin="live")])

    html = client.get("/failures/").content.decode()
    part = client.get("/failures/?partial=invalid").content.decode()

    assert "seen on a bus but refused by the catalogue" in html
    assert html.count('class="letter invalid-event"') == 2
    assert ">order.placed<" in html and 'href="/orders/ord-bad"' in html
    [reason] = [row.invalid_reason for row in services.ObservedEvent.objects.filter(order_id="ord-bad")]
    assert reason and reason.replace("'", "&#x27;") in html
    assert SCRIPT not in html
    assert part.startswith('<div data-part="invalid">') and "<html" not in part


def test_the_chaos_knobs_are_hidden_where_there_are_none(client, stack):
    html = client.get("/failures/").content.decode()
    assert "Chaos knobs" not in html  # the stand-in order API has no /_local/chaos
    assert client.post("/failures/chaos", {"off": "1"}).status_code == 404


def test_the_chaos_knobs_show_their_values_and_the_runtimes_counters(client, stack, order_api):
    order_api.with_chaos().chaos["jitter_seconds"] = 2.5

    html = client.get("/failures/").content.decode()

    assert "Chaos knobs" in html
    assert 'name="jitter_seconds" value="2.5"' in html
    for label, value in (("injected failures", 7), ("duplicates", 3), ("poisoned records", 2),
                         ("held back", 11), ("async retries", 4)):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    assert "events arrive out of order" in html  # each knob says what it does


def test_setting_the_chaos_knobs_puts_them_to_the_runtime(client, stack, order_api):
    order_api.with_chaos()

    response = client.post("/failures/chaos", {"duplicate_rate": "0.2", "failure_rate": "0",
                                               "jitter_seconds": "1.5", "poison_rate": "0.05"},
                           follow=True)

    assert order_api.chaos_puts == [{"duplicate_rate": 0.2, "failure_rate": 0.0,
                                     "jitter_seconds": 1.5, "poison_rate": 0.05}]
    assert response.redirect_chain == [("/failures/", 302)]
    assert "Chaos knobs set: duplicate_rate 0.2, failure_rate 0, jitter_seconds 1.5, poison_rate 0.05." \
        in response.content.decode()
    assert 'name="poison_rate" value="0.05"' in response.content.decode()

    client.post("/failures/chaos", {"off": "1"})
    assert order_api.chaos == dict.fromkeys(order_api.chaos, 0.0)


def test_the_runtimes_refusal_is_shown_next_to_its_knob(client, stack, order_api):
    order_api.with_chaos()

    response = client.post("/failures/chaos", {"duplicate_rate": "0", "failure_rate": "0",
                                               "jitter_seconds": "0", "poison_rate": "2"})

    assert response.status_code == 200  # an expected refusal, not a failed request
    html = response.content.decode()
    error = re.search(r'data-error-for="poison_rate">([^<]*)<', html)
    assert error and error.group(1).strip() == "poison_rate must be between 0 and 1"
    assert 'name="poison_rate" value="2"' in html  # what was typed stays
    assert order_api.chaos["poison_rate"] == 0.0


def test_a_knob_that_is_not_a_number_is_refused_before_the_runtime_is_asked(client, stack, order_api):
    order_api.with_chaos()

    response = client.post("/failures/chaos", {"duplicate_rate": "lots", "failure_rate": "0",
                                               "jitter_seconds": "0", "poison_rate": "0"})

    assert response.status_code == 200  # an expected refusal, not a failed request
    assert re.search(r'data-error-for="duplicate_rate">Enter a number', response.content.decode())
    assert order_api.chaos_puts == []


def test_in_production_there_are_no_chaos_knobs(client, stack, order_api, settings, django_user_model):
    order_api.with_chaos()
    with production(settings):
        client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
        assert "Chaos knobs" not in client.get("/failures/").content.decode()
        assert client.post("/failures/chaos", {"off": "1"}).status_code == 404
    assert order_api.chaos_puts == []


def test_the_nav_links_the_failures_page_everywhere(client, stack):
    for url in ("/", "/orders/", "/failures/"):
        html = client.get(url).content.decode()
        assert '<a href="/failures/"' in html and ">Failures<" in html, url
        assert "dashboard/js/nav.js" in html, url


def test_the_backlog_counts_what_the_functions_have_still_to_do(client, dead_letters):
    for n in range(3):
        dead_letters.sqs.send_message(QueueUrl=dead_letters.urls["Payment"], MessageBody=str(n))
    dead_letters.sqs.receive_message(QueueUrl=dead_letters.urls["Payment"], MaxNumberOfMessages=1)
    # a message the queue holds back (as the order outbox's checks are) is not work yet
    dead_letters.sqs.send_message(QueueUrl=dead_letters.urls["Payment"], MessageBody="later",
                                  DelaySeconds=60)

    body = client.get("/api/backlog").json()

    assert body["total"] == 3
    assert body["queues"] == [{"queue": "Payment", "consumer": "Payment", "waiting": 2,
                               "inFlight": 1, "delayed": 1}]
    assert body["problem"] is None


def test_an_unreachable_aws_leaves_the_backlog_unknown(client, stack):
    aws.configure(region=REGION, stack_name="choreo", endpoint_url="http://127.0.0.1:9",
                  outputs={"PaymentQueueUrl": "http://127.0.0.1:9/000000000000/Payment"},
                  credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    body = client.get("/api/backlog").json()
    assert body["total"] is None and body["problem"]["title"]
