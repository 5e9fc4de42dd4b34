"""Replies that carry pages of messages (history, a resume's backlog) must fit one frame.

API Gateway refuses a frame over 128 KB, and a refused reply is a silent loss for the client, so
a page is clipped at the far end and the reply says ``hasMore`` instead.
"""

from __future__ import annotations

from typing import Any

from hubbub.protocol.events import encode

__all__ = ["fit"]


def fit(
    views: list[dict[str, Any]], budget: int, *, newest: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """The views that fit ``budget`` bytes on the wire, and whether any were dropped. ``newest``
    keeps the end of the page (a page read backwards), otherwise its start."""
    # the bytes each view costs on the wire, escapes included (quotes and controls grow)
    sizes = [len(encode(v).encode()) + 16 for v in views]
    if sum(sizes) <= budget:
        return views, False
    order = range(len(views) - 1, -1, -1) if newest else range(len(views))
    kept: list[int] = []
    total = 0
    for index in order:
        total += sizes[index]
        if total > budget:
            break
        kept.append(index)
    kept.sort()
    return [views[i] for i in kept], True
