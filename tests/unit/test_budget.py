"""A page of messages is clipped to the frame budget at its far end, and says so."""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.chat.budget import fit
from hubbub.protocol.events import encode


def _views(n: int, chars: int) -> list[dict[str, Any]]:
    return [{"id": f"m{i}", "seq": i, "text": "x" * chars} for i in range(1, n + 1)]


def _cost(view: dict[str, Any]) -> int:
    return len(encode(view).encode()) + 16


@pytest.mark.parametrize(
    ("count", "fits", "newest", "kept_seqs", "clipped"),
    [
        (3, 3, False, [1, 2, 3], False),  # everything fits: untouched
        (5, 3, False, [1, 2, 3], True),  # read forwards: the start of the page stays
        (5, 3, True, [3, 4, 5], True),  # read backwards: the newest stay, in order
        (4, 0, False, [], True),  # not even one fits: an empty page that says there is more
    ],
)
def test_fit_keeps_the_near_end(
    count: int, fits: int, newest: bool, kept_seqs: list[int], clipped: bool
) -> None:
    views = _views(count, 100)
    budget = sum(_cost(v) for v in views[:fits]) if fits else _cost(views[0]) - 1
    kept, was_clipped = fit(views, budget, newest=newest)
    assert [v["seq"] for v in kept] == kept_seqs
    assert was_clipped is clipped


def test_escapes_count_against_the_budget() -> None:
    """A text of quotes costs twice its length on the wire; the budget is in wire bytes."""
    quoted = [{"id": "m1", "seq": 1, "text": '"' * 1000}]
    _, clipped = fit(quoted, 1500)
    assert clipped
