"""The ping interval clients are told (issue 18, item 5): derived from the gateway's idle
timeout, so a client pings as seldom as the gateway allows and never lets it reap the socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.chat.keepalive import ping_interval_ms
from hubbub.chat.settings import ChatSettings
from tests.unit.chatworld import world_in


@pytest.mark.parametrize(
    ("idle_timeout_s", "interval_ms"),
    [
        (600.0, 300_000),  # API Gateway's 10 idle minutes: a ping every 5 minutes
        (4.0, 2_000),  # `hubbub serve --quota idle_timeout_s=4`
        (1.5, 750),
        (0.0, 100),  # the floor: never a ping storm
    ],
)
def test_the_interval_is_half_the_idle_timeout(idle_timeout_s: float, interval_ms: int) -> None:
    assert ping_interval_ms(idle_timeout_s) == interval_ms


@pytest.mark.parametrize("idle_timeout_s", [1.0, 4.0, 29.0, 600.0, 7200.0])
def test_the_interval_leaves_a_whole_interval_of_slack(idle_timeout_s: float) -> None:
    interval = ping_interval_ms(idle_timeout_s)
    assert 2 * interval <= idle_timeout_s * 1000


@pytest.mark.parametrize(
    ("env", "idle_timeout_s"),
    [
        ({}, 600.0),  # on AWS: API Gateway's fixed idle timeout
        ({"HUBBUB_RUNTIME_IDLE_TIMEOUT_S": "4"}, 4.0),  # the local runtime's quota
        ({"HUBBUB_RUNTIME_IDLE_TIMEOUT_S": ""}, 600.0),
    ],
)
def test_the_idle_timeout_comes_from_the_runtime(
    env: dict[str, str], idle_timeout_s: float
) -> None:
    assert ChatSettings.from_env(env).idle_timeout_s == idle_timeout_s


def test_hello_carries_the_interval(tmp_path: Path) -> None:
    with world_in(tmp_path, ChatSettings(idle_timeout_s=4.0)) as world:
        world.connect("c1")
        assert world.reply("c1", action="hello")["limits"]["pingIntervalMs"] == 2000
