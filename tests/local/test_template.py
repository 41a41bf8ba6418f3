"""The moto adaptations, each pinned: if moto closes a gap, the test says which."""

from __future__ import annotations

from local.template import adapt_for_moto

TEMPLATE = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "choreo-loyalty"}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "h.handler"}},
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}},
        "ApiPermission": {"Type": "AWS::Lambda::Permission",
                          "Properties": {"SourceArn": {"Fn::Join": ["", [{"Ref": "Api"}, "/*"]]}}},
        "Connection": {"Type": "AWS::Events::Connection", "Properties": {}},
        "Destination": {"Type": "AWS::Events::ApiDestination",
                        "Properties": {"ConnectionArn": {"Fn::GetAtt": ["Connection", "Arn"]}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {"FunctionName": {"Ref": "Fn"}, "Enabled": True}},
        "DirectRule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": {"Ref": "Bus"},
            "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]},
                         "RetryPolicy": {"MaximumRetryAttempts": 2}}]}},
        "NotifyRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": ["Destination", "Arn"]},
                         "InputPath": "$.detail", "RoleArn": "role",
                         "HttpParameters": {"HeaderParameters": {"Content-Type": "x"}}}]}},
        "QueueRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
        "Key": {"Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"PasswordLength": 48}}},
        "Receiver": {"Type": "AWS::Lambda::Function", "Properties": {
            "Handler": "r.handler", "Environment": {"Variables": {"KEY_ARN": {"Ref": "Key"}}}}},
        "ReceiverUrl": {"Type": "AWS::Lambda::Url", "Properties": {
            "AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": ["Receiver", "Arn"]}}},
    },
    "Outputs": {
        "OrderApiUrl": {"Value": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}},
        "LoyaltyEventBusName": {"Value": {"Ref": "Bus"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "NotificationEndpoint": {"Value": {"Fn::GetAtt": ["ReceiverUrl", "FunctionUrl"]}},
    },
}
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:choreo-Key-AbCdEf"


def adapted():
    return adapt_for_moto(TEMPLATE, api_url="http://127.0.0.1:4567", provided={"Key": KEY_ARN})


def test_lambda_and_api_destination_targets_are_tapped_into_queues():
    result = adapted()
    kinds = {(tap.kind, tap.rule_logical_id, tap.target_logical_id) for tap in result.taps}
    assert kinds == {("function", "DirectRule", "Fn"),
                     ("api-destination", "NotifyRule", "Destination")}
    resources = result.template["Resources"]
    for tap in result.taps:
        assert resources[tap.queue_logical_id]["Type"] == "AWS::SQS::Queue"
    [notify_target] = resources["NotifyRule"]["Properties"]["Targets"]
    assert notify_target["Arn"]["Fn::GetAtt"][0].startswith("LocalTapNotifyRule")
    assert "InputPath" not in notify_target and "HttpParameters" not in notify_target
    # the runtime keeps the original target to apply its input path and headers itself
    notify_tap = next(tap for tap in result.taps if tap.kind == "api-destination")
    assert notify_tap.target["InputPath"] == "$.detail"


def test_queue_targets_are_left_to_moto():
    [target] = adapted().template["Resources"]["QueueRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}


def test_event_source_mappings_are_disabled_for_the_runtime_to_poll():
    assert adapted().template["Resources"]["Mapping"]["Properties"]["Enabled"] is False


def test_unsupported_resources_go_with_whatever_refers_to_them():
    resources = adapted().template["Resources"]
    for gone in ("Api", "ApiPermission", "Connection", "Destination"):
        assert gone not in resources
    assert "Fn" in resources


def test_bus_refs_become_names_and_the_api_url_is_the_local_front():
    result = adapted().template
    assert result["Resources"]["DirectRule"]["Properties"]["EventBusName"] == "choreo-loyalty"
    assert result["Outputs"]["LoyaltyEventBusName"]["Value"] == "choreo-loyalty"
    assert result["Outputs"]["OrderApiUrl"]["Value"] == "http://127.0.0.1:4567"


def test_the_original_template_is_not_modified():
    adapted()
    assert TEMPLATE["Resources"]["Mapping"]["Properties"]["Enabled"] is True
    assert "Api" in TEMPLATE["Resources"]


def test_a_function_url_is_a_path_of_the_local_front():
    result = adapted()
    assert "ReceiverUrl" not in result.template["Resources"]
    assert result.template["Outputs"]["NotificationEndpoint"]["Value"] == \
        "http://127.0.0.1:4567/_lambda-url/Receiver/"
    assert result.function_urls == {"ReceiverUrl": "http://127.0.0.1:4567/_lambda-url/Receiver/"}
    assert result.url_functions == {"ReceiverUrl": "Receiver"}


def test_a_secret_made_outside_the_stack_is_referred_to_by_its_arn():
    resources = adapted().template["Resources"]
    assert "Key" not in resources
    assert resources["Receiver"]["Properties"]["Environment"]["Variables"]["KEY_ARN"] == KEY_ARN


def test_a_bus_policy_is_left_for_the_deploy_to_apply_and_a_target_in_another_account_kept():
    """moto's CloudFormation does not model `AWS::Events::EventBusPolicy` (`local.deploy`
    applies it with PutPermission); a rule's target on another account's bus is moto's to
    deliver (`local.moto_patches.event_buses_across_accounts`), role and DLQ kept."""
    other_bus = "arn:aws:events:us-east-1:222222222222:event-bus/choreo-loyalty-loyalty"
    template = {"Resources": {
        **TEMPLATE["Resources"],
        "BusFrom222222222222": {"Type": "AWS::Events::EventBusPolicy", "Properties": {
            "EventBusName": {"Ref": "Bus"}, "StatementId": "FromAccount222222222222",
            "Statement": {"Effect": "Allow", "Action": "events:PutEvents",
                          "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                          "Resource": {"Fn::GetAtt": ["Bus", "Arn"]}}}},
        "AcrossRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{"Id": "Target0", "Arn": other_bus, "RoleArn": "role",
                         "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}}]}},
    }, "Outputs": {}}
    result = adapt_for_moto(template, api_url="http://127.0.0.1:4567",
                            provided={"Key": KEY_ARN})
    resources = result.template["Resources"]
    assert "BusFrom222222222222" not in resources
    assert "Bus" in resources
    assert resources["AcrossRule"]["Properties"]["Targets"] == \
        template["Resources"]["AcrossRule"]["Properties"]["Targets"]
    assert all(tap.rule_logical_id != "AcrossRule" for tap in result.taps)
