"""Reading SES identities (``cloudformation.ses``).

AWS: *AWS::SES::EmailIdentity*
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ses-emailidentity.html):
``EmailIdentity`` is an email address or a domain; the runtime verifies it in its SES emulation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.runtime.cloudformation import TemplateError, load_app
from hubbub.runtime.cloudformation.specs import EmailIdentitySpec
from hubbub.runtime.dynamodb.filters import matches_any
from tests.support.aws_events import stream_record
from tests.unit.runtime.cloudformation.builders import TEMPLATE, write


def test_identities_are_read_with_parameters_and_conditions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "Sender": {
                "Type": "AWS::SES::EmailIdentity",
                "Condition": "Mail",
                "Properties": {"EmailIdentity": {"Ref": "From"}},
            },
            "Domain": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": "x.org"}},
        },
        Parameters={"From": {"Type": "String", "Default": ""}},
        Conditions={"Mail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "From"}, ""]}]}},
    )
    off = load_app(path)
    assert off.email_identities == {"Domain": EmailIdentitySpec("Domain", "x.org")}
    on = load_app(path, parameter_overrides={"From": "help@x.org"})
    assert on.email_identities["Sender"] == EmailIdentitySpec("Sender", "help@x.org")
    assert not on.unsupported


def test_an_identity_without_a_name_stops_the_load(tmp_path: Path) -> None:
    path = write(tmp_path, {"Bad": {"Type": "AWS::SES::EmailIdentity", "Properties": {}}})
    with pytest.raises(TemplateError, match="EmailIdentity"):
        load_app(path)


def test_hubbubs_template_mails_only_with_a_sender() -> None:
    """Without ``MailSender`` nothing of the email feature is in the stack; with it, the identity,
    the relay noting answers from the stream (``MAIL_SENDER`` set) and the sender on a
    one-minute schedule. Without the MQTT edge either, there is no relay at all."""
    off = load_app(TEMPLATE)
    assert not off.email_identities
    assert "MailSendFunction" not in off.functions
    assert off.functions["RelayFunction"].environment["MAIL_SENDER"] == ""  # the MQTT edge's
    neither = load_app(TEMPLATE, parameter_overrides={"EnableMqtt": "false"})
    assert not {"RelayFunction", "MailSendFunction"} & set(neither.functions)
    on = load_app(TEMPLATE, parameter_overrides={"MailSender": "help@x.org"})
    assert [i.identity for i in on.email_identities.values()] == ["help@x.org"]
    [mapping] = [m for m in on.mappings if m.function == "RelayFunction"]
    assert mapping.filters
    assert on.functions["RelayFunction"].environment["MAIL_SENDER"] == "help@x.org"
    [schedule] = [s for s in on.schedules if s.function == "MailSendFunction"]
    assert (schedule.logical_id, schedule.expression) == (
        "MailSendFunction.Every",
        "rate(1 minute)",
    )
    assert on.functions["MailSendFunction"].environment["MAIL_SENDER"] == "help@x.org"


def _reaches_relay(overrides: dict[str, str], item: dict[str, str], event_name: str) -> bool:
    """The relay mapping's FilterCriteria, as the runtime (and Lambda) apply them."""
    app = load_app(TEMPLATE, parameter_overrides=overrides)
    [mapping] = [m for m in app.mappings if m.function == "RelayFunction"]
    record = stream_record(item, sequence_number="1", event_name=event_name)
    return matches_any(mapping.filters, record)


@pytest.mark.parametrize(
    ("topic", "role", "event_name", "reaches"),
    [
        ("desk/v_ann", "operator", "INSERT", True),
        ("desk/v_ann", "visitor", "INSERT", False),  # the visitor's own question
        ("room/lobby", "operator", "INSERT", False),
        ("user/v_ann", "operator", "INSERT", False),
        ("desk/v_ann", "operator", "MODIFY", False),  # an edit or a delete
    ],
)
def test_with_email_alone_only_operators_new_desk_answers_reach_the_relay(
    topic: str, role: str, event_name: str, reaches: bool
) -> None:
    item = {"pk": f"T#{topic}", "sk": "M#000000000001", "kind": "msg", "topic": topic}
    overrides = {"MailSender": "help@x.org", "EnableMqtt": "false"}
    assert _reaches_relay(overrides, {**item, "role": role}, event_name) is reaches


@pytest.mark.parametrize(
    ("kind", "event_name", "reaches"),
    [
        ("msg", "INSERT", True),
        ("msg", "MODIFY", True),  # an edit or a delete is published too
        ("msg", "REMOVE", False),  # TTL
        ("conn", "INSERT", False),
    ],
)
def test_with_the_mqtt_edge_every_message_change_reaches_the_relay(
    kind: str, event_name: str, reaches: bool
) -> None:
    item = {"pk": "T#room/lobby", "sk": "M#000000000001", "kind": kind, "topic": "room/lobby"}
    for overrides in ({}, {"MailSender": "help@x.org"}):
        assert _reaches_relay(overrides, {**item, "role": "visitor"}, event_name) is reaches
