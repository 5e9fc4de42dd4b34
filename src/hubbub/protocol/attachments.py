"""What may be attached, and how it is served: pure rules the upload, the send and the views
share (and the clients mirror: ``hello.limits`` carries the numbers).

Images are shown inline; everything else is served as a download, so a browser never renders
an uploaded file as a page. HTML and SVG are not on the list at all (both run script when
rendered inline), and the type a file is served with is the allowlisted one it was uploaded as,
never one the uploader names freely.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import Limits

__all__ = [
    "ALLOWED_TYPES",
    "INLINE_TYPES",
    "MAX_FILENAME_CHARS",
    "clean_filename",
    "content_disposition",
    "served_type",
    "upload_refusal",
]

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ALLOWED_TYPES = INLINE_TYPES | {"application/pdf", "text/plain", "application/zip"}
MAX_FILENAME_CHARS = 200


def clean_filename(name: str) -> str:
    """The name a file is shown and downloaded as: its last path segment, without control
    characters or quotes, at most ``MAX_FILENAME_CHARS``; "" when nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        ch for ch in base if unicodedata.category(ch)[0] != "C" and ch not in '"'
    ).strip()
    return "" if kept in (".", "..") else kept[:MAX_FILENAME_CHARS]


def upload_refusal(
    filename: str, content_type: str, size: int, limits: Limits
) -> ProtocolError | None:
    """Why an upload is refused before any byte moves (None: it may go ahead)."""
    if not clean_filename(filename):
        return ProtocolError(ErrorCode.BAD_REQUEST, "filename: must name a file")
    if content_type not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        return ProtocolError(ErrorCode.BAD_REQUEST, f"contentType: not allowed (use {allowed})")
    if size < 1:
        return ProtocolError(ErrorCode.BAD_REQUEST, "size: an empty file is not an attachment")
    if size > limits.max_attachment_bytes:
        return ProtocolError(
            ErrorCode.TOO_LARGE, f"size: at most {limits.max_attachment_bytes} bytes"
        )
    return None


def served_type(content_type: str) -> str:
    """The ``Content-Type`` a download is served with: text says its charset, so a browser
    never sniffs it for markup."""
    return "text/plain; charset=utf-8" if content_type == "text/plain" else content_type


def content_disposition(filename: str, content_type: str) -> str:
    """``inline`` for images, ``attachment`` (a download) for the rest; the name in plain
    ASCII and in RFC 6266's UTF-8 form."""
    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_") or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
