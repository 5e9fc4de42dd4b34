"""What a bind beyond loopback changes (``runtime.exposure``): the warning, the key on
``/metrics``, and the names the certificate covers."""

from __future__ import annotations

import pytest

from hubbub.runtime.exposure import (
    certificate_hosts,
    exposure_warning,
    is_loopback,
    machine_addresses,
    metrics_key_accepted,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),  # all of 127.0.0.0/8 is loopback
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("chat.localhost", True),
        ("0.0.0.0", False),  # every interface
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("10.0.0.5", False),
        ("fe80::1%eth0", False),
        ("chat.example.com", False),  # a name may resolve anywhere
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "fragment"),
    [("0.0.0.0", "every interface"), ("::", "every interface"), ("192.0.2.7", "non-loopback")],
)
def test_a_bind_beyond_loopback_is_one_warning_line_naming_what_is_exposed(
    host: str, fragment: str
) -> None:
    warning = exposure_warning(host, 8000)
    assert warning is not None and "\n" not in warning
    assert f"{host}:8000" in warning and fragment in warning
    for exposed in ("web client", "WebSocket", "@connections", "/metrics"):
        assert exposed in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_binds_say_nothing(host: str) -> None:
    assert exposure_warning(host, 8000) is None


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({}, False),
        ({"X-Key": "k"}, True),
        ({"X-Key": "K"}, False),
        ({"X-Key": ""}, False),
        ({"Authorization": "Bearer k"}, True),
        ({"Authorization": "Bearer"}, False),
        ({"Authorization": "Basic k"}, False),
        ({"Authorization": "k"}, False),
        ({"X-Key": "wrong", "Authorization": "Bearer k"}, False),  # the named header decides
    ],
)
def test_metrics_key_accepted(headers: dict[str, str], accepted: bool) -> None:
    assert metrics_key_accepted(headers, "k", "X-Key") is accepted


@pytest.mark.parametrize(
    ("bind", "hostnames", "machine", "expected"),
    [
        ("127.0.0.1", [], ["192.0.2.7"], ["127.0.0.1"]),
        ("192.0.2.7", [], ["198.51.100.1"], ["192.0.2.7"]),  # a specific bind: that address
        ("192.0.2.7", ["chat.example.com"], [], ["192.0.2.7", "chat.example.com"]),
        ("0.0.0.0", [], ["box", "192.0.2.7"], ["box", "192.0.2.7"]),  # wildcard: the machine's
        (
            "::",
            ["chat.example.com"],
            ["box", "2001:db8::7"],
            ["box", "2001:db8::7", "chat.example.com"],
        ),
        ("0.0.0.0", [], [], []),  # nothing known: loopback only (added by tls.py)
        ("[2001:db8::7]", ["2001:db8::7"], [], ["2001:db8::7"]),  # no duplicates
    ],
)
def test_certificate_hosts(
    bind: str, hostnames: list[str], machine: list[str], expected: list[str]
) -> None:
    assert certificate_hosts(bind, hostnames, machine) == expected


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_machine_addresses_name_no_loopback(bind: str) -> None:
    names = machine_addresses(bind)
    assert not any(is_loopback(name) for name in names)
