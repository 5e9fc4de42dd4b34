"""Attachments through a real ``hubbub serve`` (issue 19, item 3): ``POST /api/uploads``, the
presigned POST to the runtime's S3 (moto behind its front, on the server's own port), a send
that carries the upload, the pushed ``message`` with a presigned GET, that GET, every refusal,
and the object surviving a ``kill -9``.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from hubbub.client import HubbubClient
from tests.e2e.conftest import Connect
from tests.e2e.test_edit_moderate import pushed, refused, registered
from tests.e2e.test_rest import rest
from tests.support.server import ServerProcess

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def room() -> str:
    return f"room/at{uuid.uuid4().hex[:10]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ask_upload(
    server: ServerProcess,
    token: str | None,
    topic: str,
    *,
    filename: str = "cat.png",
    content_type: str = "image/png",
    size: int = len(PNG),
) -> tuple[int, dict[str, Any]]:
    body = {"topic": topic, "filename": filename, "contentType": content_type, "size": size}
    return await rest(server, "POST", "/api/uploads", body, bearer(token) if token else {})


async def post_form(
    prepared: dict[str, Any], data: bytes, content_type: str | None = None
) -> tuple[int, str]:
    """The browser's part: the presigned fields, then the file, straight to the bucket."""
    form = aiohttp.FormData()
    for name, value in prepared["fields"].items():
        if name == "Content-Type" and content_type is not None:
            value = content_type
        form.add_field(name, value)
    form.add_field("file", data, filename="upload.bin", content_type="application/octet-stream")
    async with (
        aiohttp.ClientSession() as session,
        session.post(prepared["uploadUrl"], data=form) as answer,
    ):
        return answer.status, await answer.text()


async def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, dict(answer.headers), await answer.read()


async def uploaded(server: ServerProcess, token: str, topic: str, **kwargs: Any) -> str:
    data: bytes = kwargs.pop("data", PNG)
    status, prepared = await ask_upload(server, token, topic, size=len(data), **kwargs)
    assert status == 201, prepared
    assert (await post_form(prepared, data))[0] == 204
    return str(prepared["attachment"]["id"])


@pytest.mark.store
async def test_an_image_and_a_pdf_are_uploaded_sent_pushed_and_fetched(
    server: ServerProcess, connect: Connect
) -> None:
    topic = room()
    author, welcome = await registered(connect, "uploader")
    watcher = await connect()
    await watcher.subscribe(topic)
    status, prepared = await ask_upload(server, welcome["token"], topic)
    assert status == 201
    assert prepared["uploadUrl"].startswith(f"{server.base_url}/_aws/s3/")
    assert prepared["attachment"] | {"id": "x"} == {
        "id": "x",
        "filename": "cat.png",
        "contentType": "image/png",
        "size": len(PNG),
    }
    assert await post_form(prepared, PNG) == (204, "")
    pdf = b"%PDF-1.4 hello"
    report = await uploaded(
        server, welcome["token"], topic, filename="q3.pdf", content_type="application/pdf", data=pdf
    )
    picture = prepared["attachment"]["id"]

    ack = await author.request(
        "send", topic=topic, text="", clientMsgId="a1", attachments=[picture, report]
    )
    message = await pushed(watcher, "message", topic)
    assert message["seq"] == ack["seq"] and message["text"] == ""
    shown = message["attachments"]
    assert [(a["id"], a["filename"], a["contentType"]) for a in shown] == [
        (picture, "cat.png", "image/png"),
        (report, "q3.pdf", "application/pdf"),
    ]
    status, headers, body = await fetch(shown[0]["url"])
    assert (status, body, headers["Content-Type"]) == (200, PNG, "image/png")
    assert headers["Content-Disposition"].startswith("inline")
    status, headers, body = await fetch(shown[1]["url"])
    assert (status, body) == (200, pdf)
    assert headers["Content-Disposition"].startswith('attachment; filename="q3.pdf"')

    history = await watcher.request("history", topic=topic)
    again = history["messages"][-1]["attachments"]
    assert [a["id"] for a in again] == [picture, report]
    assert (await fetch(again[1]["url"]))[2] == pdf

    await author.request("delete", topic=topic, id=ack["id"])  # the files go with the text
    assert (await fetch(again[1]["url"]))[0] == 404
    tombstone = (await watcher.request("history", topic=topic))["messages"][-1]
    assert "attachments" not in tombstone and tombstone["deleted"] is True


@pytest.mark.store
async def test_attachments_over_rest(server: ServerProcess, connect: Connect) -> None:
    topic = room()
    _, welcome = await registered(connect, "rest-uploader")
    watcher = await connect()
    await watcher.subscribe(topic)
    picture = await uploaded(server, welcome["token"], topic)
    headers = {**bearer(welcome["token"]), "Idempotency-Key": "att-1"}
    body = {"topic": topic, "text": "see", "attachments": [picture]}
    status, posted = await rest(server, "POST", "/api/messages", body, headers)
    assert status == 201
    message = await pushed(watcher, "message", topic)
    assert (message["seq"], message["attachments"][0]["id"]) == (posted["seq"], picture)
    status, page = await rest(server, "GET", f"/api/history?topic={topic}", None, headers)
    assert status == 200
    assert (await fetch(page["messages"][-1]["attachments"][0]["url"]))[2] == PNG


@pytest.mark.store
async def test_every_refusal(server: ServerProcess, connect: Connect) -> None:
    topic = room()
    author, welcome = await registered(connect, "refused")
    _, other = await registered(connect, "other")
    token = welcome["token"]
    # refused at /api/uploads, before any byte moves
    too_big = await ask_upload(server, token, topic, size=10 * 1024**2 + 1)
    assert (too_big[0], too_big[1]["code"]) == (413, "too_large")
    for kind in ("text/html", "image/svg+xml"):
        wrong = await ask_upload(server, token, topic, filename="x", content_type=kind)
        assert (wrong[0], wrong[1]["code"]) == (400, "bad_request")
    forbidden = await ask_upload(server, token, f"desk/{other['user']['id']}")
    assert (forbidden[0], forbidden[1]["code"]) == (403, "forbidden")
    assert (await ask_upload(server, None, topic))[0] == 403  # a guest may not send
    assert (await ask_upload(server, "not-a-token", topic))[0] == 401
    # refused by the bucket itself: the presigned policy pins the size and the type
    status, prepared = await ask_upload(server, token, topic)
    assert status == 201
    status, text = await post_form(prepared, PNG + b"more")
    assert status == 400 and "EntityTooLarge" in text
    status, text = await post_form(prepared, PNG, content_type="text/html")
    assert status == 403 and "AccessDenied" in text
    forged = {**prepared, "fields": {**prepared["fields"], "key": "attachments/room/mine"}}
    assert (await post_form(forged, PNG))[0] == 403
    # refused at send
    not_sent = prepared["attachment"]["id"]  # its POSTs were all refused: nothing is there
    assert await refused(author, "send", topic=topic, clientMsgId="r1", attachments=[not_sent]) == (
        "bad_request"
    )
    theirs = await uploaded(server, other["token"], topic)
    assert await refused(author, "send", topic=topic, clientMsgId="r2", attachments=[theirs]) == (
        "forbidden"
    )
    six = [await uploaded(server, token, topic) for _ in range(6)]
    assert await refused(author, "send", topic=topic, clientMsgId="r3", attachments=six) == (
        "too_large"
    )
    elsewhere = await uploaded(server, token, room())
    assert await refused(
        author, "send", topic=topic, clientMsgId="r4", attachments=[elsewhere]
    ) == ("forbidden")
    assert await refused(author, "send", topic=topic, clientMsgId="r5", text="") == "bad_request"
    history = await author.request("history", topic=topic)
    assert history["messages"] == []


@pytest.mark.store
async def test_the_bucket_is_private_and_its_links_expire(
    server: ServerProcess, connect: Connect
) -> None:
    topic = room()
    author, welcome = await registered(connect, "private")
    picture = await uploaded(server, welcome["token"], topic)
    ack = await author.request("send", topic=topic, clientMsgId="p1", attachments=[picture])
    page = await author.request("history", topic=topic)
    url = page["messages"][0]["attachments"][0]["url"]
    assert page["messages"][0]["seq"] == ack["seq"]
    anonymous = url.split("?")[0]
    assert (await fetch(anonymous))[0] == 403
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert (await fetch(tampered))[0] == 403
    server.admin("clock", {"offsetMs": 2 * 3600 * 1000})  # past the link's hour
    try:
        status, _, body = await fetch(url)
        assert status == 403 and b"expired" in body
    finally:
        server.admin("clock", {"offsetMs": 0})


@pytest.mark.store
async def test_an_uploaded_object_survives_kill_9(fresh_server: Any) -> None:
    server: ServerProcess = fresh_server()
    topic = room()
    client = await HubbubClient.connect(server.ws_url)
    welcome = await client.register("durable")
    picture = await uploaded(server, welcome["token"], topic)
    await client.close()
    server.kill9()
    server.start()
    client = await HubbubClient.connect(server.ws_url, token=welcome["token"])
    try:
        await client.request("send", topic=topic, clientMsgId="k1", attachments=[picture])
        page = await client.request("history", topic=topic)
        status, _, body = await fetch(page["messages"][0]["attachments"][0]["url"])
        assert (status, body) == (200, PNG)
    finally:
        await client.close()
