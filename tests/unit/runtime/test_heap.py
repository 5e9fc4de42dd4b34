"""The runtime freezes what it built at start-up, so full collections skip it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hubbub.runtime.heap import freeze_startup_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _walked(obj: object) -> bool:
    """Whether a collection of any generation would look at ``obj``."""
    return any(o is obj for o in gc.get_objects())


def test_a_full_collection_no_longer_walks_what_start_up_built(unfrozen: None) -> None:
    startup = {"routes": [{"n": i} for i in range(1000)]}  # long-lived, like a template
    assert _walked(startup)
    frozen = freeze_startup_objects()
    # frozen objects can still die (a finishing thread of an earlier test lets go of its
    # frames), so the count may only have shrunk since: never grown, since nothing refroze
    assert frozen >= gc.get_freeze_count() >= 1000
    assert not _walked(startup)
    assert not _walked(startup["routes"][-1])
    assert startup["routes"][-1]["n"] == 999  # frozen, not freed
    later = {"after": ["start-up"]}  # holds a container, so the collector tracks it
    assert _walked(later), "what comes after start-up is collected as before"


def test_start_up_garbage_is_collected_before_the_freeze(unfrozen: None) -> None:
    class Cycle:
        other: object = None

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    freeze_startup_objects()
    assert gone() is None, "a cycle left over from start-up is freed, not frozen"
