"""The part of IoT Core's rule SQL (version 2016-03-23) a chat needs: parsed once, evaluated per
message.

``SELECT`` takes ``*``, paths into the JSON payload (``a``, ``b.c``) and expressions, each with
an optional ``AS``; ``FROM`` an MQTT topic filter in single quotes (optional: a rule may be
reached by Basic Ingest only); ``WHERE`` comparisons (``= <> != < <= > >=``), arithmetic
(``+ - * / %``), ``AND``/``OR``/``NOT``, string, number and boolean literals. Functions:
``topic()`` and ``topic(n)``, ``clientid()``, ``principal()``, ``timestamp()`` and
``encode(*, 'base64')`` (*AWS IoT SQL reference*, *Functions*).

As in IoT Core, a path to nothing, ``topic(9)`` past the last level, or a comparison of a
string with a number is *Undefined*: a ``SELECT`` item that is Undefined is left out of the
result and a ``WHERE`` that is not true drops the message. A payload that is not a JSON object
is binary (*Working with binary payloads*): ``SELECT *`` passes its bytes through, and adding
fields to it is an error.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SQL_VERSIONS",
    "MessageContext",
    "RuleSqlError",
    "Sql",
    "parse_sql",
]

SQL_VERSIONS = ("2016-03-23", "2015-10-08", "beta")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><>|!=|<=|>=|[=<>(),.*+\-/%])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"select", "from", "where", "as", "and", "or", "not", "true", "false"}


class RuleSqlError(ValueError):
    """A rule's SQL this emulator cannot run (IoT Core refuses a rule whose SQL doesn't parse)."""


class _Undefined:
    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the functions read: the topic the rule sees (Basic Ingest's prefix removed), the
    publisher's client id and principal, the time in milliseconds."""

    topic: str
    client_id: str = ""
    principal: str = ""
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class _Payload:
    value: Any
    raw: bytes
    is_object: bool


Expr = Callable[[_Payload, MessageContext], Any]


@dataclass(frozen=True, slots=True)
class _Item:
    expr: Expr | None
    """None for ``*``."""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Sql:
    text: str
    items: tuple[_Item, ...]
    topic_filter: str | None
    where: Expr | None = field(default=None)

    def evaluate(self, payload: bytes, context: MessageContext) -> dict[str, Any] | bytes | None:
        """The rule's output for one message, or None when ``WHERE`` drops it (or the SELECT
        adds fields to a binary payload, which IoT Core reports as an error)."""
        data = _decode(payload)
        if self.where is not None and self.where(data, context) is not True:
            return None
        star_only = all(item.expr is None for item in self.items)
        if not data.is_object:
            return payload if star_only else self._binary_with_fields(data, context)
        if star_only:
            return dict(data.value)
        out: dict[str, Any] = {}
        for item in self.items:
            if item.expr is None:
                out.update(data.value)
                continue
            value = item.expr(data, context)
            if value is not UNDEFINED:
                out[item.name] = value
        return out

    def _binary_with_fields(self, data: _Payload, context: MessageContext) -> dict[str, Any] | None:
        if any(item.expr is None for item in self.items) and data.raw:
            return None
        out: dict[str, Any] = {}
        for item in self.items:
            if item.expr is not None and (value := item.expr(data, context)) is not UNDEFINED:
                out[item.name] = value
        return out


def _decode(payload: bytes) -> _Payload:
    try:
        value = json.loads(payload) if payload else {}
    except ValueError:
        return _Payload(UNDEFINED, payload, False)
    return _Payload(value, payload, isinstance(value, dict))


# the tokenizer ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Tokens:
    items: list[tuple[str, str]]
    at: int = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.at + offset
        return self.items[index] if index < len(self.items) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        kind, text = self.peek()
        if kind == "name" and text.lower() == word:
            self.at += 1
            return True
        return False

    def op(self, symbol: str) -> bool:
        if self.peek() == ("op", symbol):
            self.at += 1
            return True
        return False

    def expect_op(self, symbol: str) -> None:
        if not self.op(symbol):
            raise RuleSqlError(f"expected {symbol!r} near {self.peek()[1]!r}")


def _tokenize(text: str) -> _Tokens:
    items: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise RuleSqlError(f"cannot read the SQL at {text[position : position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        items.append((kind, match.group(kind)))
        position = match.end()
    return _Tokens(items)


# the parser ---------------------------------------------------------------------------------
def parse_sql(text: str) -> Sql:
    tokens = _tokenize(text)
    if not tokens.keyword("select"):
        raise RuleSqlError("the SQL must start with SELECT")
    items = [_select_item(tokens)]
    while tokens.op(","):
        items.append(_select_item(tokens))
    topic_filter = None
    if tokens.keyword("from"):
        kind, literal = tokens.take()
        if kind != "str":
            raise RuleSqlError("FROM takes a topic filter in single quotes")
        topic_filter = _unquote(literal)
    where = _or(tokens) if tokens.keyword("where") else None
    if tokens.peek()[0] != "end":
        raise RuleSqlError(f"unexpected {tokens.peek()[1]!r}")
    return Sql(text, tuple(items), topic_filter, where)


def _select_item(tokens: _Tokens) -> _Item:
    if tokens.op("*"):
        return _Item(None)
    start = tokens.at
    expr = _or(tokens)
    if tokens.keyword("as"):
        kind, name = tokens.take()
        if kind != "name":
            raise RuleSqlError("AS takes a name")
        return _Item(expr, name)
    return _Item(expr, _default_name(tokens.items[start : tokens.at]))


def _default_name(tokens: Sequence[tuple[str, str]]) -> str:
    """``b.c`` is named ``c``; a function call after the function."""
    names = [text for kind, text in tokens if kind == "name"]
    return names[-1] if names else "".join(text for _kind, text in tokens)


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def _or(tokens: _Tokens) -> Expr:
    left = _and(tokens)
    while tokens.keyword("or"):
        left = _logic(left, _and(tokens), any)
    return left


def _and(tokens: _Tokens) -> Expr:
    left = _not(tokens)
    while tokens.keyword("and"):
        left = _logic(left, _not(tokens), all)
    return left


def _logic(left: Expr, right: Expr, combine: Callable[[list[bool]], bool]) -> Expr:
    def run(data: _Payload, context: MessageContext) -> Any:
        values = [left(data, context), right(data, context)]
        if not all(isinstance(v, bool) for v in values):
            return UNDEFINED
        return combine(values)

    return run


def _not(tokens: _Tokens) -> Expr:
    if tokens.keyword("not"):
        inner = _not(tokens)

        def run(data: _Payload, context: MessageContext) -> Any:
            value = inner(data, context)
            return (not value) if isinstance(value, bool) else UNDEFINED

        return run
    return _comparison(tokens)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _comparison(tokens: _Tokens) -> Expr:
    left = _sum(tokens)
    kind, symbol = tokens.peek()
    if kind != "op" or symbol not in _COMPARE:
        return left
    tokens.take()
    right = _sum(tokens)
    compare = _COMPARE[symbol]

    def run(data: _Payload, context: MessageContext) -> Any:
        a, b = left(data, context), right(data, context)
        if a is UNDEFINED or b is UNDEFINED or _kind(a) != _kind(b):
            return UNDEFINED
        if symbol not in ("=", "<>", "!=") and _kind(a) not in ("number", "str"):
            return UNDEFINED
        return compare(a, b)

    return run


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else UNDEFINED,
    "%": lambda a, b: a % b if b else UNDEFINED,
}


def _sum(tokens: _Tokens) -> Expr:
    left = _product(tokens)
    while tokens.peek() in (("op", "+"), ("op", "-")):
        left = _arithmetic(left, tokens.take()[1], _product(tokens))
    return left


def _product(tokens: _Tokens) -> Expr:
    left = _primary(tokens)
    while tokens.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
        left = _arithmetic(left, tokens.take()[1], _primary(tokens))
    return left


def _arithmetic(left: Expr, symbol: str, right: Expr) -> Expr:
    apply = _ARITHMETIC[symbol]

    def run(data: _Payload, context: MessageContext) -> Any:
        a, b = left(data, context), right(data, context)
        if _kind(a) != "number" or _kind(b) != "number":
            return UNDEFINED
        return apply(a, b)

    return run


def _primary(tokens: _Tokens) -> Expr:
    kind, text = tokens.take()
    if kind == "num":
        number = float(text) if "." in text else int(text)
        return lambda _d, _c: number
    if kind == "str":
        string = _unquote(text)
        return lambda _d, _c: string
    if (kind, text) == ("op", "("):
        inner = _or(tokens)
        tokens.expect_op(")")
        return inner
    if (kind, text) == ("op", "-"):
        negated = _primary(tokens)
        return _arithmetic(lambda _d, _c: 0, "-", negated)
    if kind != "name":
        raise RuleSqlError(f"unexpected {text!r}")
    lowered = text.lower()
    if lowered in ("true", "false"):
        boolean = lowered == "true"
        return lambda _d, _c: boolean
    if lowered in _KEYWORDS:
        raise RuleSqlError(f"unexpected keyword {text!r}")
    if tokens.op("("):
        return _function(lowered, tokens)
    return _path(text, tokens)


def _path(first: str, tokens: _Tokens) -> Expr:
    keys = [first]
    while tokens.op("."):
        kind, name = tokens.take()
        if kind != "name":
            raise RuleSqlError("a path continues with a name after '.'")
        keys.append(name)

    def run(data: _Payload, _context: MessageContext) -> Any:
        value = data.value
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                return UNDEFINED
            value = value[key]
        return value

    return run


def _topic_level(context: MessageContext, n: Any) -> Any:
    if _kind(n) != "number" or n < 1 or n != int(n):
        return UNDEFINED
    levels = context.topic.split("/")
    return levels[int(n) - 1] if int(n) <= len(levels) else UNDEFINED


def _function(name: str, tokens: _Tokens) -> Expr:
    args: list[Expr | None] = []
    if not tokens.op(")"):
        while True:
            args.append(None if tokens.op("*") else _or(tokens))
            if tokens.op(")"):
                break
            tokens.expect_op(",")
    if name == "topic" and not args:
        return lambda _d, c: c.topic
    if name == "topic" and len(args) == 1 and args[0] is not None:
        level = args[0]
        return lambda d, c: _topic_level(c, level(d, c))
    if name == "encode" and len(args) == 2 and args[0] is None and args[1] is not None:
        encoding = args[1]
        return lambda d, c: (
            base64.b64encode(d.raw).decode() if encoding(d, c) == "base64" else UNDEFINED
        )
    simple: dict[str, Callable[[MessageContext], Any]] = {
        "clientid": lambda c: c.client_id,
        "principal": lambda c: c.principal,
        "timestamp": lambda c: c.timestamp_ms,
    }
    if name in simple and not args:
        getter = simple[name]
        return lambda _d, c: getter(c)
    raise RuleSqlError(f"function {name}() with {len(args)} arguments is not emulated")
