"""Which IAM actions each function needs, found by running its paths; and what the template grants.

Each function's paths are run against moto with the metered client (every DynamoDB request and
every transaction item becomes the IAM action that authorises it, with the table or the index it
names) and the counting ``@connections`` client. A function's paths are the ``Chat`` calls its
handler makes, listed here from ``src/hubbub/handlers/*.py``; keep the two in step.

The token secret counts as used where a path signs or verifies a token (bootstrap hands the issuer
a source it reads on each use, not the secret itself). One grant comes from configuration rather
than from a path: the stream mapping writes records it gives up on to the on-failure queue with
the fan-out function's role.

The template's grants are read from each function's ``Policies`` (inline statements, and the SAM
policy templates it uses). ``missing`` (used, not granted) would fail on AWS; ``unused`` (granted,
never used) is privilege to take away.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from hubbub.chat.fanout import Change
from hubbub.chat.mailing import Mailing, MailSettings
from hubbub.chat.mqtt import parse_ingest, principal_of, sender_of, typing_topic
from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import SystemClock
from hubbub.files.port import PresignedUpload
from hubbub.ids import ConnectionId, Topic, UserId
from hubbub.mail.port import Mailer
from hubbub.protocol.actions import parse_action
from hubbub.push.aws.adapter import ApiGatewayPush
from hubbub.push.port import Broadcast, MqttHangup
from hubbub.runtime.cloudformation.yamltags import load_template
from hubbub.store.dynamodb.adapter import DynamoStore
from hubbub.store.dynamodb.schema import create_table
from hubbub.store.items import message_item
from hubbub.store.port import Message, Operator, Role, User
from tools.capacity.backend import client
from tools.capacity.connections import CountingConnections
from tools.capacity.meter import CapacityMeter
from tools.capacity.scenarios import connection_id

__all__ = [
    "CONFIGURED",
    "FUNCTIONS",
    "Grant",
    "PermissionReport",
    "compare",
    "granted_by_template",
    "used_by_paths",
]

Grant = tuple[str, str]
"""(IAM action, resource): resources are ``table``, ``index/{name}``, ``connections`` (this
API's ``@connections``), ``token-secret``, ``dead-letter-queue``, or the policy's own text."""

FUNCTIONS = (
    "ConnectFunction",
    "DisconnectFunction",
    "MessageFunction",
    "FanOutFunction",
    "PushFunction",
    "HttpFunction",
    "MqttAuthorizerFunction",
    "MqttIngestFunction",
    "MqttPresenceFunction",
    "RelayFunction",
    "MailSendFunction",
)

CONFIGURED: dict[str, set[Grant]] = {
    # the on-failure destination; and a large topic's chunks, sent to the push function's queue
    # (SendMessageBatch is authorised as SendMessage; the paths here have no queue)
    "FanOutFunction": {
        ("sqs:SendMessage", "dead-letter-queue"),
        ("sqs:SendMessage", "chunk-queue"),
    },
    "RelayFunction": {("sqs:SendMessage", "dead-letter-queue")},
    # what its SQS event source mapping does with the function's role
    "PushFunction": {
        (f"sqs:{action}", "chunk-queue")
        for action in (
            "ReceiveMessage",
            "DeleteMessage",
            "ChangeMessageVisibility",
            "GetQueueAttributes",
        )
    },
}
_SECRET: Grant = ("secretsmanager:GetSecretValue", "token-secret")

_POLICY_TEMPLATES: dict[str, set[Grant]] = {
    "AWSSecretsManagerGetSecretValuePolicy": {("secretsmanager:GetSecretValue", "token-secret")},
    "SQSSendMessagePolicy": {("sqs:SendMessage*", "dead-letter-queue")},
    "DynamoDBCrudPolicy": {
        (f"dynamodb:{action}", resource)
        for action in (
            "GetItem",
            "DeleteItem",
            "PutItem",
            "Scan",
            "Query",
            "UpdateItem",
            "BatchWriteItem",
            "BatchGetItem",
            "DescribeTable",
            "ConditionCheckItem",
        )
        for resource in ("table", "index/*")
    },
}


@dataclass
class PermissionReport:
    function: str
    used: set[Grant]
    granted: set[Grant]
    missing: set[Grant] = field(default_factory=set)
    unused: set[Grant] = field(default_factory=set)


# what the template grants ---------------------------------------------------------------------
def _resource(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    if "@connections" in text:
        return "connections"
    if "/index/" in text and "ChatTable" in text:
        return "index/" + text.rsplit("/index/", 1)[1].split('"')[0]
    if "ChatTable" in text:
        return "table"
    if "FanOutDeadLetterQueue" in text:
        return "dead-letter-queue"
    if "ChunkQueue" in text:
        return "chunk-queue"
    if "TokenSecret" in text:
        return "token-secret"
    if "AttachmentsBucket" in text:
        return "attachments/*" if text.endswith('/attachments/*"}') else text
    if ":identity/" in text:
        return "ses-identity"
    if ":client/" in text:
        return "client/" + text.rsplit(":client/", 1)[1].split('"')[0]
    if ":topic/" in text:
        return "topic/" + text.rsplit(":topic/", 1)[1].split('"')[0]
    return text


def _statement_grants(statement: Mapping[str, Any]) -> set[Grant]:
    if "Fn::If" in statement:  # a statement of an optional part: granted as when it is there
        statement = statement["Fn::If"][1]
    if statement.get("Effect") != "Allow":
        return set()
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    resources = resources if isinstance(resources, list) else [resources]
    return {(str(action), _resource(resource)) for action in actions for resource in resources}


def granted_by_template(template: Path) -> dict[str, set[Grant]]:
    """Each function's grants, from its ``Policies`` in the (untransformed) SAM template."""
    resources: Mapping[str, Any] = load_template(template)["Resources"]
    out: dict[str, set[Grant]] = {}
    for name in FUNCTIONS:
        grants: set[Grant] = set()
        for policy in resources[name].get("Properties", {}).get("Policies", []):
            if isinstance(policy, str):
                grants.add((f"managed:{policy}", "*"))
                continue
            for key, value in policy.items():
                if key == "Statement":
                    for statement in value:
                        grants |= _statement_grants(statement)
                elif key in _POLICY_TEMPLATES:
                    grants |= _POLICY_TEMPLATES[key]
                else:
                    grants.add((f"template:{key}", "*"))
        out[name] = grants
    return out


# what the paths use ---------------------------------------------------------------------------
class _RecordingBroadcast(Broadcast):
    """IoT Core's data plane as the relay uses it: each publish needs ``iot:Publish`` on the
    topic."""

    def __init__(self, topics: list[str]) -> None:
        self._topics = topics

    def publish(self, topic: str, data: bytes) -> None:
        self._topics.append(topic)


class _RecordingHangup(MqttHangup):
    """IoT Core's data plane as moderation uses it: each DeleteConnection needs
    ``iot:DeleteConnection`` on the client."""

    def __init__(self, clients: list[str]) -> None:
        self._clients = clients

    def disconnect_clients(self, client_ids: Sequence[str]) -> set[str]:
        self._clients.extend(client_ids)
        return set()


class _RecordingFiles:
    """The attachments bucket as the chat uses it: presigning a POST needs ``s3:PutObject`` on
    the object, presigning a GET or a HeadObject ``s3:GetObject`` (a presigned URL works only
    if its signer may make the request itself). An upload "arrives" as soon as it is
    presigned."""

    enabled = True

    def __init__(self, use: Callable[[Grant], None]) -> None:
        self._use = use
        self._sizes: dict[str, int] = {}

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_s: int
    ) -> PresignedUpload:
        self._use(("s3:PutObject", "attachments/*"))
        self._sizes[key] = size
        return PresignedUpload("https://attachments.invalid/", {"key": key})

    def download_url(self, key: str, content_type: str, disposition: str, expires_s: int) -> str:
        self._use(("s3:GetObject", "attachments/*"))
        return f"https://attachments.invalid/{key}"

    def stored_size(self, key: str) -> int | None:
        self._use(("s3:GetObject", "attachments/*"))
        return self._sizes.get(key)

    def delete(self, key: str) -> None:
        self._use(("s3:DeleteObject", "attachments/*"))
        self._sizes.pop(key, None)


class _Bench:
    """A fresh table, one operator, a metered ``Chat``; ``path()`` marks what a function does."""

    def __init__(self, endpoint: str) -> None:
        self.probe = client(endpoint)
        self.metered = client(endpoint)
        self.meter = CapacityMeter(self.metered, self.probe)
        self.connections = CountingConnections()
        self._key = secrets.token_bytes(32)
        self._in_path = False
        self.table = f"permissions-{secrets.token_hex(3)}"
        create_table(self.probe, self.table)
        self.push = ApiGatewayPush("https://capacity.invalid/ws", client=self.connections)
        self.published: list[str] = []
        self.disconnected: list[str] = []
        self.chat = Chat(
            mqtt_hangup=_RecordingHangup(self.disconnected),
            broadcast=_RecordingBroadcast(self.published),
            store=DynamoStore(self.table, client=self.metered),
            push=self.push,
            clock=SystemClock(),
            tokens=TokenIssuer(self._secret, 3600),
            settings=ChatSettings(),
            files=_RecordingFiles(self._grant),
        )
        self.operator = Operator(UserId("o_0123456789abcdef"), "Olga", self.now())
        DynamoStore(self.table, client=self.probe).put_operator(self.operator)
        self.operator_token = self.chat.desk.operator_token(self.operator, self.now())
        self.used: set[Grant] = set()
        self._ids = iter(range(10**6))

    @contextmanager
    def path(self) -> Iterator[None]:
        """What runs inside is the function's own work (the rest is setup by other functions)."""
        posts = self.connections.snapshot()[0]
        published, disconnected = len(self.published), len(self.disconnected)
        self._in_path = True
        try:
            with self.meter.measure() as tally:
                yield
        finally:
            self._in_path = False
        self.used |= tally.iam
        if self.connections.snapshot()[0] > posts:
            self.used.add(("execute-api:ManageConnections", "connections"))
        self.used |= {("iot:Publish", f"topic/{t}") for t in self.published[published:]}
        self.used |= {
            ("iot:DeleteConnection", f"client/{c}") for c in self.disconnected[disconnected:]
        }

    def _grant(self, grant: Grant) -> None:
        if self._in_path:
            self.used.add(grant)

    def _secret(self) -> bytes:
        """The token issuer's secret source: a read inside a path is the path's to grant."""
        if self._in_path:
            self.used.add(_SECRET)
        return self._key

    def now(self) -> int:
        return SystemClock().now_ms()

    def cid(self) -> ConnectionId:
        return ConnectionId(connection_id(next(self._ids), self.table))

    def act(self, cid: ConnectionId, **frame: Any) -> dict[str, Any]:
        reply = self.chat.handle(cid, parse_action(json.dumps(frame))) or {}
        if reply.get("type") == "error":
            raise RuntimeError(f"{frame['action']} refused: {reply}")
        return reply

    def guest(self) -> ConnectionId:
        cid = self.cid()
        self.chat.connect(cid, None)
        return cid

    def mqtt_member(self, user: User, topic: str) -> None:
        """``user``'s MQTT client subscribed to ``topic`` (the presence function's work)."""
        event = {
            "eventType": "subscribed",
            "clientId": f"device-{user.id}",
            "sessionIdentifier": "s-1",
            "principalIdentifier": principal_of(user),
            "timestamp": 1,
            "topics": [topic],
        }
        self.chat.mqtt_lifecycle(event)

    def operator_connection(self) -> ConnectionId:
        cid = self.cid()
        self.chat.connect(cid, self.chat.authenticate(self.operator_token))
        return cid

    def mailing(self) -> Mailing:
        """The mail functions' service on this chat; its emails need ``ses:SendRawEmail``
        (``mail/ses.py``: only a raw message carries the one-click unsubscribe headers)."""
        bench = self

        class Recording(Mailer):
            def send(
                self, to: str, subject: str, text: str, *, unsubscribe_url: str | None = None
            ) -> None:
                bench.used.add(("ses:SendRawEmail", "ses-identity"))

        class Later:  # past the (shortest) window of every answer queued here
            def now_ms(self) -> int:
                return bench.now() + 3_600_000

        store = self.chat.store
        return Mailing(
            mailings=store,
            directory=store,
            subscriptions=store,
            messages=store,
            markers=store,
            mailer=Recording(),
            tokens=self.chat.tokens,
            clock=Later(),
            settings=MailSettings(window_s=1),
        )

    def close(self) -> None:
        self.push.close()
        self.probe.delete_table(TableName=self.table)
        self.metered.close()
        self.probe.close()


def _connect(bench: _Bench) -> None:
    """handlers/connect.py: ``authenticate(token)`` then ``connect`` (a guest, an operator); the
    operator's first connection is announced to a follower of ``$sys/operators``."""
    follower = bench.guest()
    bench.act(follower, action="subscribe", topic="$sys/operators")
    with bench.path():
        bench.chat.connect(bench.cid(), bench.chat.authenticate(None))
        bench.chat.connect(bench.cid(), bench.chat.authenticate(bench.operator_token))


def _message(bench: _Bench) -> None:
    """handlers/message.py: ``handle`` of every action."""
    other, me, operator = bench.guest(), bench.guest(), bench.operator_connection()
    kicked = bench.guest()  # and their MQTT client, in the room an operator kicks them from
    kicked_user = bench.act(kicked, action="register", nickname="Kit")["user"]
    bench.mqtt_member(User(UserId(kicked_user["id"]), Role.VISITOR, "Kit"), "room/lobby")
    with bench.path():
        bench.act(other, action="subscribe", topic="room/lobby")
        bench.act(me, action="hello")
        bench.act(me, action="ping")
        bench.act(me, action="register", nickname="Ann", email="ann@example.com")
        ack = bench.act(me, action="send", topic="room/lobby", text="hello", clientMsgId="m1")
        bench.act(me, action="subscribe", topic="room/lobby", since=0)
        bench.act(me, action="subscribe", topic="room/+")
        bench.act(me, action="subscribe", topic="$sys/operators")
        bench.act(me, action="history", topic="room/lobby")
        bench.act(me, action="history", topic="room/lobby", after=0)
        bench.act(me, action="presence", topic="room/lobby")
        bench.act(me, action="typing", topic="room/lobby")
        bench.act(me, action="read", topic="room/lobby", seq=int(ack["seq"]))
        bench.act(me, action="unsubscribe", topic="room/+")
        bench.act(me, action="unsubscribe", topic="room/lobby")
        bench.act(operator, action="hello")
        bench.act(operator, action="conversations")
        bench.act(
            operator,
            action="moderate",
            topic="room/lobby",
            userId=kicked_user["id"],
            sanction="kick",
        )
    # an attachment uploaded over REST (the Http function), then sent and read here
    ann = bench.chat.store.get_connection(me)
    assert ann is not None
    uploaded = bench.chat.upload(ann.user, "room/lobby", "cat.png", "image/png", 3)
    with bench.path():
        ids = [uploaded["attachment"]["id"]]
        sent = bench.act(me, action="send", topic="room/lobby", clientMsgId="m2", attachments=ids)
        bench.act(me, action="history", topic="room/lobby")
        bench.act(me, action="delete", topic="room/lobby", id=sent["id"])  # its file goes too


def _fanout(bench: _Bench) -> None:
    """handlers/stream.py: ``decode_change`` of the record's image, then ``deliver_batch``;
    here one subscriber is gone (410): it is forgotten with its subscriptions (one of them a
    wildcard), and ``left`` is pushed to the one who stays, as is the status of the operator it
    was."""
    stays, gone = bench.guest(), bench.operator_connection()
    for cid in (stays, gone):
        bench.act(cid, action="subscribe", topic="room/lobby")
    bench.act(stays, action="subscribe", topic="$sys/operators")
    bench.act(gone, action="subscribe", topic="room/+")
    message = _with_attachment(bench)
    bench.connections.gone.add(gone)
    with bench.path():
        decoded = bench.chat.decode_change(message_item(message))
        assert decoded is not None
        bench.chat.deliver_batch([Change(decoded)])


def _with_attachment(bench: _Bench) -> Message:
    """A visitor's message with an attachment (its frame links it: a presigned GET)."""
    visitor = User(UserId("v_1"), Role.VISITOR, "Vic")
    uploaded = bench.chat.upload(visitor, "room/lobby", "cat.png", "image/png", 3)
    ids = [uploaded["attachment"]["id"]]
    return bench.chat.send(visitor, "room/lobby", "hello", "m1", ids).message


def _push(bench: _Bench) -> None:
    """handlers/push.py: ``push_chunk`` of a chunk to two members, one of them gone (410): it
    is forgotten with its subscriptions, and ``left`` pushed to the one who stays."""
    stays, gone = bench.guest(), bench.operator_connection()
    for cid in (stays, gone):
        bench.act(cid, action="subscribe", topic="room/lobby")
    bench.act(stays, action="subscribe", topic="$sys/operators")
    body = json.dumps({"frames": ['{"type":"message"}'], "connectionIds": [stays, gone]})
    bench.connections.gone.add(gone)
    with bench.path():
        bench.chat.push_chunk(body)


def _disconnect(bench: _Bench) -> None:
    """handlers/disconnect.py: ``disconnect`` of an operator subscribed to a topic (someone else
    is in it) and to a wildcard, who was the last operator online (someone follows
    ``$sys/operators``)."""
    stays, leaves = bench.guest(), bench.operator_connection()
    bench.act(stays, action="subscribe", topic="room/lobby")
    bench.act(stays, action="subscribe", topic="$sys/operators")
    bench.act(leaves, action="subscribe", topic="room/lobby")
    bench.act(leaves, action="subscribe", topic="room/+")
    with bench.path():
        bench.chat.disconnect(leaves)


def _http(bench: _Bench) -> None:
    """handlers/http.py: the calls of every route."""
    chat = bench.chat
    visitor_cid = bench.guest()
    bench.act(visitor_cid, action="register", nickname="Fay")
    bench.act(visitor_cid, action="subscribe", topic="room/lobby")
    connection = chat.store.get_connection(visitor_cid)
    assert connection is not None
    follower = connection.user
    bench.mqtt_member(follower, "room/lobby")  # the ban disconnects their MQTT client too
    with bench.path():
        operator = chat.authenticate(bench.operator_token)  # whoami; any route given a token
        assert operator is not None
        chat.store.last_seq(chat.topic("room/health"))  # health
        visitor = User(UserId("v_3"), Role.VISITOR, "Val")
        chat.send(visitor, "desk/v_3", "hello", "k1")  # post, to a desk topic
        chat.send(visitor, "room/lobby", "hello", "k2")  # and to a room
        uploaded = chat.upload(visitor, "room/lobby", "a.pdf", "application/pdf", 9)  # uploads
        sent = chat.send(visitor, "room/lobby", "", "k3", [uploaded["attachment"]["id"]])
        chat.delete(visitor, "room/lobby", sent.message.id)  # DELETE /api/messages/{id}
        chat.history(visitor, "desk/v_3", None, None, 50)  # history
        chat.history(visitor, "desk/v_3", None, 0, 50)
        chat.store.recent_topics("room", None, 20, bench.now())  # rooms
        chat.desk.conversations(operator, None, 20, bench.now())  # conversations
        topic = chat.topic("room/lobby")  # moderation: a ban ejects a subscriber, then lifts
        chat.moderation.moderate(operator, topic, UserId(str(follower.id)), "ban", 60)
        chat.moderation.moderate(operator, topic, UserId(str(follower.id)), "unban", None)
        chat.moderation.list(operator, None)  # sanctions
        chat.store.opt_out(UserId("v_3"), bench.now())  # the unsubscribe link


def _mqtt_authorizer(bench: _Bench) -> None:
    """handlers/mqtt_authorizer.py: ``authenticate`` of the password's token (an operator's is
    checked against the directory); the topics the user is banned from (the sanctions' index;
    an operator is never banned, so not read for)."""
    with bench.path():
        operator = bench.chat.authenticate(bench.operator_token)
        assert operator is not None
        principal_of(operator)
        guest = User(UserId("g_0a"), Role.GUEST, None)  # no password; the bans in its policy
        bench.chat.moderation.banned_topics(guest)


def _mqtt_ingest(bench: _Bench) -> None:
    """handlers/mqtt_ingest.py: the sender from the directory, then ``send`` (a visitor to a
    room, an operator to a desk), or a typing notice (``typing`` to a WebSocket member)."""
    visitor, watcher = bench.guest(), bench.guest()
    bench.act(visitor, action="register", nickname="Ann")
    bench.act(watcher, action="subscribe", topic="room/a")
    ann = bench.chat.store.get_connection(visitor)
    assert ann is not None
    sends = [(principal_of(ann.user), f"desk/{ann.user.id}"), ("o0123456789abcdef", "room/a")]
    uploaded = bench.chat.upload(ann.user, f"desk/{ann.user.id}", "a.png", "image/png", 3)
    payloads = [
        json.dumps({"text": "", "attachments": [uploaded["attachment"]["id"]]}).encode(),
        b"hello",
    ]
    with bench.path():
        for (principal, topic), payload in zip(sends, payloads, strict=True):
            data = base64.b64encode(payload).decode()
            send = parse_ingest({"data": data, "topic": topic, "clientId": "c1"})
            user = sender_of(principal, bench.chat.store)
            bench.chat.send(user, send.topic, send.text, send.client_msg_id, [*send.attachments])
        typing = base64.b64encode(b'{"type": "typing"}').decode()
        typed_in = typing_topic({"data": typing, "topic": "room/a", "clientId": "c1"})
        assert typed_in is not None
        bench.chat.mqtt_members.typing(
            sender_of(principal_of(ann.user), bench.chat.store), typed_in
        )


def _mqtt_presence(bench: _Bench) -> None:
    """handlers/mqtt_presence.py: ``mqtt_lifecycle`` of a subscribe, an unsubscribe and a
    disconnect of an operator's MQTT client, in a room a WebSocket member is in, while someone
    follows ``$sys/operators``."""
    watcher = bench.guest()
    bench.act(watcher, action="subscribe", topic="room/lobby")
    bench.act(watcher, action="subscribe", topic="$sys/operators")
    base = {
        "clientId": "device-1",
        "sessionIdentifier": "s-1",
        "principalIdentifier": principal_of(
            User(bench.operator.id, Role.OPERATOR, bench.operator.name)
        ),
    }
    events = [
        {**base, "eventType": "subscribed", "timestamp": 1, "topics": ["room/lobby", "room/x"]},
        {**base, "eventType": "unsubscribed", "timestamp": 2, "topics": ["room/x"]},
        {**base, "eventType": "disconnected", "timestamp": 3},
    ]
    with bench.path():
        for event in events:
            bench.chat.mqtt_lifecycle(event)


def _answered(bench: _Bench) -> Topic:
    """A visitor who left an email asked at the desk and left; an operator answered."""
    visitor = bench.guest()
    bench.act(visitor, action="register", nickname="Ann", email="ann@example.com")
    ann = bench.chat.store.get_connection(visitor)
    assert ann is not None
    topic = Topic(f"desk/{ann.user.id}")
    bench.chat.disconnect(visitor)
    operator = User(bench.operator.id, Role.OPERATOR, bench.operator.name)
    bench.chat.send(operator, topic, "answered", "a1")
    return topic


def _relay(bench: _Bench) -> None:
    """handlers/relay.py: ``decode_change`` of each record's image, ``publish_batch`` (each
    message on its topic: a room's with an attachment, a desk, an inbox), then ``queue_answer``
    of the new ones (an operator's desk answer reads the visitor, their opt-out, whether they
    follow, and notes the pending mail)."""
    topic = _answered(bench)
    answer = bench.chat.store.read_after(topic, 0, 10, bench.now()).messages[-1]
    visitor = User(UserId("v_1"), Role.VISITOR, "Vic")
    stored = [
        _with_attachment(bench),
        bench.chat.send(visitor, f"user/{bench.operator.id}", "hi", "m3").message,
        answer,
    ]
    mailing = bench.mailing()
    with bench.path():
        changes = [bench.chat.decode_change(message_item(m)) for m in stored]
        assert None not in changes
        batch = [Change(m) for m in changes if m is not None]
        assert bench.chat.publish_batch(batch).done == len(batch)
        for change in batch:
            mailing.queue_answer(change.message)


def _mail_send(bench: _Bench) -> None:
    """handlers/mail.py ``send_handler``: ``send_due`` sends the pending mail (signing its
    unsubscribe link)."""
    topic = _answered(bench)
    mailing = bench.mailing()
    answer = bench.chat.store.read_after(topic, 0, 10, bench.now()).messages[-1]
    mailing.queue_answer(answer)
    with bench.path():
        assert mailing.send_due().sent == 1


_PATHS: dict[str, Callable[[_Bench], None]] = {
    "ConnectFunction": _connect,
    "DisconnectFunction": _disconnect,
    "MessageFunction": _message,
    "FanOutFunction": _fanout,
    "PushFunction": _push,
    "HttpFunction": _http,
    "MqttAuthorizerFunction": _mqtt_authorizer,
    "MqttIngestFunction": _mqtt_ingest,
    "MqttPresenceFunction": _mqtt_presence,
    "RelayFunction": _relay,
    "MailSendFunction": _mail_send,
}


def used_by_paths(endpoint: str) -> dict[str, set[Grant]]:
    """Run each function's paths (each on a fresh table) and collect what they needed."""
    out: dict[str, set[Grant]] = {}
    for function, run in _PATHS.items():
        bench = _Bench(endpoint)
        try:
            run(bench)
            out[function] = bench.used
        finally:
            bench.close()
    return out


def compare(
    used: Mapping[str, Iterable[Grant]],
    granted: Mapping[str, Iterable[Grant]],
    configured: Mapping[str, Iterable[Grant]] = CONFIGURED,
) -> list[PermissionReport]:
    """Per function: what its paths and its configuration need against what it is granted."""
    reports = []
    for function in FUNCTIONS:
        need = set(used.get(function, ())) | set(configured.get(function, ()))
        have = set(granted.get(function, ()))
        missing = {n for n in need if not any(_covers(g, n) for g in have)}
        unused = {g for g in have if not any(_covers(g, n) for n in need)}
        reports.append(PermissionReport(function, need, have, missing=missing, unused=unused))
    return reports


def _covers(grant: Grant, need: Grant) -> bool:
    """IAM's wildcards: ``*`` and ``?`` in the action and in the resource (``index/*``)."""
    return fnmatchcase(need[0], grant[0]) and fnmatchcase(need[1], grant[1])
