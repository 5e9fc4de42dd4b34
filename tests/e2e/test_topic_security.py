"""Issue 15, items 4 and 7, against a real ``hubbub serve``: wildcard filters beyond the bound
are refused, and messages say who is staff by the role the server set."""

from __future__ import annotations

import uuid

import pytest

from hubbub.client import ClientError
from tests.e2e.conftest import Connect
from tests.e2e.test_product import add_operator
from tests.e2e.test_rest import rest
from tests.support.server import ServerProcess


async def test_guests_beyond_their_share_of_wildcard_filters_are_refused(connect: Connect) -> None:
    """The attack: guests, each subscribing many distinct wildcard filters. Each gets two (the
    default share of a guest connection); the rest are forbidden with a message that says why,
    and the connection stays usable. A filter that can match no topic is bad_request."""
    run = uuid.uuid4().hex[:6]
    for guest in range(4):
        client = await connect()
        outcomes: list[str] = []
        messages: list[str] = []
        for index in range(5):
            try:
                await client.subscribe(f"room/{run}g{guest}x{index}/#")
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.code)
                messages.append(str(exc.frame["message"]))
        assert outcomes == ["ok", "ok", "forbidden", "forbidden", "forbidden"]
        assert all("wildcard filters per guest connection" in m for m in messages)
        assert (await client.request("ping"))["type"] == "pong"
    client = await connect()
    with pytest.raises(ClientError) as refused:
        await client.subscribe("room/+/+")
    assert refused.value.code == "bad_request"


@pytest.mark.store
async def test_pushed_and_stored_messages_carry_the_role_the_server_set(
    server: ServerProcess, connect: Connect
) -> None:
    """A visitor named like staff who claims role operator in the frame is a visitor in the
    push, in a resume's backlog, in history and in REST history; an operator is an operator."""
    topic = f"room/role{uuid.uuid4().hex[:6]}"
    watcher = await connect()
    await watcher.subscribe(topic)
    impostor = await connect()
    await impostor.register("Support (operator)")
    await impostor.request(
        "send", topic=topic, text="trust me", clientMsgId="i1", role="operator", **{"from": "o_x"}
    )
    operator = await connect(token=add_operator(server, f"op{uuid.uuid4().hex[:6]}"))
    await operator.send(topic, "the real team", "o1")

    pushed = [await watcher.wait_for_seq(topic, seq) for seq in (1, 2)]
    assert (pushed[0]["nickname"], pushed[0]["role"]) == ("Support (operator)", "visitor")
    assert pushed[1]["role"] == "operator"
    assert pushed[0]["from"].startswith("v_")

    late = await connect()
    backlog = await late.subscribe(topic, since=0)
    assert [m["role"] for m in backlog["messages"]] == ["visitor", "operator"]
    history = await late.request("history", topic=topic)
    assert [m["role"] for m in history["messages"]] == ["visitor", "operator"]
    status, page = await rest(server, "GET", f"/api/history?topic={topic}")
    assert status == 200
    assert [m["role"] for m in page["messages"]] == ["visitor", "operator"]
