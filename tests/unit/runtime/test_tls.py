"""TLS for the local runtime (``hubbub.runtime.tls`` and ``hubbub.runtime.sites``): a CA made
once and kept, a server certificate for loopback re-issued when it no longer fits, the bundle
functions trust, and one port that answers both plain HTTP and TLS."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from hubbub.runtime import tls
from hubbub.runtime.forwarded import TrustedProxies
from hubbub.runtime.headguard import HeadGuard
from hubbub.runtime.sites import DualSite


def san(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(
        names.get_values_for_type(x509.DNSName)
    )


def test_the_first_start_makes_a_ca_and_a_loopback_certificate(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path / "tls")
    assert san(files.cert) == {"127.0.0.1", "::1", "localhost"}
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in (files.key, tmp_path / "tls" / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert files.function_env() == {
        "AWS_CA_BUNDLE": str(files.bundle),
        "SSL_CERT_FILE": str(files.bundle),
        "REQUESTS_CA_BUNDLE": str(files.bundle),
    }


def test_the_bundle_is_the_ca_then_the_public_roots(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path)
    bundle = files.bundle.read_text()
    assert bundle.startswith(files.ca_cert.read_text())
    assert bundle.count("BEGIN CERTIFICATE") > 10, "public roots follow, so real HTTPS verifies"
    context = ssl.create_default_context(cafile=str(files.bundle))
    assert len(context.get_ca_certs()) > 10


def test_the_ca_is_kept_and_the_certificate_reissued_for_a_new_host(tmp_path: Path) -> None:
    first = tls.ensure_certificates(tmp_path)
    ca_pem, cert_pem = first.ca_cert.read_bytes(), first.cert.read_bytes()
    again = tls.ensure_certificates(tmp_path, ["127.0.0.1"])
    assert (again.ca_cert.read_bytes(), again.cert.read_bytes()) == (ca_pem, cert_pem)
    other = tls.ensure_certificates(tmp_path, ["192.0.2.7", "chat.test", "0.0.0.0"])
    assert other.ca_cert.read_bytes() == ca_pem, "a browser told to trust the CA still does"
    assert other.cert.read_bytes() != cert_pem
    assert {"192.0.2.7", "chat.test"} <= san(other.cert)
    assert "0.0.0.0" not in san(other.cert), "a wildcard bind names no host"


def test_a_broken_certificate_is_replaced(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path)
    files.cert.write_text("garbage")
    tls.ensure_certificates(tmp_path)
    assert san(files.cert) == {"127.0.0.1", "::1", "localhost"}


def test_without_cryptography_tls_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "cryptography" else real(name, *args),
    )
    assert not tls.available()
    with pytest.raises(tls.TlsUnavailable, match="cryptography"):
        tls.ensure_certificates(tmp_path)


# -- one port, both schemes ---------------------------------------------------------------------


@pytest.fixture
async def dual(tmp_path: Path) -> AsyncIterator[tuple[int, tls.TlsFiles]]:
    files = tls.ensure_certificates(tmp_path)

    async def scheme(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.scheme} {request.host}")

    app = web.Application()
    app.router.add_get("/", scheme)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    guard = HeadGuard(timeout_s=10.0, cap=0, trusted=TrustedProxies())
    await DualSite(runner, sock, tls.server_context(files), guard).start()
    try:
        yield port, files
    finally:
        await runner.cleanup()


async def test_one_port_answers_plain_http_and_https(dual: tuple[int, tls.TlsFiles]) -> None:
    port, files = dual
    trusted = ssl.create_default_context(cafile=str(files.ca_cert))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/") as plain:
            assert await plain.text() == f"http 127.0.0.1:{port}"
        async with session.get(f"https://127.0.0.1:{port}/", ssl=trusted) as secure:
            assert await secure.text() == f"https 127.0.0.1:{port}"
        async with session.get(f"https://localhost:{port}/", ssl=trusted) as by_name:
            assert by_name.status == 200


async def test_a_client_that_does_not_trust_the_ca_is_refused(
    dual: tuple[int, tls.TlsFiles],
) -> None:
    port, _ = dual
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"https://127.0.0.1:{port}/", ssl=ssl.create_default_context())
        async with session.get(f"http://127.0.0.1:{port}/") as still_fine:
            assert still_fine.status == 200


async def test_a_silent_or_vanishing_client_holds_nothing(dual: tuple[int, tls.TlsFiles]) -> None:
    port, _ = dual
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as r:
        assert r.status == 200
