"""Other people's SAM apps, run unmodified by a real ``hubbub serve --template ...``.

The four apps in ``examples/`` were written for AWS, each in another style, and import nothing
from hubbub; the authorizer probe in ``apps/authprobe`` pins REQUEST authorizers down. What they
lean on is checked here through real WebSocket and HTTP clients: tables created for boto3 code,
streams read through ``dynamodbstreams``, TLS for ``https://{domainName}/{stage}``, authorizers,
route responses, Parameters, Conditions, ``--env-vars``, the start-up list of what is not
emulated, and (order-queue) a REST API, an SQS worker with partial batch failures and a
dead-letter queue, and a schedule.

AWS pages order-queue is checked against: "Lambda proxy integrations in API Gateway"
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html;
"Handling errors for an SQS event source in Lambda"
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html; "Using dead-letter
queues in Amazon SQS"
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html;
"Creating an Amazon EventBridge rule that runs on a schedule"
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html.
"""

from __future__ import annotations

import asyncio
import json
import queue
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import websockets
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.exceptions import InvalidStatus

from hubbub.client import HubbubClient
from tests.conftest import TIMEOUT_FACTOR
from tests.support.moto import threaded_moto
from tests.support.server import REPO, ServerProcess, serve_to_exit
from tests.support.waiting import eventually

EXAMPLES = REPO / "examples"
ECHO = EXAMPLES / "echo-router" / "template.yaml"
ROOMS = EXAMPLES / "authorized-rooms" / "template.yaml"
ROUTES = EXAMPLES / "route-responses" / "template.yaml"
ORDERS = EXAMPLES / "order-queue" / "template.yaml"
AUTHPROBE = Path(__file__).parent / "apps" / "authprobe" / "template.yaml"
REPLY_TIMEOUT_S = 20 * TIMEOUT_FACTOR


class _Tee(queue.Queue[str]):
    """Keeps every stdout line ``hubbub serve`` printed, including those before ``ready``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def put(self, item: str, block: bool = True, timeout: float | None = None) -> None:
        self.seen.append(item)
        super().put(item, block, timeout)


def serve(data_dir: Path, template: Path, *args: str) -> ServerProcess:
    proc = ServerProcess(data_dir, *args, template=template)
    proc.lines = _Tee()
    return proc.start()


def printed(proc: ServerProcess) -> list[str]:
    lines = proc.lines
    assert isinstance(lines, _Tee)
    return lines.seen


def trust(info: dict[str, Any]) -> ssl.SSLContext:
    """A client context that trusts only the runtime's CA."""
    return ssl.create_default_context(cafile=info["caFile"])


def dynamodb(proc: ServerProcess) -> Any:
    """A boto3 client on the runtime's DynamoDB endpoint, as a developer's script would make."""
    info = proc.admin("info")
    credentials = json.loads((proc.data_dir / "runtime-credentials.json").read_text())
    return boto3.client(
        "dynamodb", endpoint_url=info["dynamodbEndpoint"], region_name="us-east-1", **credentials
    )


async def reply(ws: websockets.ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S))
    return frame


async def ask(ws: websockets.ClientConnection, frame: Any) -> dict[str, Any]:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return await reply(ws)


async def refused(url: str, **kwargs: Any) -> int:
    """The HTTP status that refused the handshake."""
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(url, open_timeout=REPLY_TIMEOUT_S, **kwargs):
            pass
    return caught.value.response.status_code


def invocations(proc: ServerProcess, function: str) -> int:
    return int(proc.admin("stats")["functions"][function]["invocations"])


def recorded(proc: ServerProcess) -> list[dict[str, Any]]:
    path = proc.data_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- echo-router: one function, routeKey routing, a SimpleTable, @connections over TLS ------------
@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = serve(tmp_path_factory.mktemp("echo") / "data", ECHO)
    yield proc
    proc.stop()


def names_in_table(proc: ServerProcess) -> list[str]:
    items = dynamodb(proc).scan(TableName="local-Connections")["Items"]
    return sorted(item["name"]["S"] for item in items)


async def test_echo_router_echoes_and_broadcasts_over_wss(echo: ServerProcess) -> None:
    """Over wss://, the app's apigatewaymanagementapi client built from https://{domainName}/
    {stage} reaches the runtime, trusting its CA through AWS_CA_BUNDLE."""
    info = echo.admin("info")
    url = info["websockets"]["EchoApi"]["wss"]
    assert url.endswith("/prod")
    alice_name, bob_name = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    async with (
        websockets.connect(f"{url}?name={alice_name}", ssl=trust(info)) as alice,
        websockets.connect(f"{url}?name={bob_name}", ssl=trust(info)) as bob,
    ):
        assert await ask(alice, {"action": "echo", "data": "hi"}) == {"echo": "hi"}
        assert {alice_name, bob_name} <= set(names_in_table(echo))

        await bob.send(json.dumps({"action": "broadcast", "message": "hello all"}))
        assert await reply(alice) == {"from": bob_name, "message": "hello all"}
        assert await reply(bob) == {"from": bob_name, "message": "hello all"}
        summary = await reply(bob)
        assert summary["delivered"] >= 2

        error = await ask(alice, {"action": "dance"})
        assert error == {"error": "unknown action", "actions": ["echo", "broadcast"]}
        assert (await ask(alice, "not json"))["error"] == "unknown action"
    await eventually(
        lambda: not {alice_name, bob_name} & set(names_in_table(echo)),
        what="$disconnect removed both connections from the table",
    )


async def test_echo_router_forgets_a_gone_connection_on_the_next_broadcast(
    echo: ServerProcess,
) -> None:
    """With $disconnect lost, the stale item stays until a post answers 410 (GoneException);
    the client here speaks plain ws://, and https://{domainName} still answers on that port."""
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    plain = echo.admin("info")["websockets"]["EchoApi"]["ws"]
    echo.admin("faults", {"drop_disconnect": True})
    try:
        async with websockets.connect(f"{plain}?name={ghost}") as ws:
            assert await ask(ws, {"action": "echo", "data": 1}) == {"echo": 1}
        assert ghost in names_in_table(echo)

        async with websockets.connect(f"{plain}?name=dave") as dave:
            await dave.send(json.dumps({"action": "broadcast", "message": "anyone?"}))
            assert await reply(dave) == {"from": "dave", "message": "anyone?"}
            summary = await reply(dave)
    finally:
        echo.admin("faults", {"drop_disconnect": False})
    assert summary["gone"] >= 1
    assert ghost not in names_in_table(echo)


# -- authorized-rooms: REQUEST authorizer, one function per route, a stream-fed broadcast ---------
@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = serve(tmp_path_factory.mktemp("rooms") / "data", ROOMS)
    yield proc
    proc.stop()


def rooms_url(proc: ServerProcess, token: str | None, room: str) -> str:
    base = proc.admin("info")["websockets"]["RoomsApi"]["ws"]
    query = f"room={room}" + ("" if token is None else f"&token={token}")
    return f"{base}?{query}"


def members(proc: ServerProcess, room: str) -> dict[str, str]:
    items = dynamodb(proc).query(
        TableName="local-RoomsTable",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :conn)",
        ExpressionAttributeValues={":pk": {"S": f"ROOM#{room}"}, ":conn": {"S": "CONN#"}},
    )["Items"]
    return {item["sk"]["S"]: item["user"]["S"] for item in items}


async def test_rooms_refuse_a_missing_unknown_or_banned_token(rooms: ServerProcess) -> None:
    before = invocations(rooms, "AuthorizerFunction")
    assert await refused(rooms_url(rooms, None, "lobby")) == 401
    assert await refused(rooms_url(rooms, "", "lobby")) == 401
    assert invocations(rooms, "AuthorizerFunction") == before, "no identity: no invocation"
    assert await refused(rooms_url(rooms, "forged", "lobby")) == 401
    assert await refused(rooms_url(rooms, "mallory-token", "lobby")) == 403
    assert invocations(rooms, "AuthorizerFunction") == before + 2
    assert "mallory" not in members(rooms, "lobby").values()


async def test_rooms_deliver_a_message_to_its_room_only(rooms: ServerProcess) -> None:
    """The authorizer's context reaches $connect (who joins), messages (who speaks) and
    $disconnect (which room to leave); the stream's FilterCriteria keep membership writes away
    from the broadcast function."""
    room, other = f"r-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    async with (
        websockets.connect(rooms_url(rooms, "alice-token", room)) as alice,
        websockets.connect(rooms_url(rooms, "bob-token", room)) as bob,
        websockets.connect(rooms_url(rooms, "carol-token", other)) as carol,
    ):
        who = await ask(alice, {"action": "whoami"})
        assert {k: who[k] for k in ("user", "room", "principalId")} == {
            "user": "alice",
            "room": room,
            "principalId": "alice",
        }
        assert isinstance(who["integrationLatency"], int)
        assert sorted(members(rooms, room).values()) == ["alice", "bob"]

        ack = await ask(alice, {"action": "send", "text": "hi room"})
        assert ack["room"] == room
        expected = {"room": room, "from": "alice", "text": "hi room", "id": ack["sent"]}
        assert await reply(bob) == expected
        assert await reply(alice) == expected
        assert (await ask(carol, {"action": "whoami"}))["room"] == other  # nothing came before

        bad = await ask(bob, {"action": "send", "text": ""})
        assert bad == {"error": "text is required"}
        await bob.close()
        await eventually(
            lambda: sorted(members(rooms, room).values()) == ["alice"],
            what="bob's $disconnect left the room named by the authorizer context",
        )
    assert rooms.admin("dead-letters") == []


# -- route-responses: CloudFormation functions, route responses, Parameters, Conditions ------------
@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = serve(tmp_path_factory.mktemp("routes") / "data", ROUTES)
    yield proc
    proc.stop()


async def test_two_way_routes_answer_and_default_answers_errors(routes: ServerProcess) -> None:
    url = routes.admin("info")["websockets"]["Api"]["ws"]
    assert url.endswith("/v1")
    async with websockets.connect(url) as ws:
        assert await ask(ws, {"action": "add", "numbers": [1, 2, 3.5]}) == {"sum": 6.5}
        assert await ask(ws, {"action": "add", "numbers": "x"}) == {
            "error": "numbers must be a list of numbers"
        }
        assert await ask(ws, {"action": "greet", "name": "Ada"}) == {"greeting": "Hello, Ada!"}
        assert isinstance((await ask(ws, {"action": "ping"}))["pong"], int)  # inline ZipFile
        unknown = await ask(ws, {"action": "admin"})  # its Condition is false by default
        assert unknown == {"error": "unknown action 'admin'", "actions": ["add", "greet", "ping"]}
        assert (await ask(ws, "{not json"))["error"] == "frames must be JSON objects"


async def test_resources_without_local_meaning_are_listed_at_start_up(
    routes: ServerProcess,
) -> None:
    log = routes.log_path
    await eventually(
        lambda: "not emulated: ArchiveStream (AWS::Kinesis::Stream)" in log.read_text(),
        what="the Kinesis stream listed as not emulated",
    )
    assert "FunctionRole" not in log.read_text()  # IAM has no local effect: ignored, not listed


async def test_parameter_overrides_conditions_and_env_vars(tmp_path: Path) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps({"Parameters": {"GREETING": "Yo"}, "GreetFunction": {"GREETING": "Howdy"}})
    )
    proc = serve(
        tmp_path / "data",
        ROUTES,
        "--parameter-overrides",
        "EnableAdmin=true",
        "StageName=beta",
        "--env-vars",
        str(env_vars),
    )
    try:
        url = proc.admin("info")["websockets"]["Api"]["ws"]
        assert url.endswith("/beta")
        async with websockets.connect(url) as ws:
            assert await ask(ws, {"action": "greet", "name": "Ada"}) == {"greeting": "Howdy, Ada!"}
            admin = await ask(ws, {"action": "admin"})
            assert (admin["stage"], admin["function"]) == ("beta", "local-AdminFunction")
            unknown = await ask(ws, {"action": "nope"})
            assert unknown["actions"] == ["add", "greet", "ping", "admin"]
    finally:
        proc.stop()


def test_a_parameter_override_outside_allowed_values_is_refused(tmp_path: Path) -> None:
    result = serve_to_exit(
        *("--data-dir", str(tmp_path / "data"), "--template", str(ROUTES)),
        *("--parameter-overrides", "EnableAdmin=maybe"),
    )
    assert result.returncode == 2
    assert "EnableAdmin='maybe' is not one of" in result.stderr


# -- order-queue: a REST API, an SQS worker with partial batch failures and a DLQ, a schedule -----
@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Failed orders come back after 5 s (the template's floor) instead of 30."""
    proc = serve(
        tmp_path_factory.mktemp("orders") / "data",
        ORDERS,
        "--parameter-overrides",
        "RetryAfterSeconds=5",
    )
    yield proc
    proc.stop()


def rest(proc: ServerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A client's call on the Prod stage: the status and the JSON body, errors included."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(f"{proc.base_url}/Prod{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=REPLY_TIMEOUT_S) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert response.headers["x-amzn-RequestId"]
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def order_status(proc: ServerProcess, order_id: str) -> dict[str, Any]:
    status, order = rest(proc, "GET", f"/orders/{order_id}")
    assert status == 200, order
    assert order["orderId"] == order_id
    return dict(order)


def sqs(proc: ServerProcess) -> Any:
    info = proc.admin("info")
    credentials = json.loads((proc.data_dir / "runtime-credentials.json").read_text())
    return boto3.client(
        "sqs", endpoint_url=info["sqsEndpoint"], region_name="us-east-1", **credentials
    )


def queue_depth(proc: ServerProcess, queue_name: str) -> int:
    """Messages waiting plus in flight, as SQS counts them."""
    url = proc.admin("info")["queues"][queue_name]
    attributes = sqs(proc).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


async def test_order_queue_refuses_bad_requests_and_unknown_orders(orders: ServerProcess) -> None:
    """The POST body arrives as the 1.0 event's string ``body``, the id as ``pathParameters``;
    the function's ``statusCode`` and ``headers`` come back as they were answered."""
    assert rest(orders, "POST", "/orders", b"not json") == (
        400,
        {"message": "the body must be JSON"},
    )
    status, answer = rest(orders, "POST", "/orders", {"items": [{"sku": "tea", "quantity": 0}]})
    assert (status, answer["message"]) == (
        400,
        "each line needs a sku and a positive whole quantity",
    )
    assert rest(orders, "GET", "/orders/nope") == (404, {"message": "no order nope"})
    assert rest(orders, "DELETE", "/orders/nope")[0] == 403  # no such method on the resource
    assert queue_depth(orders, "OrderQueue") == 0


async def test_order_queue_prices_good_orders_and_dead_letters_a_bad_one(
    orders: ServerProcess,
) -> None:
    """Three orders in one batch window: the two good ones are priced once and deleted; the one
    naming an unknown product is reported in ``batchItemFailures``, comes back after the
    visibility timeout (``attempts`` 2), and after maxReceiveCount (3) receives the redrive
    policy moves it to the dead-letter queue. The hourly schedule, fired through the admin API,
    then marks it failed and writes the report GET /report answers."""
    placed = [
        rest(orders, "POST", "/orders", {"items": items})
        for items in (
            [{"sku": "tea", "quantity": 2}, {"sku": "mug", "quantity": 1}],
            [{"sku": "unicorn", "quantity": 1}, {"sku": "tea", "quantity": 1}],
            [{"sku": "beans", "quantity": 3}],
        )
    ]
    assert [(status, answer["status"]) for status, answer in placed] == [(202, "queued")] * 3
    good, bad, other = (answer["orderId"] for _, answer in placed)

    for order_id, total in ((good, 2 * 450 + 1200), (other, 3 * 1650)):
        done = await eventually(
            lambda order_id=order_id: (
                (o := order_status(orders, order_id))["status"] == "done" and o
            ),
            timeout=REPLY_TIMEOUT_S,
            what=f"order {order_id} done",
        )
        assert (done["totalCents"], done["attempts"]) == (total, 1)

    retrying = await eventually(
        lambda: (o := order_status(orders, bad))["attempts"] >= 2 and o,
        timeout=REPLY_TIMEOUT_S,
        what="the bad order tried again after the visibility timeout",
    )
    assert retrying["status"] == "retrying"
    assert retrying["lastError"] == "not in the catalogue: unicorn"
    await eventually(
        lambda: queue_depth(orders, "OrderDeadLetters") == 1,
        timeout=REPLY_TIMEOUT_S * 2,
        what="the bad order moved to the dead-letter queue",
    )
    assert order_status(orders, bad)["attempts"] == 3
    dead_letters = orders.admin("info")["queues"]["OrderDeadLetters"]
    (dead,) = sqs(orders).receive_message(
        QueueUrl=dead_letters, AttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]  # a peek: visible again at once, for the schedule to find
    assert json.loads(dead["Body"])["orderId"] == bad
    assert dead["Attributes"]["ApproximateReceiveCount"] == "4"  # 3 by the worker, 1 here
    assert queue_depth(orders, "OrderQueue") == 0
    assert rest(orders, "GET", "/report") == (404, {"message": "no report yet"})

    fired = orders.admin("schedules/ReportFunction.Hourly/fire", {})
    assert fired == {
        "ok": True,
        "errorType": None,
        "payload": {"settledDeadLetters": 1, "orders": {"done": 2, "failed": 1}},
    }
    failed = order_status(orders, bad)
    assert failed["status"] == "failed"
    assert queue_depth(orders, "OrderDeadLetters") == 0
    status, report = rest(orders, "GET", "/report")
    assert status == 200
    assert report["orders"] == {"done": 2, "failed": 1}
    assert report["settledDeadLetters"] == 1
    assert report["generatedAt"].endswith("Z")  # the Scheduled Event's time


# -- REQUEST authorizers: identity sources, policies, context, the 8 KB limit ---------------------
@pytest.fixture(scope="module")
def authprobe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = serve(tmp_path_factory.mktemp("authprobe") / "data", AUTHPROBE)
    yield proc
    proc.stop()


def auth_url(proc: ServerProcess, tenant: str | None = "acme", *, secure: bool = False) -> str:
    base = proc.admin("info")["websockets"]["Api"]["wss" if secure else "ws"]
    return base if tenant is None else f"{base}?tenant={tenant}"


async def test_missing_identity_sources_answer_401_without_invoking(
    authprobe: ServerProcess,
) -> None:
    before = invocations(authprobe, "AuthorizerFunction")
    assert await refused(auth_url(authprobe)) == 401  # no header
    assert await refused(auth_url(authprobe, None), additional_headers={"X-Api-Key": "k"}) == 401
    assert await refused(auth_url(authprobe, ""), additional_headers={"X-Api-Key": "k"}) == 401
    assert await refused(auth_url(authprobe), additional_headers={"X-Api-Key": ""}) == 401
    assert invocations(authprobe, "AuthorizerFunction") == before


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("deny", 403),
        ("elsewhere", 403),
        ("unauthorized", 401),
        ("crash", 500),
        ("huge", 500),
        ("nested", 500),
    ],
)
async def test_authorizer_answers_refuse_the_handshake(
    authprobe: ServerProcess, key: str, status: int
) -> None:
    """Deny (or an Allow for another resource) is 403; raising ``Unauthorized`` is 401; a failed
    authorizer, a result over 8 KB or a context holding an object is 500."""
    before = invocations(authprobe, "RecordFunction")
    assert await refused(auth_url(authprobe), additional_headers={"X-Api-Key": key}) == status
    assert invocations(authprobe, "RecordFunction") == before, "$connect never ran"


async def test_authorizer_context_reaches_every_later_event(authprobe: ServerProcess) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    headers = {"x-api-key": "wildcard"}  # header names match whatever their case
    async with websockets.connect(auth_url(authprobe, tenant), additional_headers=headers) as ws:
        answer = await ask(ws, {"action": "hello"})
    expected = {"tenant": tenant, "tier": 3, "beta": True, "principalId": f"{tenant}:wildcard"}
    got = answer["authorizer"]
    assert {k: got[k] for k in expected} == expected
    assert isinstance(got["integrationLatency"], int)

    def events() -> list[dict[str, Any]] | None:
        mine = [
            e
            for e in recorded(authprobe)
            if (e["requestContext"].get("authorizer") or {}).get("tenant") == tenant
        ]
        return mine if len(mine) == 3 else None

    connect, message, disconnect = await eventually(events, what="three events recorded")
    APIGatewayWebSocketConnectEventModel.model_validate(connect)
    APIGatewayWebSocketMessageEventModel.model_validate(message)
    APIGatewayWebSocketDisconnectEventModel.model_validate(disconnect)
    contexts = [e["requestContext"]["authorizer"] for e in (connect, message, disconnect)]
    assert contexts[0] == contexts[1] == contexts[2] == got


async def test_events_over_tls_carry_the_tls_port_and_https(authprobe: ServerProcess) -> None:
    info = authprobe.admin("info")
    tls_port = int(info["https"].rsplit(":", 1)[1])
    tenant = f"tls{uuid.uuid4().hex[:8]}"
    async with websockets.connect(
        auth_url(authprobe, tenant, secure=True),
        additional_headers={"X-Api-Key": "allow"},
        ssl=trust(info),
    ) as ws:
        await ask(ws, {"action": "hello"})

    def connect_event() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in recorded(authprobe)
                if e["requestContext"]["routeKey"] == "$connect"
                and e["requestContext"]["authorizer"]["tenant"] == tenant
            ),
            None,
        )

    event = await eventually(connect_event, what="the $connect event over TLS")
    assert event["requestContext"]["domainName"] == f"127.0.0.1:{tls_port}"
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    assert event["headers"]["X-Forwarded-Port"] == str(tls_port)
    assert any(
        line.startswith("hubbub: tls        https://127.0.0.1:") for line in printed(authprobe)
    )


# -- hubbub itself on DynamoDB, and an external endpoint ------------------------------------------
async def test_hubbub_runs_on_dynamodb_with_store_dynamodb(tmp_path: Path) -> None:
    """hubbub's own functions get HUBBUB_STORE=dynamodb and the endpoint; the fan-out reads the
    table's stream through dynamodbstreams, its FilterCriteria keeping only message inserts."""
    proc = serve(tmp_path / "data", REPO / "template.yaml", "--store", "dynamodb", "--no-web")
    try:
        info = proc.admin("info")
        assert info["store"] == "dynamodb"
        assert "hubbub: store      dynamodb" in printed(proc)
        alice = await HubbubClient.connect(proc.ws_url)
        bob = await HubbubClient.connect(proc.ws_url)
        try:
            await alice.register("alice")
            await bob.register("bob")
            topic = f"room/d{uuid.uuid4().hex[:8]}"
            await alice.subscribe(topic)
            await bob.subscribe(topic)
            ack = await alice.send(topic, "over dynamodb")
            got = await bob.wait_for_seq(topic, ack["seq"])
            assert got["text"] == "over dynamodb"
        finally:
            await alice.close()
            await bob.close()
        items = dynamodb(proc).query(
            TableName="local-ChatTable",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"T#{topic}"}},
        )["Items"]
        assert any(item.get("text", {}).get("S") == "over dynamodb" for item in items)
        assert not (proc.data_dir / "local-ChatTable.sqlite3").exists()
        assert proc.admin("dead-letters") == []
    finally:
        proc.stop()


@pytest.fixture
def external_dynamodb() -> Iterator[str]:
    with threaded_moto() as url:
        yield url


async def test_tables_are_created_at_an_external_endpoint(
    tmp_path: Path, external_dynamodb: str
) -> None:
    proc = serve(tmp_path / "data", ECHO, "--dynamodb-endpoint", external_dynamodb)
    try:
        assert f"hubbub: dynamodb   {external_dynamodb} (external)" in printed(proc)
        client = boto3.client(
            "dynamodb",
            endpoint_url=external_dynamodb,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        assert "local-Connections" in client.list_tables()["TableNames"]
        url = proc.admin("info")["websockets"]["EchoApi"]["ws"]
        async with websockets.connect(f"{url}?name=ext") as ws:
            await ws.send(json.dumps({"action": "broadcast", "message": "m"}))
            assert await reply(ws) == {"from": "ext", "message": "m"}
        proc.restart()  # the table exists now: it is used as it is
        assert "local-Connections" in client.list_tables()["TableNames"]
    finally:
        proc.stop()


def test_the_sqlite_store_takes_no_dynamodb_endpoint(tmp_path: Path) -> None:
    result = serve_to_exit(
        *("--data-dir", str(tmp_path / "data"), "--template", str(ECHO)),
        *("--store", "sqlite", "--dynamodb-endpoint", "http://127.0.0.1:9"),
    )
    assert result.returncode == 2
    assert "--dynamodb-endpoint needs the dynamodb store" in result.stderr
