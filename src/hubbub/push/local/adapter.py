"""Push through the local runtime: one HTTP request carries a whole fan-out.

The runtime's ``POST /_runtime/@connections`` extension takes ``{"data", "connectionIds"}`` (one
frame) or ``{"frames", "sends"}`` (a stream batch: each send lists the frames, by index, that its
connections get in that order) and answers ``{"gone": [...], "failed": [...]}``; the
per-connection ``@connections/{id}`` API stays available and is what boto3 uses. One request per
fan-out instead of one per recipient is what keeps the local path fast.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from hubbub.ids import ConnectionId
from hubbub.push.connections import OneWriteConnection
from hubbub.push.port import FramesOutcome, Push, PushOutcome

__all__ = ["RuntimePush"]


class RuntimePush(Push):
    def __init__(self, endpoint: str, key: str, *, timeout_s: float = 5.0) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"runtime endpoint must be http://host:port/path, got {endpoint!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path.rstrip("/") + "/@connections"
        self._timeout = timeout_s
        self._headers = {"Content-Type": "application/json", "X-Hubbub-Runtime-Key": key}
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = OneWriteConnection(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        if not connection_ids:
            return PushOutcome()
        return self._request(
            {"data": data.decode("utf-8"), "connectionIds": list(connection_ids)}, connection_ids
        )

    def post_frames(
        self, frames: Sequence[bytes], deliveries: Mapping[ConnectionId, Sequence[int]]
    ) -> FramesOutcome:
        """One request for the whole batch. Connections wanting the same frames (a topic's
        subscribers) share one send, so the body names each frame once and each id once. The
        runtime writes a connection all of its frames or none of them."""
        if not deliveries:
            return FramesOutcome()
        sends: dict[tuple[int, ...], list[ConnectionId]] = {}
        for cid, wanted in deliveries.items():
            sends.setdefault(tuple(wanted), []).append(cid)
        body = {
            "frames": [f.decode("utf-8") for f in frames],
            "sends": [{"frames": list(k), "connectionIds": ids} for k, ids in sends.items()],
        }
        outcome = self._request(body, list(deliveries))
        return FramesOutcome(gone=outcome.gone, stopped=dict.fromkeys(outcome.failed, 0))

    def _request(
        self, document: dict[str, Any], connection_ids: Sequence[ConnectionId]
    ) -> PushOutcome:
        body = json.dumps(document).encode()
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    return PushOutcome(failed=set(connection_ids))
                continue
            if response.status != 200:
                return PushOutcome(failed=set(connection_ids))
            answer = json.loads(payload)
            return PushOutcome(
                gone={ConnectionId(c) for c in answer.get("gone", [])},
                failed={ConnectionId(c) for c in answer.get("failed", [])},
            )
        return PushOutcome(failed=set(connection_ids))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
