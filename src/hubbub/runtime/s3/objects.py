"""The local S3's objects on disk, so that they outlive the runtime (moto keeps them in memory).

Every object a client writes through the front is also written here before the write is
answered, with the same durability as the SQLite store (written whole to a temporary file,
fsynced, then renamed into place), so a ``kill -9`` loses nothing that was acknowledged. At
start the objects are put back into moto. Keys are free text, so each is stored under the
SHA-256 of its key, with a sidecar naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ObjectFiles", "StoredObject"]


@dataclass(frozen=True, slots=True)
class StoredObject:
    bucket: str
    key: str
    content_type: str
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class ObjectFiles:
    """``{root}/{bucket}/{sha256(key)}.obj`` and its ``.json`` sidecar."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        name = hashlib.sha256(key.encode()).hexdigest()
        folder = self.root / bucket
        return folder / f"{name}.obj", folder / f"{name}.json"

    def save(self, stored: StoredObject) -> None:
        body_path, meta_path = self._paths(stored.bucket, stored.key)
        body_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(body_path, stored.body)
        sidecar = {"key": stored.key, "contentType": stored.content_type, "meta": stored.metadata}
        _write(meta_path, json.dumps(sidecar).encode())
        directory = os.open(body_path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the renames themselves survive a crash
        finally:
            os.close(directory)

    def delete(self, bucket: str, key: str) -> None:
        body_path, meta_path = self._paths(bucket, key)
        meta_path.unlink(missing_ok=True)
        body_path.unlink(missing_ok=True)

    def load(self, bucket: str) -> Iterator[StoredObject]:
        """Every whole object of ``bucket``: one whose sidecar is missing (a crash between the
        two renames) was never acknowledged, and is skipped."""
        folder = self.root / bucket
        if not folder.is_dir():
            return
        for meta_path in sorted(folder.glob("*.json")):
            body_path = meta_path.with_suffix(".obj")
            try:
                sidecar = json.loads(meta_path.read_bytes())
                body = body_path.read_bytes()
            except (OSError, ValueError):
                continue
            yield StoredObject(
                bucket,
                str(sidecar["key"]),
                str(sidecar.get("contentType") or "binary/octet-stream"),
                body,
                {str(k): str(v) for k, v in (sidecar.get("meta") or {}).items()},
            )
