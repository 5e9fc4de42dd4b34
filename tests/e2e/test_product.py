"""The chat product end to end: identity, desk, presence, typing, DMs, filters, retention,
resume."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
import websockets

from hubbub.client import ClientError, HubbubClient
from tests.e2e.conftest import Connect
from tests.support.server import REPO, ServerProcess


def add_operator(server: ServerProcess, name: str) -> str:
    """`hubbub operator add` against the server's data, whichever store it runs on."""
    return admin_cli(server, "operator", "add", name).strip().splitlines()[-1]


def admin_cli(server: ServerProcess, *args: str) -> str:
    extra: list[str] = []
    env = dict(os.environ)
    if "--store" in server.args and "dynamodb" in server.args:
        info = server.admin("info")
        credentials = json.loads((server.data_dir / "runtime-credentials.json").read_text())
        extra = [
            *("--store", "dynamodb", "--dynamodb-endpoint", info["dynamodbEndpoint"]),
            *("--stack-name", info["stackName"]),
        ]
        env |= {
            "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    out = subprocess.run(
        [sys.executable, "-m", "hubbub.cli", *args, "--data-dir", str(server.data_dir), *extra],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    )
    return out.stdout


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def visitor(connect: Connect, nickname: str) -> tuple[HubbubClient, str]:
    client = await connect()
    welcome = await client.register(nickname)
    return client, welcome["user"]["id"]


# --- identity ----------------------------------------------------------------------------------


async def test_a_registered_token_identifies_later_connections(connect: Connect) -> None:
    first = await connect()
    welcome = await first.register("returning", email="r@example.com")
    again = await connect(token=welcome["token"])
    hello = await again.request("hello")
    assert hello["user"] == welcome["user"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        # alg: none, claims of an operator
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJvXzEiLCJyb2xlIjoib3BlcmF0b3IifQ.",
    ],
)
async def test_bad_tokens_are_refused_at_the_handshake(server: ServerProcess, token: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await HubbubClient.connect(server.ws_url, token=token)
    assert refused.value.response.status_code == 401


async def test_a_removed_operator_cannot_connect(server: ServerProcess) -> None:
    name = unique("gone")
    token = add_operator(server, name)
    client = await HubbubClient.connect(server.ws_url, token=token)
    await client.close()
    admin_cli(server, "operator", "remove", name)
    with pytest.raises(websockets.InvalidStatus):
        await HubbubClient.connect(server.ws_url, token=token)


# --- authorization matrix ----------------------------------------------------------------------

ROLES = ("guest", "visitor", "other", "operator")
TARGETS = (
    "room",
    "desk-own",
    "desk-other",
    "inbox-own",
    "inbox-other",
    "sys",
    "sys-operators",
    "desk-all",
)
ACTIONS = ("subscribe", "history", "presence", "send", "typing", "read")

# what each role may do to each kind of topic; everything else must be `forbidden`
ALLOWED = {
    ("guest", "room"): {"subscribe", "history", "presence"},
    ("visitor", "room"): set(ACTIONS),
    ("other", "room"): set(ACTIONS),
    ("operator", "room"): set(ACTIONS),
    ("visitor", "desk-own"): set(ACTIONS),
    ("other", "desk-own"): set(ACTIONS),
    ("operator", "desk-own"): set(ACTIONS),
    ("operator", "desk-other"): set(ACTIONS),
    ("visitor", "inbox-own"): set(ACTIONS),
    ("visitor", "inbox-other"): {"send", "typing"},
    ("other", "inbox-own"): set(ACTIONS),
    ("other", "inbox-other"): {"send", "typing"},
    ("operator", "inbox-own"): set(ACTIONS),
    ("operator", "inbox-other"): {"send", "typing"},
    ("operator", "sys"): {"subscribe"},
    **{
        (role, "sys-operators"): {"subscribe"} for role in ("guest", "visitor", "other", "operator")
    },
    ("operator", "desk-all"): {"subscribe"},
}


@pytest.mark.store
async def test_authorization_matrix(server: ServerProcess, connect: Connect) -> None:
    guest = await connect()
    owner, owner_id = await visitor(connect, "owner")
    other, other_id = await visitor(connect, "other")
    operator = await connect(token=add_operator(server, unique("matrix")))
    clients = {"guest": guest, "visitor": owner, "other": other, "operator": operator}
    ids = {role: (await c.request("hello"))["user"]["id"] for role, c in clients.items()}
    assert (ids["visitor"], ids["other"]) == (owner_id, other_id)
    # "own" and "other" are relative to the asking role; an operator has no desk of their own,
    # so both of its desk targets are visitors' desks
    someone_else = {"guest": owner_id, "visitor": other_id, "other": owner_id, "operator": owner_id}

    def topic_for(role: str, target: str) -> str:
        me = owner_id if role == "operator" and target == "desk-own" else ids[role]
        return {
            "room": "room/matrix",
            "desk-own": f"desk/{me}",
            "desk-other": f"desk/{someone_else[role]}",
            "inbox-own": f"user/{ids[role]}",
            "inbox-other": f"user/{someone_else[role]}",
            "sys": "$sys/events",
            "sys-operators": "$sys/operators",
            "desk-all": "desk/+",
        }[target]

    failures: list[str] = []
    for role, target, action in itertools.product(ROLES, TARGETS, ACTIONS):
        if target == "desk-all" and action != "subscribe":
            continue
        client = clients[role]
        topic = topic_for(role, target)
        fields: dict[str, object] = {"topic": topic}
        if action == "send":
            fields |= {"text": "matrix", "clientMsgId": uuid.uuid4().hex}
        if action == "read":
            fields["seq"] = 0
        expected = action in ALLOWED.get((role, target), set())
        try:
            await client.request(action, **fields)
            outcome = "allowed"
        except ClientError as exc:
            outcome = exc.code
        want = "allowed" if expected else "forbidden"
        if outcome != want:
            failures.append(f"{role} {action} {target}: got {outcome}, want {want}")
    assert not failures, "\n".join(failures)


async def _typing_outcome(client: HubbubClient, topic: str) -> str:
    """`typing` answers only frames that carry a `ref`; the request helper always sends one."""
    try:
        await client.request("typing", topic=topic)
    except ClientError as exc:
        return exc.code
    return "allowed"


# --- support desk ------------------------------------------------------------------------------


@pytest.mark.store
async def test_visitor_to_operators_desk_round_trip(
    server: ServerProcess, connect: Connect
) -> None:
    ann = await connect(token=add_operator(server, unique("ann")))
    bob = await connect(token=add_operator(server, unique("bob")))
    for op in (ann, bob):
        await op.subscribe("desk/+")
    guest = await connect()
    hello = await guest.request("hello")
    assert hello["operatorsOnline"] >= 2
    assert hello["operatorLastSeen"] is not None

    client, visitor_id = await visitor(connect, "Vera")
    desk = f"desk/{visitor_id}"
    await client.subscribe(desk)
    ack = await client.send(desk, "my order never arrived")
    for op in (ann, bob):
        pushed = await op.wait_for_seq(desk, ack["seq"])
        assert pushed["text"] == "my order never arrived"
        top = (await op.request("conversations", limit=5))["items"][0]
        assert top["topic"] == desk
        assert top["visitor"]["nickname"] == "Vera"
        assert top["unread"] == 1
        assert top["lastMessage"]["text"] == "my order never arrived"

    reply = await ann.send(desk, "sorry! sending a new one today")
    got = await client.wait_for_seq(desk, reply["seq"])
    assert got["text"] == "sorry! sending a new one today"

    await ann.request("read", topic=desk, seq=reply["seq"])
    ann_view = (await ann.request("conversations", limit=5))["items"][0]
    bob_view = (await bob.request("conversations", limit=5))["items"][0]
    assert ann_view["unread"] == 0
    assert bob_view["unread"] == 2


async def test_a_visitor_sees_operators_come_and_go(
    fresh_server: Callable[..., ServerProcess],
) -> None:
    """A follower of $sys/operators starts from the subscribed reply, then is told when the
    only operator connects (0 -> 1) and disconnects (1 -> 0, with when), as hello agrees."""
    server = fresh_server()  # of its own: no other test's operator is online
    token = add_operator(server, unique("live"))
    client = await HubbubClient.connect(server.ws_url)
    await client.register("Vic")
    subscribed = await client.subscribe("$sys/operators")
    assert (subscribed["operatorsOnline"], subscribed["operatorLastSeen"]) == (0, None)

    operator = await HubbubClient.connect(server.ws_url, token=token)
    came = await client.next_event(lambda f: f.get("type") == "operators")
    assert came["operatorsOnline"] == 1
    await operator.close()
    went = await client.next_event(lambda f: f.get("type") == "operators")
    hello = await client.request("hello")
    await client.close()
    assert went["operatorsOnline"] == 0
    assert went["operatorLastSeen"] >= came["operatorLastSeen"]
    assert (hello["operatorsOnline"], hello["operatorLastSeen"]) == (0, went["operatorLastSeen"])


@pytest.mark.store
async def test_unread_survives_a_restart(fresh_server: Callable[..., ServerProcess]) -> None:
    server = fresh_server()
    token = add_operator(server, "keeper")
    client = await HubbubClient.connect(server.ws_url)
    visitor_id = (await client.register("Una"))["user"]["id"]
    for n in range(3):
        await client.send(f"desk/{visitor_id}", f"hello {n}")
    operator = await HubbubClient.connect(server.ws_url, token=token)
    await operator.request("read", topic=f"desk/{visitor_id}", seq=1)
    await client.close()
    await operator.close()
    server.restart()
    operator = await HubbubClient.connect(server.ws_url, token=token)
    item = (await operator.request("conversations"))["items"][0]
    await operator.close()
    assert (item["unread"], item["lastSeq"]) == (2, 3)


# --- direct messages ---------------------------------------------------------------------------


async def test_direct_messages_reach_only_the_inbox_owner(connect: Connect) -> None:
    alice, _ = await visitor(connect, "alice")
    bob, bob_id = await visitor(connect, "bob")
    inbox = f"user/{bob_id}"
    await bob.subscribe(inbox)
    with pytest.raises(ClientError) as refused:
        await alice.subscribe(inbox)
    assert refused.value.code == "forbidden"
    ack = await alice.send(inbox, "psst")
    got = await bob.wait_for_seq(inbox, ack["seq"])
    assert (got["text"], got["nickname"]) == ("psst", "alice")


# --- presence and typing -----------------------------------------------------------------------


async def test_presence_lists_each_user_once_and_announces_joins(connect: Connect) -> None:
    topic = f"room/{unique('p')}"
    ada, ada_id = await visitor(connect, "ada")
    await ada.subscribe(topic)
    grace, grace_id = await visitor(connect, "grace")
    second = await connect(token=(await grace.request("register", nickname="grace"))["token"])
    await grace.subscribe(topic)
    await second.subscribe(topic)
    joined = await ada.next_event(lambda f: f.get("type") == "joined")
    assert (joined["topic"], joined["user"]["id"]) == (topic, grace_id)
    members = (await ada.request("presence", topic=topic))["members"]
    assert sorted(m["id"] for m in members) == sorted([ada_id, grace_id])

    await second.request("unsubscribe", topic=topic)
    await grace.request("unsubscribe", topic=topic)
    left = await ada.next_event(lambda f: f.get("type") == "left")
    assert left["user"]["id"] == grace_id
    members = (await ada.request("presence", topic=topic))["members"]
    assert [m["id"] for m in members] == [ada_id]


async def test_typing_reaches_the_others_and_is_rate_limited(connect: Connect) -> None:
    topic = f"room/{unique('t')}"
    typist, typist_id = await visitor(connect, "typist")
    reader = await connect()
    await reader.subscribe(topic)
    await typist.subscribe(topic)
    await typist.send_raw(f'{{"action": "typing", "topic": "{topic}"}}')
    typing = await reader.next_event(lambda f: f.get("type") == "typing")
    assert typing["user"]["id"] == typist_id
    outcomes = [await _typing_outcome(typist, topic) for _ in range(8)]
    assert "rate_limited" in outcomes


async def test_a_silent_client_leaves_no_ghost(fresh_server: Callable[..., ServerProcess]) -> None:
    """A client that stops talking without a close frame is reaped at the idle timeout."""
    server = fresh_server("--quota", "idle_timeout_s=2")
    topic = "room/ghosts"
    watchers = []
    for name in ("one", "two"):
        client = await HubbubClient.connect(server.ws_url)
        await client.register(name)
        await client.subscribe(topic)
        watchers.append(client)
    silent = await HubbubClient.connect(server.ws_url, ping_interval=None)
    silent_id = (await silent.register("silent"))["user"]["id"]
    await silent.subscribe(topic)
    # the silent client now says nothing at all (no pings, no close); the others keep alive
    stop = asyncio.Event()

    async def keepalive(client: HubbubClient) -> None:
        while not stop.is_set():
            await client.request("ping")
            await asyncio.sleep(0.5)

    pingers = [asyncio.create_task(keepalive(c)) for c in watchers]
    left = await watchers[0].next_event(
        lambda f: f.get("type") == "left" and f["user"]["id"] == silent_id, timeout=8
    )
    assert left["topic"] == topic
    members = (await watchers[0].request("presence", topic=topic))["members"]
    assert silent_id not in {m["id"] for m in members}
    stop.set()
    await asyncio.gather(*pingers)
    for client in [*watchers, silent]:
        await client.close()


async def test_a_killed_client_process_leaves_at_once(
    connect: Connect, server: ServerProcess
) -> None:
    topic = f"room/{unique('k')}"
    watcher = await connect()
    await watcher.subscribe(topic)
    script = (
        "import asyncio, sys\n"
        "from hubbub.client import HubbubClient\n"
        "async def main():\n"
        f"    c = await HubbubClient.connect({server.ws_url!r})\n"
        "    await c.register('doomed')\n"
        f"    await c.subscribe({topic!r})\n"
        "    print('joined', flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "joined"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    left = await watcher.next_event(lambda f: f.get("type") == "left", timeout=5)
    assert left["user"]["nickname"] == "doomed"


# --- filters, retention, resume ------------------------------------------------------------------


async def test_overlapping_filters_deliver_each_message_once(connect: Connect) -> None:
    name = unique("o")
    client = await connect()
    await client.subscribe("room/+")
    await client.subscribe(f"room/{name}")
    sender, _ = await visitor(connect, "overlap")
    acks = [await sender.send(f"room/{name}", f"m{n}") for n in range(5)]
    await client.wait_for_messages(f"room/{name}", 5)
    marker = await sender.send(f"room/{name}", "last")
    await client.wait_for_seq(f"room/{name}", marker["seq"])
    assert client.duplicates == 0
    assert sorted(client.messages[f"room/{name}"]) == [a["seq"] for a in acks] + [marker["seq"]]


@pytest.mark.store
async def test_expired_messages_are_never_returned(
    fresh_server: Callable[..., ServerProcess],
) -> None:
    server = fresh_server()
    client = await HubbubClient.connect(server.ws_url)
    visitor_id = (await client.register("clocky"))["user"]["id"]
    await client.send("room/brief", "gone tomorrow")
    await client.send(f"desk/{visitor_id}", "kept a month")
    server.admin("clock", {"offsetMs": 25 * 3600 * 1000})
    room = await client.request("history", topic="room/brief")
    resumed = await client.subscribe("room/brief", since=0)
    desk = await client.request("history", topic=f"desk/{visitor_id}")
    await client.close()
    assert room["messages"] == []
    assert resumed["messages"] == []
    assert [m["text"] for m in desk["messages"]] == ["kept a month"]


@pytest.mark.store
async def test_resume_with_since_returns_exactly_what_was_missed(connect: Connect) -> None:
    topic = f"room/{unique('r')}"
    reader = await connect()
    await reader.subscribe(topic)
    sender, _ = await visitor(connect, "talker")
    first = await sender.send(topic, "before")
    await reader.wait_for_seq(topic, first["seq"])
    await reader.close()
    for n in range(50):
        await sender.send(topic, f"missed {n}")
    back = await connect()
    reply = await back.subscribe(topic, since=first["seq"])
    assert [m["text"] for m in reply["messages"]] == [f"missed {n}" for n in range(50)]
    assert reply["hasMore"] is False


async def test_registering_in_a_room_renames_you_for_the_others(connect: Connect) -> None:
    topic = f"room/{unique('n')}"
    watcher = await connect()
    await watcher.subscribe(topic)
    newcomer = await connect()
    await newcomer.subscribe(topic)
    joined_as_guest = await watcher.next_event(lambda f: f.get("type") == "joined")
    assert joined_as_guest["user"]["role"] == "guest"

    welcome = await newcomer.register("Nadia")
    left = await watcher.next_event(lambda f: f.get("type") == "left")
    joined = await watcher.next_event(lambda f: f.get("type") == "joined")
    assert left["user"]["id"] == joined_as_guest["user"]["id"]
    assert joined["user"] == welcome["user"]
    members = (await watcher.request("presence", topic=topic))["members"]
    assert welcome["user"] in members
