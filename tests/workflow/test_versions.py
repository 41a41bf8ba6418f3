"""Event versions: published schemas never change, each new version declares (truly) whether
it is backward compatible, every version has an example that validates, and consumers read
every published version through the one converter."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from workflow.catalogue import COMPATIBILITY, SCHEMA_VERSIONS, Compatibility, validate_data
from workflow.envelope import InvalidEvent, parse_cloudevent
from workflow.examples import example_event, example_versions
from workflow.money import Money, decimal_text, from_decimal_text
from workflow.versions import breaking_changes, emitted_versions, read_as, written_as

# The fingerprint of every version ever published. A published schema never changes: a change
# of shape is a new version, added beside it, which declares its compatibility below.
PUBLISHED = {
    ("order.placed", 1): "24f6bbe868dfb1c0",
    ("order.placed", 2): "2a04954404c4c8aa",
    ("warehouse.stock-reserved", 1): "83f7e4b83b24901c",
    ("warehouse.stock-unavailable", 1): "81aec79ed63a01dd",
    ("payment.taken", 1): "83aff7460276249e",
    ("payment.declined", 1): "5138867cebc5b94b",
    ("loyalty.points-awarded", 1): "7752257faed09af4",
    ("warehouse.order-shipped", 1): "c2e525452c7c85b0",
    ("warehouse.stock-released", 1): "9d44512357f33ace",
    ("order.rejected", 1): "84656a0181a0a548",
    ("order.cancelled", 1): "5796608250649f65",
}


def _fingerprint(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]


def test_a_published_version_never_changes_and_none_is_withdrawn():
    published = {(event_type, version): _fingerprint(schema)
                 for event_type, versions in SCHEMA_VERSIONS.items()
                 for version, schema in versions.items()}
    changed = {key for key in PUBLISHED if published.get(key) != PUBLISHED[key]}
    assert not changed, f"published schemas changed or withdrawn (add a new version): {changed}"
    unrecorded = set(published) - set(PUBLISHED)
    assert not unrecorded, f"new versions to record here once published: {unrecorded}"


def test_every_later_version_declares_its_compatibility_truly():
    for event_type, versions in SCHEMA_VERSIONS.items():
        ordered = sorted(versions)
        assert ordered == list(range(1, len(ordered) + 1)), f"{event_type}: versions 1, 2, ..."
        for before, after in itertools.pairwise(ordered):
            declared = COMPATIBILITY.get((event_type, after))
            assert declared is not None, f"{event_type} {after} declares no compatibility"
            problems = breaking_changes(versions[before], versions[after])
            assert (declared is Compatibility.BREAKING) == bool(problems), (event_type, after,
                                                                             problems)
    assert set(COMPATIBILITY) <= {(t, v) for t, vs in SCHEMA_VERSIONS.items() for v in vs if v > 1}


def test_order_placed_2_is_breaking_for_what_it_changes():
    problems = breaking_changes(SCHEMA_VERSIONS["order.placed"][1],
                                SCHEMA_VERSIONS["order.placed"][2])
    assert "data.order.total.amount: required, and no longer required or gone" in problems
    assert "data.order.total.value: new, where no other field was allowed" in problems
    assert "data.order.lines[].unitPrice.amount: required, and no longer required or gone" in \
        problems


@pytest.mark.parametrize(("old", "new", "breaking"), [
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
     {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}, True),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
     {"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}}, True),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
     {"type": "object", "required": ["a", "b"],
      "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}, False),
    ({"enum": ["x", "y"]}, {"enum": ["x", "y", "z"]}, True),
    ({"enum": ["x", "y"]}, {"enum": ["x"]}, False),
])
def test_breaking_changes_are_told_structurally(old, new, breaking):
    assert bool(breaking_changes(old, new)) == breaking


@pytest.mark.parametrize(("event_type", "version"), example_versions())
def test_every_version_has_an_example_that_validates_against_it(event_type, version):
    example = example_event(event_type, version=version)

    assert example["dataschema"] == f"urn:choreo:schema:{event_type}:{version}"
    validate_data(event_type, example["data"], version)
    assert parse_cloudevent(example).dataschema == example["dataschema"]


def test_a_consumer_reads_version_2_as_version_1_with_the_same_amounts():
    published = parse_cloudevent(example_event("order.placed", version=2))
    assert published.order["total"] == {"value": "24.00", "currency": "GBP"}

    read = read_as(published)

    assert read.dataschema == "urn:choreo:schema:order.placed:1"
    assert read.order["total"] == {"amount": 2400, "currency": "GBP"}
    assert read.order["lines"][0]["unitPrice"] == {"amount": 1200, "currency": "GBP"}
    assert read.data == example_event("order.placed")["data"]
    assert (read.id, read.subject, read.correlation_id) == (published.id, published.subject,
                                                            published.correlation_id)
    version_1 = parse_cloudevent(example_event("order.placed"))
    assert read_as(version_1) == version_1


def test_an_amount_finer_than_its_currency_is_refused_not_rounded():
    example = example_event("order.placed", version=2)
    example["data"]["order"]["total"]["value"] = "24.001"

    with pytest.raises(InvalidEvent, match="not readable"):
        read_as(parse_cloudevent(example))


def test_the_producer_writes_what_consumers_read_back():
    version_1 = parse_cloudevent(example_event("order.placed"))
    assert read_as(written_as(version_1, 2)) == version_1
    assert written_as(version_1, 1) is version_1


def test_the_setting_names_published_versions_only():
    assert emitted_versions(None) == {}
    assert emitted_versions("order.placed=2") == {"order.placed": 2}
    assert emitted_versions(" order.placed = 1 ,") == {"order.placed": 1}
    with pytest.raises(ValueError, match="no published version"):
        emitted_versions("order.placed=3")
    with pytest.raises(KeyError):
        emitted_versions("order.shipped=2")
    for not_ascii in ("order.placed=\u0662", "order.placed=\u00b2"):  # Arabic-Indic 2, superscript 2
        with pytest.raises(ValueError, match="no published version"):
            emitted_versions(not_ascii)


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (2400, "GBP", "24.00"), (5, "EUR", "0.05"), (1500, "JPY", "1500"), (1234, "BHD", "1.234")])
def test_money_as_decimal_text_and_back(amount, currency, text):
    assert decimal_text(Money(amount, currency)) == text
    assert from_decimal_text(text, currency) == Money(amount, currency)


@pytest.mark.parametrize("text", ["\u0662\u0664.00", "24.\u00b2", "\u00b2", "-1.00", "1.000"])
def test_an_amount_is_ascii_digits(text):
    with pytest.raises(ValueError, match="not an amount"):
        from_decimal_text(text, "GBP")
