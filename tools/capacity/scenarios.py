"""The paths that are measured, run for real against moto: hubbub's, and the AWS samples' design.

hubbub: the ``Chat`` service that every handler builds (``handlers/bootstrap.py``), with the
DynamoDB store on a metered client and the AWS push adapter on a counting ``@connections`` client.
Each path is what one Lambda function does for one event:

- ``connect``: ConnectFunction, ``$connect`` without a token;
- ``join``: MessageFunction, ``subscribe`` to the room (presence pushes ``joined`` to the others);
- ``send``: MessageFunction, ``send`` (the conditional transaction, then the read marker);
- ``fanout``: FanOutFunction, one stream record: the message decoded from the item's image, as the
  stream delivers it, then pushed to every subscriber;
- ``ping``: MessageFunction, the client's keepalive;
- ``leave``: DisconnectFunction, ``$disconnect`` (presence pushes ``left``).

The room's other members are written beforehand through the same store on an unmetered client.

The samples' design (aws-samples/simple-websockets-chat-app, ``sendmessage/app.js``): a table of
connection ids; a message is one Scan of the table (``ProjectionExpression: connectionId``)
and one post per connection, from the function the message arrived at. ``connect`` and ``leave``
are a PutItem and a DeleteItem. The sample has no rooms: a room of N is a table of N connections.
With ``other_connections`` the table also holds connections of other rooms, each item tagged with
its room, and the Scan filters on it: what adding rooms to that design costs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import SystemClock
from hubbub.ids import ConnectionId, TopicFilter, UserId
from hubbub.protocol.actions import parse_action
from hubbub.push.aws.adapter import ApiGatewayPush
from hubbub.store.dynamodb.adapter import DynamoStore
from hubbub.store.dynamodb.schema import create_table
from hubbub.store.items import message_sk, topic_pk
from hubbub.store.port import Connection, Role, Subscription, User
from tools.capacity.backend import client
from tools.capacity.connections import CountingConnections
from tools.capacity.meter import CapacityMeter, Tally

__all__ = [
    "MESSAGE_TEXT",
    "Measured",
    "PathCost",
    "RoomCosts",
    "connection_id",
    "measure_hubbub_room",
    "measure_sample_room",
]

MESSAGE_TEXT = "Has anyone tried the new release on arm64 yet? Cold starts look better to me."
"""A typical chat line (78 characters)."""
_DESERIALIZER = TypeDeserializer()


def connection_id(index: int, salt: str = "") -> str:
    """An API Gateway-shaped connection id (12 bytes, base64, e.g. ``BFHPhfCWIAMCKlQ=``)."""
    digest = hashlib.sha256(f"{salt}{index}".encode()).digest()[:12]
    return base64.b64encode(digest).decode()


@dataclass
class Measured:
    """One run of one path: the DynamoDB requests and the ``@connections`` posts it made."""

    tally: Tally = field(default_factory=Tally)
    posts: int = 0
    billed_messages: int = 0
    frame_bytes: int = 0


@dataclass
class PathCost:
    """The mean of several runs of one path, as the Lambda function ``function`` runs it."""

    function: str
    runs: list[Measured] = field(default_factory=list)

    def _mean(self, values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    @property
    def read_units(self) -> float:
        return self._mean([r.tally.read_units for r in self.runs])

    @property
    def write_units(self) -> float:
        return self._mean([r.tally.total_write_units for r in self.runs])

    @property
    def index_write_units(self) -> float:
        return self._mean([r.tally.index_write_units for r in self.runs])

    @property
    def requests(self) -> float:
        return self._mean([float(r.tally.requests) for r in self.runs])

    @property
    def posts(self) -> float:
        return self._mean([float(r.posts) for r in self.runs])

    @property
    def billed_messages(self) -> float:
        return self._mean([float(r.billed_messages) for r in self.runs])

    @property
    def calls(self) -> dict[str, float]:
        names = sorted({name for r in self.runs for name in r.tally.calls})
        return {n: self._mean([float(r.tally.calls[n]) for r in self.runs]) for n in names}


@dataclass
class RoomCosts:
    """What each path costs in a room of ``size`` subscribers, for one design."""

    design: str
    size: int
    paths: dict[str, PathCost]
    other_connections: int = 0


class _Counting:
    """A metered DynamoDB client and a counting ``@connections`` client, measured together."""

    def __init__(self, endpoint: str) -> None:
        self.probe = client(endpoint)
        self.metered = client(endpoint)
        self.meter = CapacityMeter(self.metered, self.probe)
        self.connections = CountingConnections()

    @contextmanager
    def measure(self) -> Iterator[Measured]:
        posts, billed, sent = self.connections.snapshot()
        with self.meter.measure() as tally:
            measured = Measured(tally)
            yield measured
        after = self.connections.snapshot()
        measured.posts = after[0] - posts
        measured.billed_messages = after[1] - billed
        measured.frame_bytes = after[2] - sent

    def close(self) -> None:
        self.metered.close()
        self.probe.close()


# hubbub ---------------------------------------------------------------------------------------
def _member(index: int) -> User:
    return User(UserId(f"v_{index:016x}"), Role.VISITOR, f"member{index}")


class _HubbubRoom:
    def __init__(self, endpoint: str, size: int) -> None:
        self.counting = _Counting(endpoint)
        self.table = f"hubbub-{size}-{secrets.token_hex(3)}"
        create_table(self.counting.probe, self.table)
        self.clock = SystemClock()
        self.push = ApiGatewayPush("https://capacity.invalid/ws", client=self.counting.connections)
        self.chat = Chat(
            store=DynamoStore(self.table, client=self.counting.metered),
            push=self.push,
            clock=self.clock,
            tokens=TokenIssuer(secrets.token_bytes(32), 3600),
            settings=ChatSettings(),
        )
        self.setup = DynamoStore(self.table, client=self.counting.probe)
        self.topic = "room/capacity"
        self.members: list[tuple[ConnectionId, User]] = []
        self.settings = ChatSettings()
        self._pending: list[dict[str, Any]] = []

    def populate(self, count: int) -> None:
        """``count`` members already in the room, written with an unmetered client.

        The first member joins through the store itself; the others' subscription items are
        copies of the first one's with the member's own values, written in batches (moto makes
        a transaction on a big table slow, and these writes are not what is measured).
        """
        now = self.clock.now_ms()
        expires = now // 1000 + self.settings.connection_ttl_s
        copies: list[str] = []
        first: tuple[str, str, str] = ("", "", "")
        for index in range(count):
            cid, user = ConnectionId(connection_id(index, self.table)), _member(index)
            self.setup.put_connection(Connection(cid, user, now, expires))
            if index == 0:
                self.setup.subscribe(Subscription(cid, TopicFilter(self.topic), user), now, expires)
                copies = [json.dumps(item) for item in self._subscription_items(cid)]
                first = (cid, user.id, f'"{user.nickname}"')
            else:
                mine = (cid, user.id, f'"{user.nickname}"')
                for text in copies:
                    for old, new in zip(first, mine, strict=True):
                        text = text.replace(old, new)
                    self._pending.append(json.loads(text))
                if len(self._pending) >= 24:
                    self._flush()
            self.members.append((cid, user))
        self._flush()
        # the copies bypassed the store, so the room's head count is set to match them
        self.counting.probe.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"N#{self.topic}"},
                "sk": {"S": "MEMBERS"},
                "members": {"N": str(count)},
            },
        )

    def _subscription_items(self, cid: str) -> list[dict[str, Any]]:
        """Both items of a subscription to the room, as the store wrote them."""
        items = []
        for pk, sk in ((f"C#{cid}", f"S#{self.topic}"), (f"F#{self.topic}", f"C#{cid}")):
            key = {"pk": {"S": pk}, "sk": {"S": sk}}
            found = self.counting.probe.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            items.append(found["Item"])
        return items

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:25], self._pending[25:]
            requests = [{"PutRequest": {"Item": item}} for item in batch]
            response = self.counting.probe.batch_write_item(RequestItems={self.table: requests})
            assert not response.get("UnprocessedItems")

    def action(self, cid: ConnectionId, **frame: Any) -> dict[str, Any]:
        reply = self.chat.handle(cid, parse_action(json.dumps(frame)))
        assert reply is not None, frame
        if reply.get("type") == "error":
            raise RuntimeError(f"{frame['action']} refused: {reply}")
        return reply

    def stream_record(self, seq: int) -> dict[str, Any]:
        """The message item's NewImage, deserialised, as the fan-out handler hands it on."""
        key = {"pk": {"S": topic_pk(self.topic)}, "sk": {"S": message_sk(seq)}}
        raw = self.counting.probe.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        return {name: _DESERIALIZER.deserialize(value) for name, value in raw["Item"].items()}

    def close(self) -> None:
        self.push.close()
        self.counting.probe.delete_table(TableName=self.table)
        self.counting.close()


def measure_hubbub_room(endpoint: str, size: int, *, sends: int = 5) -> RoomCosts:
    """hubbub's paths in a room of ``size`` subscribers (the joiner included)."""
    room = _HubbubRoom(endpoint, size)
    try:
        room.populate(size - 1)
        paths = {
            name: PathCost(function)
            for name, function in (
                ("connect", "ConnectFunction"),
                ("join", "MessageFunction"),
                ("send", "MessageFunction"),
                ("fanout", "FanOutFunction"),
                ("ping", "MessageFunction"),
                ("leave", "DisconnectFunction"),
            )
        }
        index = len(room.members)
        cid, user = ConnectionId(connection_id(index, room.table)), _member(index)
        with room.counting.measure() as run:
            room.chat.connect(cid, user)
        paths["connect"].runs.append(run)
        with room.counting.measure() as run:
            room.action(cid, action="subscribe", topic=room.topic)
        paths["join"].runs.append(run)
        room.members.append((cid, user))
        # the room's first message creates its head: a one-off, not what a send costs
        room.action(room.members[0][0], action="send", topic=room.topic, text="hi", clientMsgId="w")
        for number in range(sends):
            sender = room.members[(number * 7919) % len(room.members)][0]
            with room.counting.measure() as run:
                ack = room.action(
                    sender,
                    action="send",
                    topic=room.topic,
                    text=MESSAGE_TEXT,
                    clientMsgId=f"c{number}",
                )
            paths["send"].runs.append(run)
            image = room.stream_record(int(ack["seq"]))
            with room.counting.measure() as run:
                message = room.chat.decode_change(image)
                assert message is not None
                report = room.chat.deliver(message)
                assert report.delivered == size, report
                assert not report.failed, report
            paths["fanout"].runs.append(run)
        with room.counting.measure() as run:
            room.action(cid, action="ping")
        paths["ping"].runs.append(run)
        with room.counting.measure() as run:
            room.chat.disconnect(cid)
        paths["leave"].runs.append(run)
        return RoomCosts("hubbub", size, paths)
    finally:
        room.close()


# the samples' design --------------------------------------------------------------------------
class _SampleRoom:
    def __init__(self, endpoint: str, size: int, other_connections: int) -> None:
        self.counting = _Counting(endpoint)
        self.table = f"sample-{size}-{secrets.token_hex(3)}"
        self.rooms = other_connections > 0
        probe = self.counting.probe
        probe.create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        probe.get_waiter("table_exists").wait(TableName=self.table)
        self.members = [connection_id(i, self.table) for i in range(size)]
        others = [connection_id(i, f"other-{self.table}") for i in range(other_connections)]
        items = [self.item(cid, "capacity") for cid in self.members]
        items += [self.item(cid, f"room{i % 100}") for i, cid in enumerate(others)]
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            response = probe.batch_write_item(RequestItems={self.table: batch})
            assert not response.get("UnprocessedItems")

    def item(self, cid: str, room: str) -> dict[str, Any]:
        item: dict[str, Any] = {"connectionId": {"S": cid}}
        if self.rooms:
            item["roomId"] = {"S": room}
        return item

    def connect(self, cid: str) -> None:
        self.counting.metered.put_item(TableName=self.table, Item=self.item(cid, "capacity"))

    def disconnect(self, cid: str) -> None:
        self.counting.metered.delete_item(TableName=self.table, Key={"connectionId": {"S": cid}})

    def send(self, data: bytes) -> None:
        """sendmessage/app.js: one Scan (the sample reads one page; all of it fits here), then
        one post per connection id; a 410 deletes that connection."""
        request: dict[str, Any] = {"TableName": self.table, "ProjectionExpression": "connectionId"}
        if self.rooms:
            request["FilterExpression"] = "roomId = :room"
            request["ExpressionAttributeValues"] = {":room": {"S": "capacity"}}
        page = self.counting.metered.scan(**request)
        assert "LastEvaluatedKey" not in page, "the sample reads one page only"
        api = self.counting.connections
        for item in page["Items"]:
            cid = item["connectionId"]["S"]
            try:
                api.post_to_connection(ConnectionId=cid, Data=data)
            except api.exceptions.GoneException:
                self.disconnect(cid)

    def close(self) -> None:
        self.counting.probe.delete_table(TableName=self.table)
        self.counting.close()


def measure_sample_room(
    endpoint: str, size: int, *, sends: int = 3, other_connections: int = 0
) -> RoomCosts:
    """The samples' design with ``size`` connections in the room (and ``other_connections``)."""
    room = _SampleRoom(endpoint, size - 1, other_connections)
    try:
        paths = {
            "connect": PathCost("OnConnectFunction"),
            "send": PathCost("SendMessageFunction"),
            "leave": PathCost("OnDisconnectFunction"),
        }
        cid = connection_id(size, room.table)
        with room.counting.measure() as run:
            room.connect(cid)
        paths["connect"].runs.append(run)
        data = MESSAGE_TEXT.encode()
        for _ in range(sends):
            with room.counting.measure() as run:
                room.send(data)
            assert run.posts == size, run
            paths["send"].runs.append(run)
        with room.counting.measure() as run:
            room.disconnect(cid)
        paths["leave"].runs.append(run)
        return RoomCosts("sample", size, paths, other_connections)
    finally:
        room.close()
