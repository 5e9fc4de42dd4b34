"""Which end-to-end tests reach behaviour the two stores implement separately, read from their
source: the check behind the ``store`` marker (CONTRIBUTING.md, "Which e2e tests run on
DynamoDB").

The DynamoDB pass of ``make test`` runs only the tests marked ``store``. A test must carry the
mark when what it checks depends on code the SQLite and DynamoDB sides each have their own of:
the tables outliving a restart (files in the data dir; moto outside the server), the stream
(SQLite's stream log; DynamoDB Streams shards), and the store's queries and item kinds with an
implementation per adapter (history pages, ``since``, conversations, revisions, sanctions, read
markers, uploads, mailings). Sending and receiving alone is not enough: every marked test sends,
and tests/contract runs every Store method on both adapters.

The triggers below are what a test's source shows when it reaches one of those: a restart, an
action or REST path, a ``since=``, or the suite's own per-store constants. A test is read with
the module's functions and fixtures it calls, so a helper that pages history counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["STORE_FIXTURES", "ReadTest", "read_module"]

STORE_FIXTURES = frozenset({"store_args", "server", "fresh_server", "connect"})
"""The fixtures whose servers take the store under test (tests/e2e/conftest.py)."""

_CALLS = {
    "restart": "the tables outlive a restart",
    "kill9": "the tables outlive a kill -9",
}
_NAMES = {
    "ON_DYNAMODB": "expectations per store",
    "LOAD_SCALE": "load scaled to the store",
}
_ACTIONS = {
    "history": "history pages",
    "conversations": "the conversations index",
    "edit": "revisions",
    "delete": "revisions",
    "moderate": "sanctions",
    "sanctions": "sanctions",
    "read": "read markers",
}
_PATHS = {
    "/api/history": "history pages",
    "/api/conversations": "the conversations index",
    "/api/rooms": "the rooms index",
    "/api/messages/": "revisions",
    "/api/moderation": "sanctions",
    "/api/sanctions": "sanctions",
    "/api/uploads": "uploads",
    "/api/mail": "mailings",
}
_FAULTS = {
    "streams_paused": "the stream's batches",
    "duplicate_stream_batches": "the stream's batches",
    "duplicate_invocations": "idempotent writes under retries",
    "kill_after_invoke": "idempotent writes under retries",
    "PRESENCE_THRESHOLD": "head counts",
}
"""Faults and settings (constants starting so) that steer the stream or the store's counters."""
_KEYWORDS = {"since": "messages since a seq", "chunked": "subscriber pages"}


@dataclass
class ReadTest:
    """What one test function's source shows."""

    name: str
    uses_store: bool
    marked: bool
    triggers: set[str] = field(default_factory=set)


def read_module(source: str) -> list[ReadTest]:
    """The facts of every ``test_*`` function in a module's source."""
    tree = ast.parse(source)
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    fixtures = {name for name, node in functions.items() if _is_fixture(node)}
    store_fixtures = _store_fixtures(functions, fixtures)
    module_marked = any(_is_store_mark(node) for node in _pytestmark(tree))
    facts = []
    for name, node in functions.items():
        if not name.startswith("test_"):
            continue
        reached = _reached(node, functions, fixtures)
        uses_store = any(arg in store_fixtures for arg in _params(node))
        triggers = {t for fn in reached for t in _triggers(functions.get(fn, node))}
        marked = module_marked or any(_is_store_mark(d) for d in node.decorator_list)
        facts.append(ReadTest(name, uses_store, marked, triggers))
    return facts


def _store_fixtures(
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef], fixtures: set[str]
) -> set[str]:
    """The conftest's store fixtures the module does not shadow with its own, and the module's
    fixtures that request one of them, transitively (a module's own ``server`` on its own
    template takes no store under test)."""
    chosen = set(STORE_FIXTURES - fixtures)
    grew = True
    while grew:
        grew = False
        for name in fixtures - chosen:
            if any(arg in chosen for arg in _params(functions[name])):
                chosen.add(name)
                grew = True
    return chosen


def _reached(
    test: ast.FunctionDef | ast.AsyncFunctionDef,
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    fixtures: set[str],
) -> set[str]:
    """The test and the module's functions it calls or fixtures it requests, transitively."""
    seen = {test.name}
    todo = [test]
    while todo:
        node = todo.pop()
        wanted = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        wanted |= {arg for arg in _params(node) if arg in fixtures}
        for name in wanted & functions.keys() - seen:
            seen.add(name)
            todo.append(functions[name])
    return seen


def _triggers(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute) and sub.func.attr in _CALLS:
                yield _CALLS[sub.func.attr]
            for keyword in sub.keywords:
                if keyword.arg in _KEYWORDS:
                    yield _KEYWORDS[keyword.arg]
        elif isinstance(sub, ast.Name) and sub.id in _NAMES:
            yield _NAMES[sub.id]
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            if sub.value in _ACTIONS:
                yield _ACTIONS[sub.value]
            for prefix, reason in (_PATHS | _FAULTS).items():
                if sub.value.startswith(prefix):
                    yield reason


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [arg.arg for arg in node.args.args + node.args.kwonlyargs]


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in node.decorator_list)


def _is_store_mark(node: ast.AST) -> bool:
    return ast.unparse(node).startswith("pytest.mark.store")


def _pytestmark(tree: ast.Module) -> list[ast.expr]:
    """The marks of a module-level ``pytestmark = ...`` (one mark or a list of them)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            value = node.value
            return list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value]
    return []
