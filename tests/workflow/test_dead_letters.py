from __future__ import annotations

import json

from workflow.dead_letters import read_dead_letter

EVENT = {"version": "0", "id": "e", "detail-type": "payment.taken", "source": "payment",
         "detail": {"type": "payment.taken", "subject": "ord-1", "id": "ce-1"}}


def message(body: str, attributes: dict | None = None, receive_count: str = "4") -> dict:
    return {"MessageId": "m-1", "Body": body, "MessageAttributes": attributes or {},
            "Attributes": {"ApproximateReceiveCount": receive_count,
                           "SentTimestamp": "1767225600000"}}


def test_a_refused_event_carries_the_consumers_reason():
    letter = read_dead_letter(message("Test message.", {
        "reason": {"DataType": "String", "StringValue": "not JSON: Expecting value"}}))
    assert letter.kind == "refused"
    assert letter.reason == "not JSON: Expecting value"
    assert letter.eventbridge_event is None


def test_an_exhausted_message_says_how_often_it_was_tried():
    letter = read_dead_letter(message(json.dumps(EVENT)))
    assert letter.kind == "exhausted"
    assert letter.attempts == 4
    assert letter.event_type == "payment.taken" and letter.order_id == "ord-1"


def test_looking_at_a_dead_letter_again_does_not_make_it_tried_more():
    # every look at a dead-letter queue is a receive: the count grows, the tries do not
    looked_at_twice = message(json.dumps(EVENT), receive_count="5")
    assert read_dead_letter(looked_at_twice, max_receive_count=3).attempts == 3
    undelivered = message(json.dumps(EVENT), {
        "ERROR_CODE": {"DataType": "String", "StringValue": "HTTP_500"},
        "RETRY_ATTEMPTS": {"DataType": "String", "StringValue": "185"}}, receive_count="5")
    assert read_dead_letter(undelivered).attempts == 186


def test_an_undeliverable_event_carries_eventbridge_error_attributes():
    letter = read_dead_letter(message(json.dumps(EVENT), {
        "ERROR_CODE": {"DataType": "String", "StringValue": "HTTP_401"},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": "401 unauthorized"},
        "RULE_ARN": {"DataType": "String", "StringValue": "arn:rule"}}))
    assert letter.kind == "undeliverable"
    assert letter.reason == "HTTP_401: 401 unauthorized"
    assert letter.rule_arn == "arn:rule"
    assert letter.attempts is None  # no RETRY_ATTEMPTS: its receive count only counts looks


def test_a_failed_async_invocation_yields_its_request_payload():
    record = {"version": "1.0", "requestContext": {"approximateInvokeCount": 3,
                                                   "condition": "RetriesExhausted"},
              "requestPayload": EVENT,
              "responsePayload": {"errorType": "KeyError", "errorMessage": "'points'"}}
    letter = read_dead_letter(message(json.dumps(record)))
    assert letter.kind == "async-failure"
    assert letter.attempts == 3
    assert letter.reason == "KeyError: 'points'"
    assert letter.eventbridge_event == EVENT
    assert letter.to_dict()["deadLetteredAt"].startswith("2026-01-01")


def test_a_refused_letter_holding_json_nested_past_a_parser_is_still_read():
    """A consumer refuses an event as it came; nested past what Python's parser recurses
    through, it must not keep the failures page from reading every other letter."""
    body = '{"detail": {"data": ' + "[" * 5000 + "]" * 5000 + "}}"
    letter = read_dead_letter(message(body, {
        "reason": {"DataType": "String", "StringValue": "nested deeper than 32 levels"}}))
    assert (letter.kind, letter.reason, letter.eventbridge_event) == (
        "refused", "nested deeper than 32 levels", None)


def test_counts_that_are_not_ascii_digits_are_unknown_not_a_failure():
    undelivered = read_dead_letter(message(json.dumps(EVENT), {
        "ERROR_CODE": {"DataType": "String", "StringValue": "HTTP_500"},
        "RETRY_ATTEMPTS": {"DataType": "String", "StringValue": "18\u00b2"}}))
    assert undelivered.attempts is None
    record = {"requestContext": "not an object", "requestPayload": EVENT,
              "responsePayload": "not an object either"}
    failed = read_dead_letter(message(json.dumps(record)))
    assert (failed.kind, failed.attempts) == ("async-failure", 4)
    counted = {"requestContext": {"approximateInvokeCount": "3\u00b2"}, "requestPayload": EVENT}
    assert read_dead_letter(message(json.dumps(counted))).attempts == 4
