"""Reading a template as a whole (``cloudformation.loader.load_app``): parameters, region and
account, Conditions, and what is listed as ignored or unsupported rather than dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hubbub.runtime.cloudformation import AppSpec, load_app
from tests.unit.runtime.cloudformation.builders import TEMPLATE, fn, write

# -- the project's template -----------------------------------------------------------------


def test_parameter_overrides_flow_into_environment_and_stage(tmp_path: Path) -> None:
    """An overridden parameter changes what depends on it: here the stage."""
    app = load_app(TEMPLATE, parameter_overrides={"Stage": "live", "RoomRetentionSeconds": "60"})
    env = app.functions["ConnectFunction"].environment
    assert env["CONNECTIONS_URL"].endswith("/live")
    assert env["ROOM_RETENTION_SECONDS"] == "60"
    assert app.websocket_apis["WebSocketApi"].stage == "live"


def test_region_and_account_shape_the_arns() -> None:
    """The region and account given end up in every ARN."""
    app = load_app(TEMPLATE, region="eu-central-1", account_id="999988887777", stack_name="s")
    assert app.functions["ConnectFunction"].arn == (
        "arn:aws:lambda:eu-central-1:999988887777:function:s-ConnectFunction"
    )


def test_resources_without_local_effect_are_listed_not_dropped(app: AppSpec) -> None:
    """Permissions, the secret and the API Gateway wiring are listed as ignored, the on-failure
    queue is read (it is created in the embedded moto), and nothing in the project's template is
    unsupported."""
    ignored = dict(app.ignored)
    assert ignored["ConnectPermission"] == "AWS::Lambda::Permission"
    assert ignored["TokenSecret"] == "AWS::SecretsManager::Secret"
    assert "FanOutDeadLetterQueue" not in ignored
    assert app.queues["FanOutDeadLetterQueue"].name.endswith("-FanOutDeadLetterQueue")
    assert ignored["SendRoute"] == "AWS::ApiGatewayV2::Route"
    assert app.unsupported == []


# -- small templates ------------------------------------------------------------------------


def test_iam_and_alarm_resources_are_listed_as_ignored(tmp_path: Path) -> None:
    """IAM roles and policies and CloudWatch alarms have no local effect and are listed so."""
    path = write(
        tmp_path,
        {
            "Fn": fn(),
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Policy": {"Type": "AWS::IAM::Policy", "Properties": {}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        },
    )
    app = load_app(path)
    assert ("Role", "AWS::IAM::Role") in app.ignored
    assert ("Policy", "AWS::IAM::Policy") in app.ignored
    assert ("Alarm", "AWS::CloudWatch::Alarm") in app.ignored


def test_unknown_resource_types_are_listed_as_unsupported(tmp_path: Path) -> None:
    """A resource type the runtime does not know is reported, not silently dropped."""
    app = load_app(write(tmp_path, {"Box": {"Type": "AWS::EC2::Instance", "Properties": {}}}))
    assert app.unsupported == [("Box", "AWS::EC2::Instance")]


def test_a_resource_whose_condition_is_false_is_left_out(tmp_path: Path) -> None:
    """A resource with a false Condition is not part of the app."""
    path = write(
        tmp_path,
        {"On": fn(), "Off": {**fn(), "Condition": "Never"}},
        Conditions={"Never": {"Fn::Equals": ["a", "b"]}},
    )
    assert set(load_app(path).functions) == {"On"}


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    """A YAML file with no Resources section is refused."""
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Description": "nothing"}))
    with pytest.raises(ValueError, match="Resources"):
        load_app(path)
