"""Moderation over REST (issue 19, items 1 and 2: "reach every channel"): ``POST
/api/moderation`` is the WebSocket's ``moderate`` and ``GET /api/sanctions`` its ``sanctions``,
through the same service, against a real ``hubbub serve``; each refusal is checked too."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.client import ClientError, HubbubClient
from tests.e2e.conftest import Connect
from tests.e2e.test_edit_moderate import pushed
from tests.e2e.test_product import add_operator
from tests.e2e.test_rest import rest
from tests.support.server import ServerProcess


def room() -> str:
    return f"room/m{uuid.uuid4().hex[:10]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def moderate(
    server: ServerProcess, token: str | None, **body: Any
) -> tuple[int, dict[str, Any]]:
    headers = {} if token is None else bearer(token)
    return await rest(server, "POST", "/api/moderation", body, headers)


@pytest.mark.store
async def test_an_operator_mutes_lists_and_lifts_over_rest(
    server: ServerProcess, connect: Connect
) -> None:
    topic = room()
    ops_token = add_operator(server, f"mod{uuid.uuid4().hex[:6]}")
    troll = await connect()
    troll_id = (await troll.register("troll"))["user"]["id"]

    status, reply = await moderate(
        server, ops_token, topic=topic, userId=troll_id, sanction="mute", seconds=600
    )
    assert status == 200
    assert (reply["topic"], reply["userId"], reply["sanction"]) == (topic, troll_id, "mute")
    assert isinstance(reply["until"], int) and "type" not in reply
    with pytest.raises(ClientError) as refused:
        await troll.send(topic, "spam")
    assert refused.value.frame["code"] == "forbidden"

    status, listed = await rest(
        server, "GET", f"/api/sanctions?topic={topic}", None, bearer(ops_token)
    )
    assert status == 200 and listed["topic"] == topic
    assert [(s["userId"], s["sanction"]) for s in listed["sanctions"]] == [(troll_id, "mute")]
    status, everywhere = await rest(server, "GET", "/api/sanctions", None, bearer(ops_token))
    assert status == 200 and any(s["topic"] == topic for s in everywhere["sanctions"])

    status, lifted = await moderate(
        server, ops_token, topic=topic, userId=troll_id, sanction="unmute"
    )
    assert (status, lifted["sanction"]) == (200, "unmute") and "until" not in lifted
    assert (await troll.send(topic, "sorry"))["seq"] == 1


@pytest.mark.store
async def test_a_kick_over_rest_ejects_the_connection_at_once(
    server: ServerProcess, connect: Connect
) -> None:
    topic = room()
    ops_token = add_operator(server, f"mod{uuid.uuid4().hex[:6]}")
    troll = await connect()
    troll_id = (await troll.register("kicked"))["user"]["id"]
    await troll.subscribe(topic)
    status, _ = await moderate(server, ops_token, topic=topic, userId=troll_id, sanction="kick")
    assert status == 200
    assert (await pushed(troll, "moderated", topic))["sanction"] == "kick"


@pytest.mark.store
async def test_every_refusal(server: ServerProcess, connect: Connect) -> None:
    topic = room()
    ops_name = f"mod{uuid.uuid4().hex[:6]}"
    ops_token = add_operator(server, ops_name)
    visitor: HubbubClient = await connect()
    welcome = await visitor.register("visitor")
    target = welcome["user"]["id"]
    fine = {"topic": topic, "userId": target, "sanction": "mute"}

    status, body = await moderate(server, str(welcome["token"]), **fine)
    assert (status, body["code"]) == (403, "forbidden")  # not an operator
    status, body = await moderate(server, None, **fine)
    assert (status, body["code"]) == (403, "forbidden")  # a guest
    status, body = await moderate(server, "not-a-token", **fine)
    assert (status, body["code"]) == (401, "unauthorized")
    status, _ = await moderate(server, ops_token, **{**fine, "sanction": "smite"})
    assert status == 422  # not a sanction
    status, body = await moderate(server, ops_token, **{**fine, "topic": "nowhere/x/../y"})
    assert (status, body["code"]) == (400, "bad_request")
    status, body = await moderate(server, ops_token, **{**fine, "topic": "$sys/operators"})
    assert (status, body["code"]) == (400, "bad_request")
    status, _ = await moderate(server, ops_token, **{**fine, "userId": "no spaces"})
    assert status == 422
    status, body = await moderate(server, ops_token, **{**fine, "sanction": "kick", "seconds": 5})
    assert (status, body["code"]) == (400, "bad_request")
    status, _ = await moderate(server, ops_token, **{**fine, "seconds": 0})
    assert status == 422
    other_ops = add_operator(server, f"mod{uuid.uuid4().hex[:6]}")
    ops_id = (await (await connect(token=other_ops)).request("hello"))["user"]["id"]
    status, body = await moderate(server, ops_token, **{**fine, "userId": ops_id})
    assert (status, body["code"]) == (403, "forbidden")  # operators are not moderated

    status, body = await rest(server, "GET", "/api/sanctions", None, bearer(str(welcome["token"])))
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await rest(server, "GET", "/api/sanctions", None, bearer("nope"))
    assert (status, body["code"]) == (401, "unauthorized")
    status, body = await rest(
        server, "GET", "/api/sanctions?topic=room/%2B", None, bearer(ops_token)
    )
    assert (status, body["code"]) == (400, "bad_request")


@pytest.mark.store
async def test_the_openapi_document_names_the_moderation_routes(server: ServerProcess) -> None:
    status, spec = await rest(server, "GET", "/api/openapi.json")
    assert status == 200
    assert "post" in spec["paths"]["/api/moderation"]
    assert "get" in spec["paths"]["/api/sanctions"]
    unsubscribe = spec["paths"]["/api/mail/unsubscribe"]
    assert {"get", "post"} <= set(unsubscribe)  # the link's page, and the unsubscribing POST
    assert [p["name"] for p in unsubscribe["post"]["parameters"]] == ["token"]


# -- fuzzed: any request gets a typed answer below 500 ----------------------------------------
_json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "topic": _json_leaf | st.sampled_from(["room/a", "desk/v_x", "$sys/x", "room/+"]),
        "userId": _json_leaf | st.sampled_from(["v_1", "o_1", "a b"]),
        "sanction": _json_leaf | st.sampled_from(["mute", "unmute", "ban", "unban", "kick"]),
        "seconds": _json_leaf | st.integers(min_value=-5, max_value=2**40),
    },
)


@pytest.fixture(scope="module")
def ops_token(server: ServerProcess) -> str:
    return add_operator(server, f"fuzz{uuid.uuid4().hex[:6]}")


@pytest.mark.store
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_fields | _json_leaf, as_operator=st.booleans())
def test_moderating_with_anything_gets_a_typed_answer(
    server: ServerProcess, ops_token: str, body: object, as_operator: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    if as_operator:
        headers["Authorization"] = f"Bearer {ops_token}"
    request = urllib.request.Request(
        f"{server.base_url}/api/moderation",
        data=json.dumps(body).encode(),
        method="POST",
        headers=headers,
    )
    status, payload = _fetch(request)
    assert status < 500, payload
    assert isinstance(json.loads(payload), dict)


@pytest.mark.store
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(max_size=300), path=st.sampled_from(["/api/mail/unsubscribe", "/api/sanctions"])
)
def test_unsubscribing_or_listing_with_any_query_gets_a_typed_answer(
    server: ServerProcess, token: str, path: str
) -> None:
    query = urllib.parse.urlencode({"token" if "mail" in path else "topic": token})
    status, payload = _fetch(urllib.request.Request(f"{server.base_url}{path}?{query}"))
    assert status < 500, payload
    assert "Traceback" not in payload


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.none() | st.text(max_size=300),
    body=st.binary(max_size=300)
    | st.builds(lambda t: urllib.parse.urlencode({"token": t}).encode(), st.text(max_size=300)),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json",
            "text/plain",
            "",
        ]
    ),
)
def test_unsubscribing_by_post_with_anything_gets_a_page_and_no_server_error(
    server: ServerProcess, token: str | None, body: bytes, content_type: str
) -> None:
    """The one-click POST and the page's form (RFC 8058): whatever the query, body and type,
    a typed answer below 500, never a traceback (a token that works is not guessable)."""
    query = "" if token is None else "?" + urllib.parse.urlencode({"token": token})
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(
        f"{server.base_url}/api/mail/unsubscribe{query}", data=body, method="POST", headers=headers
    )
    status, payload = _fetch(request)
    assert status in (400, 422), payload
    assert "Traceback" not in payload


def _fetch(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        payload = error.read().decode()
        error.close()
        return error.code, payload
