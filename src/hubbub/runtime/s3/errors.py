"""S3's error answers as boto3 and browsers read them: an XML ``Error`` document."""

from __future__ import annotations

import secrets
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = ["s3_error"]


def s3_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    request_id = secrets.token_hex(8).upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return web.Response(
        status=status,
        body=body.encode(),
        content_type="application/xml",
        headers={"x-amz-request-id": request_id, **(headers or {})},
    )
