"""The S3 adapter of ``Files`` (``files/s3.py``): the POST policy it presigns admits exactly the
file described, the GET it presigns forces the type and disposition, and S3's answers to a
HeadObject and a DeleteObject become the port's.

Presigning is local arithmetic, so a real boto3 client with made-up credentials does it here;
the calls that go to S3 are answered by botocore's ``Stubber``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from hubbub.files.port import FilesUnavailable
from hubbub.files.s3 import S3Files


@pytest.fixture
def client() -> Iterator[Any]:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIATEST",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4"),
    )
    yield s3
    s3.close()


def test_the_upload_policy_pins_key_type_and_exact_size(client: Any) -> None:
    post = S3Files("files", client=client).presign_upload(
        "attachments/room/at_1", "image/png", 2048, 300
    )
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 2048, 2048] in conditions
    assert {"key": "attachments/room/at_1"} in conditions
    assert {"bucket": "files"} in conditions
    assert post.fields["key"] == "attachments/room/at_1"
    assert post.fields["Content-Type"] == "image/png"
    assert post.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_the_download_forces_type_and_disposition(client: Any) -> None:
    url = S3Files("files", client=client).download_url(
        "attachments/room/at_2", "text/plain; charset=utf-8", 'attachment; filename="a.txt"', 3600
    )
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-type"] == ["text/plain; charset=utf-8"]
    assert query["response-content-disposition"] == ['attachment; filename="a.txt"']
    assert query["X-Amz-Expires"] == ["3600"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [(404, None), (403, None), (500, FilesUnavailable), (503, FilesUnavailable)],
)
def test_head_object_answers(client: Any, status: int, expected: Any) -> None:
    files = S3Files("files", client=client)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", http_status_code=status)
        if expected is None:
            assert files.stored_size("k") is None
        else:
            with pytest.raises(expected):
                files.stored_size("k")


def test_a_stored_object_reports_its_size_and_is_deleted(client: Any) -> None:
    files = S3Files("files", client=client)
    with Stubber(client) as stub:
        stub.add_response("head_object", {"ContentLength": 77}, {"Bucket": "files", "Key": "k"})
        stub.add_response("delete_object", {}, {"Bucket": "files", "Key": "k"})
        assert files.stored_size("k") == 77
        files.delete("k")
        stub.assert_no_pending_responses()
