"""Which AWS the dashboard and its commands talk to: the embedded one by default in the local
profile, AWS itself in production, and either by CHOREO_AWS."""

from __future__ import annotations

import pytest

from dashboard.aws import UnknownAws, _from_environment


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHOREO_PROFILE", "CHOREO_AWS", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "CHOREO_STACK_NAME"):
        monkeypatch.delenv(name, raising=False)


def test_the_local_profile_talks_to_the_embedded_aws() -> None:
    context = _from_environment()
    assert context.endpoint_url == "http://127.0.0.1:4566"
    assert context.credentials == {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    assert context.stack_name == "choreo"


def test_choreo_aws_points_a_local_dashboard_at_a_deployed_stack(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREO_AWS", "aws")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("CHOREO_STACK_NAME", "choreo-dev")
    context = _from_environment()
    # boto3's own endpoint and default credential chain
    assert context.endpoint_url is None and context.credentials == {}
    assert (context.region, context.stack_name) == ("eu-west-1", "choreo-dev")


def test_production_defaults_to_aws_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREO_PROFILE", "production")
    assert _from_environment().endpoint_url is None


def test_an_unknown_aws_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREO_AWS", "localstack")
    with pytest.raises(UnknownAws, match="CHOREO_AWS must be one of embedded, aws"):
        _from_environment()
