"""Topic rules: the SQL subset, routing and Basic Ingest.

*AWS IoT SQL reference* (SELECT, FROM, WHERE; Undefined results), *Functions* (``topic()``,
``topic(n)``, ``clientid()``, ``principal()``, ``timestamp()``, ``encode(*, 'base64')``; the
Basic Ingest prefix is not available to ``topic()``), *Working with binary payloads* (``SELECT
*`` passes raw bytes through), *Reducing messaging costs with Basic Ingest*
(``$aws/rules/<rule_name>/...`` reaches that rule only; FROM is optional for such rules)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hubbub.runtime.iot.hooks import InboundMessage
from hubbub.runtime.iot.rules import Rule, RuleEngine, route
from hubbub.runtime.iot.rulesql import MessageContext, RuleSqlError, parse_sql

CTX = MessageContext(
    topic="room/lobby/x", client_id="alice-1", principal="alice1", timestamp_ms=1700
)
PAYLOAD = json.dumps(
    {"text": "hi", "n": 3, "f": 2.5, "b": {"c": "deep"}, "ok": True, "kind": "chat"}
).encode()

EVAL: list[tuple[str, bytes, Any]] = [
    ("SELECT * FROM 'room/#'", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT text FROM 'room/#'", PAYLOAD, {"text": "hi"}),
    ("SELECT b.c FROM 'room/#'", PAYLOAD, {"c": "deep"}),
    ("SELECT b.c AS x, text AS t FROM 'room/#'", PAYLOAD, {"x": "deep", "t": "hi"}),
    ("SELECT missing, text FROM 'room/#'", PAYLOAD, {"text": "hi"}),
    ("SELECT b.nope.deeper AS x FROM 'a'", PAYLOAD, {}),
    (
        "SELECT topic() AS t, topic(2) AS room, topic(9) AS none, clientid() AS c, "
        "principal() AS p, timestamp() AS ts FROM 'room/#'",
        b"{}",
        {"t": "room/lobby/x", "room": "lobby", "c": "alice-1", "p": "alice1", "ts": 1700},
    ),
    ("SELECT *, topic(1) AS kind2 FROM 'room/#'", b'{"a": 1}', {"a": 1, "kind2": "room"}),
    ("select TEXT from 'x'", PAYLOAD, {}),  # paths are case-sensitive, keywords are not
    ("select text from 'x' where n = 3", PAYLOAD, {"text": "hi"}),
    ("SELECT * FROM 'x' WHERE n = 4", PAYLOAD, None),
    ("SELECT * FROM 'x' WHERE n > 2 AND kind = 'chat'", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE n > 5 OR kind = 'chat'", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE NOT kind = 'chat'", PAYLOAD, None),
    ("SELECT * FROM 'x' WHERE kind <> 'chat'", PAYLOAD, None),
    ("SELECT * FROM 'x' WHERE kind != 'other'", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE missing = 'chat'", PAYLOAD, None),  # Undefined is not true
    ("SELECT * FROM 'x' WHERE NOT missing = 'chat'", PAYLOAD, None),  # nor is its negation
    ("SELECT * FROM 'x' WHERE n = '3'", PAYLOAD, None),  # number vs string: Undefined
    ("SELECT * FROM 'x' WHERE f >= 2.5 AND f < 3", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE ok = true", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE ok", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE n", PAYLOAD, None),  # a number is not true
    ("SELECT * FROM 'x' WHERE (n + 1) * 2 = 8", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE timestamp() % 100 = 0", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE n / 0 = 1", PAYLOAD, None),
    ("SELECT * FROM 'x' WHERE topic(2) = 'lobby'", PAYLOAD, json.loads(PAYLOAD)),
    ("SELECT * FROM 'x' WHERE clientid() = 'bob'", PAYLOAD, None),
    ("SELECT * FROM 'x' WHERE text = 'it\\'s'", b'{"text": "it\'s"}', {"text": "it's"}),
    ("SELECT n - -1 AS m FROM 'x'", PAYLOAD, {"m": 4}),
    # binary (non-JSON-object) payloads
    ("SELECT * FROM 'x'", b"plain text \xff", b"plain text \xff"),
    ("SELECT * FROM 'x'", b"[1, 2]", b"[1, 2]"),
    ("SELECT *, principal() AS p FROM 'x'", b"plain", None),
    ("SELECT *, principal() AS p FROM 'x'", b"", {"p": "alice1"}),
    (
        "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'x'",
        b"hi",
        {"data": "aGk=", "ts": 1700},
    ),
    ("SELECT * FROM 'x' WHERE text = 'hi'", b"not json", None),
]


@pytest.mark.parametrize(("sql", "payload", "expected"), EVAL)
def test_evaluate(sql: str, payload: bytes, expected: Any) -> None:
    assert parse_sql(sql).evaluate(payload, CTX) == expected


def test_from_is_read_and_optional() -> None:
    assert parse_sql("SELECT * FROM 'room/+'").topic_filter == "room/+"
    assert parse_sql("SELECT * WHERE a = 1").topic_filter is None


BAD_SQL = [
    "",
    "FROM 'a'",
    "SELECT",
    "SELECT * FROM room",
    "SELECT * FROM 'a' WHERE",
    "SELECT * FROM 'a' ORDER BY x",
    "SELECT a AS FROM 'x'",
    "SELECT newuuid() FROM 'x'",
    "SELECT topic(1, 2) FROM 'x'",
    "SELECT (a FROM 'x'",
    "SELECT a. FROM 'x'",
    "SELECT a # b FROM 'x'",
    "SELECT from FROM 'x'",
]


@pytest.mark.parametrize("sql", BAD_SQL)
def test_sql_it_cannot_run_is_refused(sql: str) -> None:
    with pytest.raises(RuleSqlError):
        parse_sql(sql)


RULES = {
    "hubbub": Rule.from_text("hubbub", "SELECT * FROM 'room/+'", ["SendFn"]),
    "presence": Rule.from_text(
        "presence", "SELECT * FROM '$aws/events/presence/+/+'", ["PresenceFn"]
    ),
    "all": Rule.from_text("all", "SELECT * FROM '#'", ["AllFn"]),
    "off": Rule.from_text("off", "SELECT * FROM 'room/+'", ["OffFn"], disabled=True),
    "ingestonly": Rule.from_text("ingestonly", "SELECT topic() AS t", ["IngestFn"]),
}

ROUTES: list[tuple[str, list[tuple[str, str]]]] = [
    ("room/lobby", [("hubbub", "room/lobby"), ("all", "room/lobby")]),
    ("room/lobby/deeper", [("all", "room/lobby/deeper")]),
    ("$aws/events/presence/connected/c1", [("presence", "$aws/events/presence/connected/c1")]),
    # Basic Ingest: one rule only, prefix removed, FROM not consulted
    ("$aws/rules/hubbub/room/lobby", [("hubbub", "room/lobby")]),
    ("$aws/rules/hubbub/desk/9/x", [("hubbub", "desk/9/x")]),
    ("$aws/rules/ingestonly/a/b", [("ingestonly", "a/b")]),
    ("$aws/rules/off/room/lobby", []),
    ("$aws/rules/nosuchrule/room/lobby", []),
]


@pytest.mark.parametrize(("topic", "expected"), ROUTES)
def test_route(topic: str, expected: list[tuple[str, str]]) -> None:
    assert [(r.rule.name, r.topic) for r in route(topic, RULES)] == expected


def _message(topic: str, payload: bytes = b'{"text": "hi"}') -> InboundMessage:
    return InboundMessage(
        topic=topic,
        payload=payload,
        qos=1,
        retain=False,
        client_id="alice-1",
        principal="alice1",
        timestamp_ms=1700,
    )


def test_engine_invokes_lambda_actions_and_consumes_basic_ingest() -> None:
    calls: list[tuple[str, Any]] = []

    async def invoke(function: str, event: Any) -> None:
        calls.append((function, event))

    async def scenario() -> tuple[bool, bool, bool]:
        engine = RuleEngine(
            [
                Rule.from_text(
                    "hubbub",
                    "SELECT *, topic() AS topic, clientid() AS cid FROM 'room/+'",
                    ["SendFn"],
                )
            ],
            invoke,
        )
        consumed_ingest = engine.offer(_message("$aws/rules/hubbub/room/lobby"))
        consumed_plain = engine.offer(_message("room/lobby"))
        consumed_other = engine.offer(_message("desk/1"))
        await engine.drain()
        return consumed_ingest, consumed_plain, consumed_other

    assert asyncio.run(scenario()) == (True, False, False)
    event = {"text": "hi", "topic": "room/lobby", "cid": "alice-1"}
    assert calls == [("SendFn", event), ("SendFn", event)]


def test_engine_counts_failures_and_binary_outputs_without_raising() -> None:
    async def invoke(function: str, event: Any) -> None:
        raise RuntimeError("function error")

    async def scenario() -> dict[str, int]:
        engine = RuleEngine([Rule.from_text("r", "SELECT * FROM 'a'", ["Fn"])], invoke)
        engine.offer(_message("a"))
        engine.offer(_message("a", b"\x00binary"))
        await engine.drain()
        return engine.stats

    assert asyncio.run(scenario()) == {"matched": 2, "invoked": 1, "failed": 1, "binary_refused": 1}
