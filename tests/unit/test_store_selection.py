"""The DynamoDB pass runs only e2e tests marked ``store``: none that reaches behaviour the two
stores implement separately may be left out of it (tests/support/store_sensitivity.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.store_sensitivity import ReadTest, read_module

E2E = Path(__file__).resolve().parents[1] / "e2e"

LEFT_TO_SQLITE: dict[str, str] = {
    "test_mail.py::test_ses_checks_signatures_refuses_unverified_senders_and_relays_to_smtp": (
        "it checks the runtime's SES (signatures, verified senders, the SMTP relay); the"
        " mailings themselves run on DynamoDB in the module's other two tests"
    ),
    "test_rest_moderation.py::"
    "test_unsubscribing_by_post_with_anything_gets_a_page_and_no_server_error": (
        "a fuzz of the form's parsing; the unsubscribe's write runs on DynamoDB in test_mail.py's"
        " one-click test"
    ),
    "test_observability.py::test_sigterm_during_traffic_loses_no_acknowledged_message": (
        "a SIGTERM drains the runtime's invocations; that the tables outlive the server on"
        " DynamoDB is checked, harder, by test_durability.py's kill -9"
    ),
    "test_security.py::test_operator_credentials_never_reach_logs_or_frames": (
        "it reads logs and frames for secrets; it lists conversations only to make an operator act"
    ),
    "test_abuse.py::test_one_token_over_five_connections_bursting_300_sends": (
        "the limit is one Store method, take_token, that tests/contract/test_rate_buckets.py races"
        " on both adapters; history pages run on DynamoDB in test_chat_path.py"
    ),
    "test_abuse.py::test_a_removed_operator_can_do_nothing_on_the_still_open_socket": (
        "it checks authorization on each action; removing an operator is one Store method that"
        " tests/contract runs on both adapters"
    ),
}
"""``module::test`` that shows a trigger yet need not run on DynamoDB, with the reason."""


def _facts() -> list[tuple[str, ReadTest]]:
    return [
        (f"{path.name}::{facts.name}", facts)
        for path in sorted(E2E.glob("test_*.py"))
        for facts in read_module(path.read_text())
    ]


def test_every_test_reaching_a_store_difference_runs_on_dynamodb() -> None:
    missing = [
        f"{name} ({', '.join(sorted(facts.triggers))})"
        for name, facts in _facts()
        if facts.uses_store and facts.triggers and not facts.marked and name not in LEFT_TO_SQLITE
    ]
    assert missing == [], "mark these @pytest.mark.store (CONTRIBUTING.md):\n" + "\n".join(missing)


def test_every_store_difference_the_suite_reaches_is_reached_on_dynamodb() -> None:
    reached = {t for _, facts in _facts() if facts.uses_store for t in facts.triggers}
    on_dynamodb = {t for _, facts in _facts() if facts.marked for t in facts.triggers}
    assert reached - on_dynamodb == set()
    assert len(on_dynamodb) >= 10  # the reader still finds the triggers in the real suite


def test_only_tests_on_the_store_under_test_are_marked() -> None:
    stray = [name for name, facts in _facts() if facts.marked and not facts.uses_store]
    assert stray == []


def test_the_exemptions_name_real_unmarked_tests() -> None:
    unmarked = {name for name, facts in _facts() if not facts.marked}
    assert set(LEFT_TO_SQLITE) <= unmarked


_HEAD = """
import pytest

@pytest.fixture(scope="module")
def room_server(server):
    return server

@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    return None
"""


@pytest.mark.parametrize(
    ("body", "uses_store", "marked", "triggers"),
    [
        # plain sends on the suite's server: nothing the stores do differently
        ("async def test_x(connect):\n    await c.send('room/a', 'hi')", True, False, set()),
        (
            "async def test_x(server):\n    await c.request('history', topic='t')",
            True,
            False,
            {"history pages"},
        ),
        (
            "async def test_x(fresh_server):\n    s = fresh_server()\n    s.restart()",
            True,
            False,
            {"the tables outlive a restart"},
        ),
        (
            "@pytest.mark.store\nasync def test_x(room_server):\n    await c.subscribe(t, since=3)",
            True,
            True,
            {"messages since a seq"},
        ),
        # a helper the test calls counts; so does an f-string path
        (
            "def page(s):\n    return get(s, f'/api/history?topic={t}')\n"
            "def test_x(server):\n    page(server)",
            True,
            False,
            {"history pages"},
        ),
        (
            "def test_x(store_args):\n    start('--fault', 'duplicate_stream_batches=true')",
            True,
            False,
            {"the stream's batches"},
        ),
        # a server on the module's own template takes no store under test
        (
            "def test_x(own_server):\n    own_server.restart()",
            False,
            False,
            {"the tables outlive a restart"},
        ),
        ("def test_x(tmp_path):\n    x = LOAD_SCALE", False, False, {"load scaled to the store"}),
    ],
)
def test_reading_a_module(body: str, uses_store: bool, marked: bool, triggers: set[str]) -> None:
    [facts] = [f for f in read_module(_HEAD + textwrap.dedent(body)) if f.name == "test_x"]
    assert (facts.uses_store, facts.marked, facts.triggers) == (uses_store, marked, triggers)


def test_a_module_mark_marks_every_test() -> None:
    source = "import pytest\npytestmark = [pytest.mark.store]\ndef test_x(server):\n    pass\n"
    assert read_module(source) == [ReadTest("test_x", True, True, set())]


def test_a_module_that_shadows_the_server_fixture_takes_no_store() -> None:
    source = (
        "import pytest\n@pytest.fixture\ndef server(tmp_path):\n    return None\n"
        "def test_x(server):\n    server.kill9()\n"
    )
    assert read_module(source) == [
        ReadTest("test_x", False, False, {"the tables outlive a kill -9"})
    ]
