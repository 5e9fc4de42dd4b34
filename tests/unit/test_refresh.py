"""``refresh`` renews a token on an open connection (issue 15, item 10), and operators' tokens are
short-lived: 12 hours unless configured, not a year."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import OPERATOR_TOKEN_TTL_S, TokenIssuer
from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import SECRET


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def test_a_visitor_refreshes_its_token_on_an_open_connection(world: World) -> None:
    user = world.visitor("v")
    world.clock.advance(60_000)
    reply = world.reply("v", action="refresh", ref="r1")
    assert set(reply) == {"type", "token", "expiresAt", "ref"}
    assert (reply["type"], reply["ref"]) == ("token", "r1")
    renewed = world.chat.authenticate(reply["token"])
    assert renewed is not None and renewed.id == user["id"]
    assert reply["expiresAt"] == (world.clock.now_ms() // 1000 + 3600) * 1000


def test_an_operator_token_lasts_12_hours_and_is_refreshed_for_12_more(world: World) -> None:
    _, token = world.chat.desk.add_operator("Olga", world.clock.now_ms())
    user = world.chat.authenticate(token)
    assert user is not None
    world.connect("o", user)
    world.clock.advance(11 * 3600 * 1000)
    reply = world.reply("o", action="refresh")
    assert reply["expiresAt"] == (world.clock.now_ms() // 1000 + OPERATOR_TOKEN_TTL_S) * 1000
    world.clock.advance(2 * 3600 * 1000)  # 13 h after the first token was issued
    with pytest.raises(ProtocolError) as expired:
        world.chat.authenticate(token)
    assert expired.value.code is ErrorCode.UNAUTHORIZED
    assert world.chat.authenticate(reply["token"]) == user


def test_a_removed_operator_gets_no_fresh_token(world: World) -> None:
    _, token = world.chat.desk.add_operator("Olga", world.clock.now_ms())
    user = world.chat.authenticate(token)
    assert user is not None
    world.connect("o", user)
    world.chat.desk.remove_operator("Olga")
    assert world.refusal("o", action="refresh").code is ErrorCode.UNAUTHORIZED


def test_a_guest_has_no_token_to_refresh(world: World) -> None:
    world.connect("g")
    assert world.refusal("g", action="refresh").code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("role", "lifetime_s"),
    [(Role.OPERATOR, 7200), (Role.VISITOR, 3600)],
)
def test_the_lifetime_follows_the_role(role: Role, lifetime_s: int) -> None:
    issuer = TokenIssuer(SECRET, 3600, operator_ttl_s=7200)
    assert issuer.lifetime_s(User(UserId("u_1"), role, "x")) == lifetime_s


def test_the_operator_lifetime_is_configurable() -> None:
    assert ChatSettings().operator_token_ttl_s == 12 * 3600
    env = {"OPERATOR_TOKEN_TTL_SECONDS": "600"}
    assert ChatSettings.from_env(env).operator_token_ttl_s == 600
