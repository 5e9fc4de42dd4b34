"""The local S3's front door: the template's buckets served under ``/_aws/s3`` on the runtime's
own port, in front of moto.

Why a front and not moto's port: moto stores whatever a form POST carries and never checks a
signature or an expiry, keeps objects in memory only, and sits on a port the browser does not
know. Here every request must be signed with the runtime's credentials (``signatures.py``: a
header, a presigned URL or a POST policy; anonymous requests are refused, as a private bucket
refuses them), a form POST must satisfy its policy (``postpolicy.py``), a bucket's CORS rules
answer browsers (``cors.py``), and every object written is also kept on disk
(``objects.py``). What passes is handed to moto, which answers as S3 does (ETags, ranges,
``response-content-disposition``...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from botocore.auth import S3SigV4Auth

from hubbub.runtime.cloudformation.specs import BucketSpec
from hubbub.runtime.s3.cors import cors_headers
from hubbub.runtime.s3.errors import s3_error
from hubbub.runtime.s3.objects import ObjectFiles, StoredObject
from hubbub.runtime.s3.postpolicy import PostPolicy, PostRefusal, check_post, parse_policy
from hubbub.runtime.s3.signatures import verify_post, verify_presigned
from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

__all__ = ["MAX_FORM_FILE_BYTES", "S3_PATH", "S3Front"]

S3_PATH = "/_aws/s3"
MAX_FORM_FILE_BYTES = 64 * 1024**2
"""The front's own bound on a form upload whose policy sets no ``content-length-range`` (S3's
is 5 GB): it holds an object in memory on its way to moto."""
_MAX_FIELD_BYTES = 20 * 1024
_FORWARD = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
_TOO_LARGE = "Your proposed upload exceeds the maximum allowed size"
_HOP = {"transfer-encoding", "connection", "content-length", "server", "date", "keep-alive"}


class S3Front:
    def __init__(
        self,
        buckets: Mapping[str, BucketSpec],
        files: ObjectFiles,
        client: Any,
        secrets: Mapping[str, str],
        now: Callable[[], datetime],
    ) -> None:
        """``buckets`` by name; ``client`` a boto3 S3 client of moto's endpoint."""
        self.buckets = dict(buckets)
        self.files = files
        self.client = client
        self.endpoint: str = client.meta.endpoint_url
        self.secrets = dict(secrets)
        self.now = now
        self.verifier = SigV4Verifier(self.secrets, "s3", signer=S3SigV4Auth)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # routes ----------------------------------------------------------------------------------
    async def bucket_level(self, request: web.Request) -> web.StreamResponse:
        bucket = self.buckets.get(request.match_info["bucket"])
        if bucket is None:
            return s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        if request.method == "OPTIONS":
            return self._preflight(request, bucket)
        answer: web.StreamResponse
        if request.method == "POST" and request.content_type == "multipart/form-data":
            answer = await self._form_upload(request, bucket)
        else:
            answer = await self._signed(request, bucket, key=None)
        return self._with_cors(request, bucket, answer)

    async def object_level(self, request: web.Request) -> web.StreamResponse:
        bucket = self.buckets.get(request.match_info["bucket"])
        if bucket is None:
            return s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        if request.method == "OPTIONS":
            return self._preflight(request, bucket)
        answer = await self._signed(request, bucket, key=request.match_info["key"])
        return self._with_cors(request, bucket, answer)

    # CORS ------------------------------------------------------------------------------------
    def _preflight(self, request: web.Request, bucket: BucketSpec) -> web.Response:
        origin = request.headers.get("Origin")
        method = request.headers.get("Access-Control-Request-Method")
        if origin is None or method is None:
            return s3_error(
                400, "BadRequest", "Insufficient information. Origin request header needed."
            )
        wanted = [
            h.strip()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        headers = cors_headers(bucket.cors_rules, origin, method, wanted, preflight=True)
        if headers is None:
            return s3_error(
                403, "AccessForbidden", "CORSResponse: This CORS request is not allowed."
            )
        return web.Response(status=200, headers=headers)

    @staticmethod
    def _with_cors(
        request: web.Request, bucket: BucketSpec, answer: web.StreamResponse
    ) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None:
            headers = cors_headers(bucket.cors_rules, origin, request.method)
            if headers is not None:
                answer.headers.update(headers)
        return answer

    # signed requests -------------------------------------------------------------------------
    async def _signed(
        self, request: web.Request, bucket: BucketSpec, key: str | None
    ) -> web.StreamResponse:
        body = await _read_body(request)
        if body is None:
            return s3_error(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            )
        try:
            if "X-Amz-Signature" in request.query:
                verify_presigned(
                    request.method, request.host, request.raw_path, self.secrets, self.now()
                )
            elif "Authorization" in request.headers:
                headers = {k: ",".join(request.headers.getall(k)) for k in request.headers}
                self.verifier.verify(request.method, request.raw_path, headers, body)
            else:
                return s3_error(403, "AccessDenied", "Access Denied")
        except SignatureRejected as exc:
            if str(exc) == "Request has expired":
                return s3_error(403, "AccessDenied", "Request has expired")
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        refusal = _unsupported(request, key)
        if refusal is not None:
            return refusal
        answer = await self._proxy(request, body)
        if key is not None and 200 <= answer.status < 300:
            await self._keep(request, bucket.name, key, body)
        return answer

    async def _keep(self, request: web.Request, bucket: str, key: str, body: bytes) -> None:
        if request.method == "PUT":
            stored = StoredObject(
                bucket,
                key,
                request.headers.get("Content-Type", "binary/octet-stream"),
                body,
                _user_metadata(request.headers),
            )
            await asyncio.to_thread(self.files.save, stored)
        elif request.method == "DELETE":
            await asyncio.to_thread(self.files.delete, bucket, key)

    async def _proxy(self, request: web.Request, body: bytes) -> web.Response:
        """Hand the request to moto: same method, path below ``/_aws/s3``, query without the
        presigning parameters, the headers that change the answer, and a signature moto reads
        the service from (it checks none)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        path = request.rel_url.raw_path[len(S3_PATH) :]
        query = [(k, v) for k, v in request.query.items() if not k.startswith("X-Amz-")]
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARD}
        if request.method in ("PUT", "POST"):
            for name, value in request.headers.items():
                lower = name.lower()
                if lower.startswith("x-amz-meta-") or lower in ("content-type", "cache-control"):
                    headers[name] = value
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential=local/{self.now():%Y%m%d}/us-east-1/s3/aws4_request,"
            " SignedHeaders=host, Signature=0"
        )
        async with self._session.request(
            request.method,
            f"{self.endpoint}{path}",
            params=query,
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
            answer = web.Response(status=upstream.status, body=content, headers=kept)
            if request.method == "HEAD" and "Content-Length" in upstream.headers:
                answer.headers["Content-Length"] = upstream.headers["Content-Length"]
            return answer

    # browser uploads ---------------------------------------------------------------------------
    async def _form_upload(self, request: web.Request, bucket: BucketSpec) -> web.Response:
        """POST Object: the form's fields, then its file, checked before it is stored."""
        reader = await request.multipart()
        fields: dict[str, str] = {}
        while True:
            part = await reader.next()
            if part is None:
                return s3_error(
                    400, "InvalidArgument", "POST requires exactly one file upload per request."
                )
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.name.lower() != "file":
                fields[part.name] = (await part.read_chunk(_MAX_FIELD_BYTES)).decode("utf-8")
                continue
            checked = self._authorized_policy(fields)
            if isinstance(checked, web.Response):
                return checked
            return await self._store_form_file(part, fields, checked, bucket)

    def _authorized_policy(self, fields: Mapping[str, str]) -> PostPolicy | web.Response:
        try:
            verify_post(fields, self.secrets)
        except SignatureRejected:
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        policy = parse_policy({k.lower(): v for k, v in fields.items()}.get("policy", ""))
        if isinstance(policy, PostRefusal):
            return s3_error(policy.status, policy.code, policy.message)
        return policy

    async def _store_form_file(
        self,
        part: aiohttp.BodyPartReader,
        fields: dict[str, str],
        policy: PostPolicy,
        bucket: BucketSpec,
    ) -> web.Response:
        limit = _length_limit(policy)
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > limit:
                break  # refused below without reading the rest
            chunks.append(chunk)
        values = {k.lower(): v for k, v in fields.items()}
        key = values.get("key")
        if not key:
            return s3_error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        key = key.replace("${filename}", part.filename or "")
        values["key"] = key
        refusal = check_post(policy, values, bucket.name, size, self.now())
        if refusal is not None:
            return s3_error(refusal.status, refusal.code, refusal.message)
        stored = StoredObject(
            bucket.name,
            key,
            values.get("content-type", "binary/octet-stream"),
            b"".join(chunks),
            {k[len("x-amz-meta-") :]: v for k, v in values.items() if k.startswith("x-amz-meta-")},
        )
        etag = await asyncio.to_thread(self._put, stored)
        return _post_answer(values.get("success_action_status"), bucket.name, key, etag)

    def _put(self, stored: StoredObject) -> str:
        """Blocking: into moto, then onto disk, before the upload is answered."""
        answer = self.client.put_object(
            Bucket=stored.bucket,
            Key=stored.key,
            Body=stored.body,
            ContentType=stored.content_type,
            Metadata=stored.metadata,
        )
        self.files.save(stored)
        return str(answer.get("ETag", ""))


async def _read_body(request: web.Request) -> bytes | None:
    """The whole body, or None past ``MAX_FORM_FILE_BYTES`` (the rest is not read)."""
    if not request.can_read_body:
        return b""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(256 * 1024):
        size += len(chunk)
        if size > MAX_FORM_FILE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _length_limit(policy: PostPolicy) -> int:
    for condition in policy.conditions:
        if isinstance(condition, list) and condition[:1] == ["content-length-range"]:
            try:
                return int(condition[2])
            except (TypeError, ValueError, IndexError):
                break
    return MAX_FORM_FILE_BYTES


def _post_answer(status: str | None, bucket: str, key: str, etag: str) -> web.Response:
    """``success_action_status`` 200 or 201 (an XML ``PostResponse``); anything else 204."""
    headers = {"ETag": etag, "Location": f"/{bucket}/{key}"}
    if status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>{etag}</ETag></PostResponse>"
        )
        return web.Response(
            status=201, body=body.encode(), content_type="application/xml", headers=headers
        )
    return web.Response(status=200 if status == "200" else 204, headers=headers)


def _user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k.lower()[len("x-amz-meta-") :]: v
        for k, v in headers.items()
        if k.lower().startswith("x-amz-meta-")
    }


def _unsupported(request: web.Request, key: str | None) -> web.Response | None:
    """Writes the front could not keep on disk are refused rather than lost at the next start:
    multipart uploads, copies, chunked-signature bodies, and writes of sub-resources."""
    if request.method not in ("PUT", "POST", "DELETE"):
        return None
    if key is None and request.method == "DELETE":
        return None
    chunked = "aws-chunked" in request.headers.get("Content-Encoding", "")
    copy = "x-amz-copy-source" in request.headers
    subresource = any(not k.startswith("X-Amz-") for k in request.query)
    if chunked or copy or subresource or request.method == "POST":
        return s3_error(
            501,
            "NotImplemented",
            "hubbub's local S3 keeps PutObject, POST Object and DeleteObject only",
        )
    return None
