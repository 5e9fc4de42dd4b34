"""A request on the push adapters' connections reaches the server whole, in one read.

http.client writes a request's head and body in two ``send()`` calls; uncorked with
TCP_NODELAY they are two segments, and a server blocked in ``recv`` wakes for the head alone.
Corked, the kernel holds the head until the body joins it."""

from __future__ import annotations

import socket
import threading

import pytest

from hubbub.push.connections import OneWriteConnection

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's (Lambda's) socket option"
)

REQUESTS = 20
BODY = b'{"frames": ["' + b"x" * 300 + b'"]}'


def _serve(listener: socket.socket, reads: list[bytes], done: threading.Event) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5)
        for _ in range(REQUESTS):
            data = conn.recv(65536)  # whatever has arrived when the server wakes
            reads.append(data)
            while not data.endswith(BODY):  # the rest, if it came apart
                data += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    done.set()


def test_each_request_arrives_in_one_read() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    reads: list[bytes] = []
    done = threading.Event()
    server = threading.Thread(target=_serve, args=(listener, reads, done), daemon=True)
    server.start()
    conn = OneWriteConnection("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        for _ in range(REQUESTS):
            conn.request("POST", "/topics/room%2Fa?qos=1", body=BODY, headers={"X-A": "1"})
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"{}")
    finally:
        conn.close()
        listener.close()
    assert done.wait(5)
    server.join(5)
    split = [r for r in reads if not r.endswith(BODY)]
    assert not split, f"{len(split)} of {REQUESTS} requests arrived in pieces"
    assert all(r.startswith(b"POST /topics/room%2Fa?qos=1 HTTP/1.1\r\n") for r in reads)


def test_the_socket_is_uncorked_after_each_request() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    conn = OneWriteConnection("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        conn.request("POST", "/", body=b"{}")
        assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
        assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
        listener.close()
