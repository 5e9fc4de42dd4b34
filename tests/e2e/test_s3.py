"""The runtime's S3 for any template's ``AWS::S3::Bucket``, through a real ``hubbub serve`` of
the bucket probe app (``apps/bucketprobe``): a function using plain boto3, and the host using
presigned URLs and forms and the runtime's credentials, as a browser and a tool would.

AWS pages each behaviour is checked against: *Authenticating Requests: Using Query Parameters*
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html, expiry),
*POST Policy* (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html),
*Using cross-origin resource sharing (CORS)*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import ServerProcess

PROBE = Path(__file__).parent / "apps" / "bucketprobe" / "template.yaml"


def call(server: ServerProcess, op: str, **args: Any) -> dict[str, Any]:
    """One S3 operation made by the probe's function."""
    base = next(iter(server.admin("info")["httpApis"].values()))
    request = urllib.request.Request(
        f"{base}/objects/{op}",
        data=json.dumps(args).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def host_client(server: ServerProcess, secret: str | None = None) -> Any:
    """boto3 on the host with the runtime's credentials (or a wrong secret)."""
    saved = json.loads((server.data_dir / "runtime-credentials.json").read_text())
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=server.admin("info")["s3Endpoint"],
        aws_access_key_id=saved["aws_access_key_id"],
        aws_secret_access_key=secret or saved["aws_secret_access_key"],
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        error.close()
        return error.code, dict(error.headers), body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("bucketprobe") / "data", template=PROBE)
    proc.start()
    yield proc
    proc.stop()


def test_a_function_writes_reads_lists_and_deletes_with_plain_boto3(server: ServerProcess) -> None:
    info = server.admin("info")
    assert info["s3Endpoint"] == f"{server.base_url}/_aws/s3"
    assert info["buckets"] == {"Files": "local-files"}
    assert any(line.startswith("hubbub: s3") for line in server.announced)
    assert call(server, "put", key="notes/a.txt", body="hello") == {"ok": True}
    assert call(server, "get", key="notes/a.txt") == {"body": "hello", "type": "text/plain"}
    assert call(server, "list") == {"keys": ["notes/a.txt"]}
    assert call(server, "get", key="notes/missing") == {"error": "NoSuchKey"}
    assert call(server, "delete", key="notes/a.txt") == {"ok": True}
    assert call(server, "list") == {"keys": []}


def test_presigned_urls_work_until_they_expire_and_nothing_else_gets_in(
    server: ServerProcess,
) -> None:
    call(server, "put", key="p/b.txt", body="presigned")
    url = call(server, "presign", key="p/b.txt", expires=60)["get"]
    assert url.startswith(f"{server.base_url}/_aws/s3/local-files/p/b.txt?")
    assert fetch(url)[2] == b"presigned"
    assert fetch(url.split("?")[0])[0] == 403  # anonymous: a private bucket
    assert fetch(url.replace("X-Amz-Signature=", "X-Amz-Signature=f"))[0] == 403
    assert fetch(url, method="HEAD")[0] == 403  # signed for GET only
    server.admin("clock", {"offsetMs": 120_000})
    try:
        status, _, body = fetch(url)
        assert status == 403 and b"Request has expired" in body
    finally:
        server.admin("clock", {"offsetMs": 0})


async def test_a_presigned_post_is_held_to_its_policy(server: ServerProcess) -> None:
    post = call(server, "presign", key="up/c.txt")["post"]

    async def upload(data: bytes, kind: str = "text/plain") -> tuple[int, str]:
        form = aiohttp.FormData()
        for name, value in post["fields"].items():
            form.add_field(name, kind if name == "Content-Type" else value)
        form.add_field("file", data, filename="c.txt")
        async with aiohttp.ClientSession() as session, session.post(post["url"], data=form) as r:
            return r.status, await r.text()

    assert (await upload(b"x" * 17))[0] == 400  # over content-length-range
    assert (await upload(b"<b>hi</b>", "text/html"))[0] == 403
    assert await upload(b"uploaded") == (204, "")
    assert call(server, "get", key="up/c.txt") == {"body": "uploaded", "type": "text/plain"}


def test_cors_answers_the_bucket_rules(server: ServerProcess) -> None:
    bucket_url = f"{server.base_url}/_aws/s3/local-files"
    ok = fetch(
        bucket_url,
        "OPTIONS",
        Origin="https://app.example.com",
        **{"Access-Control-Request-Method": "POST"},
    )
    assert ok[0] == 200 and ok[1]["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert ok[1]["Access-Control-Max-Age"] == "300"
    refused = fetch(
        bucket_url,
        "OPTIONS",
        Origin="https://evil.test",
        **{"Access-Control-Request-Method": "POST"},
    )
    assert refused[0] == 403


def test_the_hosts_boto3_needs_the_runtimes_secret(server: ServerProcess) -> None:
    call(server, "put", key="h/d.txt", body="for the host")
    good = host_client(server)
    assert good.get_object(Bucket="local-files", Key="h/d.txt")["Body"].read() == b"for the host"
    with pytest.raises(ClientError) as refused:
        host_client(server, secret="guessed").get_object(Bucket="local-files", Key="h/d.txt")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as multipart:
        good.create_multipart_upload(Bucket="local-files", Key="h/big")
    assert multipart.value.response["Error"]["Code"] == "NotImplemented"  # not kept: refused


def test_objects_survive_a_kill_9(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", template=PROBE).start()
    try:
        call(server, "put", key="keep/e.txt", body="durable")
        server.kill9()
        server.start()
        assert call(server, "get", key="keep/e.txt") == {"body": "durable", "type": "text/plain"}
        assert call(server, "list") == {"keys": ["keep/e.txt"]}
    finally:
        server.stop()
