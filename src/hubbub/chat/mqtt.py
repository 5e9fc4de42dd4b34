"""The chat's rules seen from the MQTT edge: IoT policies from ``policy.py``, principals, sends.

IoT Core enforces what the authorizer's policy documents say, on connect, subscribe, publish and
receive, before hubbub sees anything; so the documents must say what ``policy.py`` says, for the
one user the token names. Clients never publish to a chat topic: the only topics they may
publish to are ``$aws/rules/hubbub/{topic}`` (Basic Ingest), whose rule hands each send to the
chat's own send path, where ``policy.check_send`` is checked again with the stored user.

IoT policies treat ``*`` as any characters (``/`` included) and ``+``/``#`` as plain characters,
so ``topicfilter/room/*`` allows ``room/lobby``, ``room/+`` and ``room/#`` alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from hubbub.ids import Topic, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import OPERATORS_TOPIC
from hubbub.store.port import Role, User
from hubbub.store.roles import Directory

__all__ = [
    "INGEST_RULE",
    "MEMBER_PREFIX",
    "REFRESH_AFTER_S",
    "SESSION_S",
    "IngestedSend",
    "TooManyBans",
    "ban_policies",
    "iot_policy",
    "is_mqtt_member",
    "member_of",
    "parse_ingest",
    "principal_of",
    "sender_of",
    "typing_topic",
]

INGEST_RULE = "hubbub"
"""The topic rule sends go through: clients publish to ``$aws/rules/hubbub/{topic}``."""
SESSION_S = 86400
"""How long IoT Core keeps an authorized connection (its maximum)."""
REFRESH_AFTER_S = 300
"""How often IoT Core asks the authorizer again (its minimum): an expired token or a removed
operator loses the connection within 5 minutes."""
MEMBER_PREFIX = "mqtt:"
"""Connection ids of MQTT members (``chat/mqtt_members.py``) start so: API Gateway's are
base64 (``:`` never occurs in them), so the two can never collide."""
_PRINCIPAL = re.compile(r"^([gvo])([0-9a-f]{1,64})$")
_ID = re.compile(r"^[gvo]_[0-9a-f]{1,64}$")


def principal_of(user: User) -> str:
    """IoT Core wants a principal of letters and digits only; hubbub's ids are ``v_<hex>``,
    ``o_<hex>`` and ``g_<hex>``, so dropping the underscore is reversible."""
    if not _ID.match(user.id):
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "this user cannot be an MQTT principal")
    return user.id.replace("_", "", 1)


def is_mqtt_member(connection_id: str) -> bool:
    """Whether a subscriber is an MQTT client: IoT Core delivers to it, ``@connections`` never
    (a post there would answer 410 and make the member look gone)."""
    return connection_id.startswith(MEMBER_PREFIX)


def _user_id(principal: str) -> UserId:
    match = _PRINCIPAL.match(principal)
    if match is None:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "not a hubbub principal")
    return UserId(f"{match.group(1)}_{match.group(2)}")


def sender_of(principal: str, directory: Directory) -> User:
    """The user behind a rule's ``principal()``, as stored now: a removed operator or a
    forgotten visitor sends nothing, and the nickname is the stored one."""
    user_id = _user_id(principal)
    if user_id.startswith("o_"):
        operator = directory.get_operator(user_id)
        if operator is not None:
            return User(user_id, Role.OPERATOR, operator.name)
    elif user_id.startswith("v_"):
        visitor = directory.get_visitor(user_id)
        if visitor is not None:
            return User(user_id, Role.VISITOR, visitor.nickname)
    raise ProtocolError(ErrorCode.FORBIDDEN, "register with a nickname before sending")


def member_of(principal: str, directory: Directory) -> User:
    """The user an MQTT client is present as: a guest by the principal alone (guests are not
    stored), anyone else as stored now (a forgotten visitor or removed operator is nobody)."""
    user_id = _user_id(principal)
    if user_id.startswith("g_"):
        return User(user_id, Role.GUEST, None)
    try:
        return sender_of(principal, directory)
    except ProtocolError:
        raise ProtocolError(ErrorCode.FORBIDDEN, "no such visitor or operator") from None


def _readable(user: User) -> list[str]:
    """Topic patterns (IoT policy syntax) ``policy.check_subscribe`` allows ``user``."""
    topics = ["room/*", OPERATORS_TOPIC]
    if user.role is Role.OPERATOR:
        topics += ["desk/*", f"user/{user.id}", "$sys/*"]
    elif user.role is Role.VISITOR:
        topics += [f"desk/{user.id}", f"user/{user.id}"]
    return topics


def _sendable(user: User) -> list[str]:
    """Topic patterns ``policy.check_send`` allows ``user``: none for guests and the nameless."""
    if user.role is Role.GUEST or not user.nickname:
        return []
    desk = "desk/*" if user.role is Role.OPERATOR else f"desk/{user.id}"
    return ["room/*", desk, "user/*"]


def iot_policy(user: User, arn_prefix: str) -> dict[str, Any]:
    """The IoT policy document for ``user``; ``arn_prefix`` is ``arn:PARTITION:iot:REGION:ACCOUNT``.

    Connect is allowed on the client's own id only (the policy variable), so a token opens one
    client id per connection, whichever the client picked."""
    read = _readable(user)
    statements: list[dict[str, Any]] = [
        _allow("iot:Connect", [f"{arn_prefix}:client/${{iot:ClientId}}"]),
        _allow("iot:Subscribe", [f"{arn_prefix}:topicfilter/{t}" for t in read]),
        _allow("iot:Receive", [f"{arn_prefix}:topic/{t}" for t in read]),
    ]
    send = _sendable(user)
    if send:
        ingest = f"{arn_prefix}:topic/$aws/rules/{INGEST_RULE}"
        statements.append(_allow("iot:Publish", [f"{ingest}/{t}" for t in send]))
    return {"Version": "2012-10-17", "Statement": statements}


MAX_POLICY_CHARS = 2048
"""A custom authorizer's policy documents are at most 2,048 characters each, and at most 10
(AWS IoT developer guide, *Defining your authorizer's Lambda function*): the chat's policy and
nine of bans."""
MAX_BAN_DOCUMENTS = 9


class TooManyBans(ProtocolError):
    """More bans than the authorizer's answer can state: the connection is refused rather
    than allowed topics it is banned from."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.FORBIDDEN, "too many bans to state in an IoT policy")


def ban_policies(banned: list[Topic], arn_prefix: str) -> list[dict[str, Any]]:
    """Deny documents for the topics the user is banned from, each under IoT Core's size limit.

    An explicit Deny wins over the chat policy's Allow: no subscribe to the topic itself, no
    delivery on it whatever filter matched it (``room/+``), no Basic Ingest send to it. IoT
    Core asks the authorizer again every ``REFRESH_AFTER_S``, so a ban reaches a connection
    that moderation did not close (one following the room only by a wildcard) by then."""
    documents: list[dict[str, Any]] = []
    resources: list[str] = []
    for topic in banned:
        more = [
            f"{arn_prefix}:topicfilter/{topic}",
            f"{arn_prefix}:topic/{topic}",
            f"{arn_prefix}:topic/$aws/rules/{INGEST_RULE}/{topic}",
        ]
        if resources and len(json.dumps(_deny(resources + more))) > MAX_POLICY_CHARS:
            documents.append(_deny(resources))
            resources = []
        resources += more
    if resources:
        documents.append(_deny(resources))
    if len(documents) > MAX_BAN_DOCUMENTS:
        raise TooManyBans()
    return documents


def _deny(resources: list[str]) -> dict[str, Any]:
    actions = ["iot:Subscribe", "iot:Receive", "iot:Publish"]
    statement = {"Effect": "Deny", "Action": actions, "Resource": resources}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _allow(action: str, resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resources}


@dataclass(frozen=True, slots=True)
class IngestedSend:
    topic: str
    text: str
    client_msg_id: str
    attachments: tuple[str, ...] = ()
    """Upload ids (``POST /api/uploads``), checked by the send path like a WebSocket send's."""


def parse_ingest(event: dict[str, Any], max_client_msg_id_chars: int = 64) -> IngestedSend:
    """One Basic Ingest publish as the rule hands it over: ``data`` (the payload, base64),
    ``topic`` (the chat topic), ``clientId``.

    The payload is a JSON object ``{"text", "clientMsgId", "attachments"}`` or plain UTF-8
    text. Without a
    ``clientMsgId`` one is derived from what a QoS 1 redelivery repeats exactly (the client id,
    the topic and the payload's bytes), so a redelivery is stored once."""
    topic, client_id = event.get("topic"), event.get("clientId")
    if not isinstance(topic, str) or not isinstance(client_id, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the rule gave no topic or client id")
    try:
        raw = base64.b64decode(str(event.get("data", "")), validate=True)
        body = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "payload: not UTF-8 text") from None
    text, given, attachments = _fields(body)
    if given is None:
        digest = hashlib.sha256(b"\0".join([client_id.encode(), topic.encode(), raw]))
        given = f"mqtt-{digest.hexdigest()[:40]}"
    elif not 1 <= len(given) <= max_client_msg_id_chars:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "clientMsgId: wrong length")
    return IngestedSend(topic, text, given, attachments)


def typing_topic(event: dict[str, Any]) -> str | None:
    """The topic of a Basic Ingest publish whose payload is the typing notice
    ``{"type": "typing"}`` (never stored: WebSocket members get ``typing``), else None."""
    topic = event.get("topic")
    try:
        value = json.loads(base64.b64decode(str(event.get("data", "")), validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(topic, str) or not isinstance(value, dict):
        return None
    return topic if value.get("type") == "typing" and "text" not in value else None


def _fields(body: str) -> tuple[str, str | None, tuple[str, ...]]:
    """(text, clientMsgId or None, attachment ids): a JSON object must carry a string ``text``
    (empty with attachments); anything else is the text itself."""
    try:
        value = json.loads(body)
    except ValueError:
        return body, None, ()
    if not isinstance(value, dict):
        return body, None, ()
    attachments = value.get("attachments") or []
    text, given = value.get("text", "" if attachments else None), value.get("clientMsgId")
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "text: a string is required")
    if given is not None and not isinstance(given, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "clientMsgId: must be a string")
    if (
        not isinstance(attachments, list)
        or len(attachments) > 20
        or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in attachments)
    ):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "attachments: a list of upload ids")
    return text, given, tuple(attachments)
