"""Static paths of the web client (issue 15, item 8): a name that names no file under static/ is
None (404), never an exception (a null byte made the file system call raise, a 500)."""

from __future__ import annotations

import pytest

from hubbub.web.site import STATIC_DIR, static_file


@pytest.mark.parametrize(
    "name",
    [
        "hubbub.js\x00.html",
        "\x00",
        "client/\x00socket.js",
        "hubbub.js\n",
        "../site.py",
        "client/../../site.py",
        "..\\site.py",
        "/etc/passwd",
        "",
        "client",
        "nope.js",
        "\udcff.js",
        "x" * 5000,
    ],
)
def test_a_name_that_is_no_static_file_is_none(name: str) -> None:
    assert static_file(name) is None


@pytest.mark.parametrize("name", ["hubbub.js", "client/socket.js", "app.css"])
def test_a_static_file_is_found(name: str) -> None:
    assert static_file(name) == STATIC_DIR / name
