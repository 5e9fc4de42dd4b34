"""The local S3's front (``s3.front``) in front of a moto of its own: the answers the end-to-end
tests do not reach (an unknown bucket, malformed preflights and forms, the 201 answer of a form,
a presigned PUT kept on disk, writes it refuses rather than lose, an expiry judged on the
runtime's clock).

AWS: *POST Object* (form fields, ``success_action_status``) and *Authenticating Requests: Using
Query Parameters* (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.runtime.cloudformation.specs import BucketSpec
from hubbub.runtime.s3.front import S3_PATH, S3Front
from hubbub.runtime.s3.objects import ObjectFiles
from tests.support.moto import threaded_moto

KEY_ID, SECRET = "AKIALOCALFRONT", "front-secret"
BUCKET = BucketSpec(
    "Files", "files", cors_rules=({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},)
)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with threaded_moto() as url:
        yield url


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def front(
    moto_endpoint: str, tmp_path: Path, clock: Clock
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Any, ObjectFiles]]:
    moto = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    moto.create_bucket(Bucket="files")
    files = ObjectFiles(tmp_path / "s3")
    s3 = S3Front({"files": BUCKET}, files, moto, {KEY_ID: SECRET}, clock.now)
    app = web.Application()
    app.router.add_route("*", S3_PATH + "/{bucket}", s3.bucket_level)
    app.router.add_route("*", S3_PATH + "/{bucket}/{key:.+}", s3.object_level)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        signer = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=str(client.make_url(S3_PATH)),
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
        )
        yield client, signer, files
    await s3.close()
    for listed in moto.list_objects_v2(Bucket="files").get("Contents", []):
        moto.delete_object(Bucket="files", Key=listed["Key"])
    moto.delete_bucket(Bucket="files")


Front = tuple[TestClient[web.Request, web.Application], Any, ObjectFiles]


async def test_an_unknown_bucket_and_malformed_preflights(front: Front) -> None:
    client, _, _ = front
    assert (await client.get(f"{S3_PATH}/nobody/k")).status == 404
    assert (await client.options(f"{S3_PATH}/files/k")).status == 400  # no Origin
    allowed = await client.options(
        f"{S3_PATH}/files/k",
        headers={"Origin": "https://a.test", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.status == 200 and allowed.headers["Access-Control-Allow-Origin"] == "*"


def _form(fields: dict[str, str], file: bytes | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)  # a browser's form upload, file or not
    for name, value in fields.items():
        form.add_field(name, value)
    if file is not None:
        form.add_field("file", file, filename="f.txt")
    return form


async def test_forms_need_a_key_and_a_file_and_may_ask_for_201(front: Front) -> None:
    client, signer, files = front
    post = signer.generate_presigned_post(
        "files",
        "up/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[["starts-with", "$key", "up/"], {"success_action_status": "201"}],
    )
    path = f"{S3_PATH}/files"
    no_file = await client.post(path, data=_form(post["fields"]))
    assert no_file.status == 400 and "InvalidArgument" in await no_file.text()
    no_key = {k: v for k, v in post["fields"].items() if k != "key"}
    refused = await client.post(path, data=_form(no_key, b"x"))
    assert refused.status == 400, await refused.text()
    stored = await client.post(path, data=_form(post["fields"], b"hello"))
    assert stored.status == 201
    assert "<Key>up/f.txt</Key>" in await stored.text()  # ${filename} is the file's name
    assert [o.key for o in files.load("files")] == ["up/f.txt"]


async def test_a_presigned_put_is_kept_on_disk_and_expires_on_the_runtimes_clock(
    front: Front, clock: Clock
) -> None:
    _, signer, files = front
    url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": "files", "Key": "p/k.txt"}, ExpiresIn=60
    )
    async with aiohttp.ClientSession() as session:
        async with session.put(url, data=b"put body") as answer:
            assert answer.status == 200
        (kept,) = files.load("files")
        assert (kept.key, kept.body) == ("p/k.txt", b"put body")
        clock.offset = timedelta(minutes=2)
        async with session.put(url, data=b"again") as late:
            assert late.status == 403 and "Request has expired" in await late.text()


async def test_writes_it_could_not_keep_are_refused(front: Front) -> None:
    """(boto3 blocks: it runs in a thread while the test's loop serves the front.)"""
    client, signer, _ = front
    await asyncio.to_thread(signer.put_object, Bucket="files", Key="src", Body=b"x")
    source = {"Bucket": "files", "Key": "src"}
    with pytest.raises(ClientError, match="NotImplemented"):
        await asyncio.to_thread(signer.copy_object, Bucket="files", Key="dst", CopySource=source)
    tags = {"TagSet": [{"Key": "a", "Value": "b"}]}
    with pytest.raises(ClientError, match="NotImplemented"):
        await asyncio.to_thread(signer.put_object_tagging, Bucket="files", Key="src", Tagging=tags)
    assert (await client.get(f"{S3_PATH}/files/src")).status == 403  # anonymous
