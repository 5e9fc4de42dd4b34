"""TLS for the local runtime: a private CA and a server certificate for 127.0.0.1 and localhost.

Handlers commonly build their ``@connections`` endpoint as ``https://{domainName}/{stage}``. For
that to work locally the runtime serves HTTPS and WSS too, with a certificate the functions trust:
the CA is generated once into ``{data_dir}/tls/`` (kept across restarts, so a browser told to
trust it keeps trusting it), the server certificate is re-issued when it nears expiry or does not
cover the hosts asked for, and functions get ``AWS_CA_BUNDLE``, ``SSL_CERT_FILE`` and
``REQUESTS_CA_BUNDLE`` pointing at ``ca-bundle.pem``: the local CA followed by the usual public
roots, so their calls to real HTTPS endpoints keep verifying.

Needs the ``cryptography`` package, which moto and many AWS tools install; it is imported only
when TLS is on.
"""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TlsFiles", "TlsUnavailable", "available", "ensure_certificates", "server_context"]

_CA_DAYS = 3650
_SERVER_DAYS = 397
_RENEW_BEFORE = datetime.timedelta(days=30)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TlsUnavailable(RuntimeError):
    """TLS was asked for but cannot be set up here."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_cert: Path
    """The CA to trust (``curl --cacert``, a browser's authorities, ``AWS_CA_BUNDLE``)."""
    cert: Path
    key: Path
    bundle: Path
    """The CA followed by the public roots: what functions get as their CA bundle."""

    def function_env(self) -> dict[str, str]:
        bundle = str(self.bundle)
        return {"AWS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle}


def available() -> bool:
    return importlib.util.find_spec("cryptography") is not None


def ensure_certificates(directory: Path, hosts: Sequence[str] = ()) -> TlsFiles:
    """The CA and a server certificate covering loopback and ``hosts``, made when missing."""
    if not available():
        raise TlsUnavailable(
            "TLS needs the 'cryptography' package (pip install cryptography), or --no-tls"
        )
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
        bundle=directory / "ca-bundle.pem",
    )
    ca_key_path = directory / "ca-key.pem"
    names = _names([*_LOOPBACK, *hosts])
    ca_cert, ca_key = _load_ca(files.ca_cert, ca_key_path)
    fresh_ca = ca_cert is None or ca_key is None
    if ca_cert is None or ca_key is None:
        ca_cert, ca_key = _make_ca()
        _write(ca_key_path, _key_pem(ca_key), private=True)
        _write(files.ca_cert, _cert_pem(ca_cert))
    if fresh_ca or not _server_cert_ok(files.cert, files.key, ca_cert, names):
        cert, key = _make_server_cert(ca_cert, ca_key, names)
        _write(files.key, _key_pem(key), private=True)
        _write(files.cert, _cert_pem(cert))
    _write(files.bundle, files.ca_cert.read_text() + _public_roots())
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(files.cert), str(files.key))
    context.set_alpn_protocols(["http/1.1"])
    return context


# certificates ---------------------------------------------------------------------------------
def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _names(hosts: Sequence[str]) -> list[str]:
    """Hosts a certificate must cover; wildcard binds (0.0.0.0, ::) name no host."""
    out: list[str] = []
    for host in hosts:
        if host and host not in ("0.0.0.0", "::") and host not in out:  # noqa: S104
            out.append(host)
    return out


def _san(names: Sequence[str]) -> Any:
    from cryptography import x509

    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _make_ca() -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hubbub local runtime"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"hubbub local CA {os.getpid()}"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_server_cert(ca_cert: Any, ca_key: Any, names: Sequence[str]) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _load_ca(cert_path: Path, key_path: Path) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None, None
    if cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return None, None
    return cert, key


def _server_cert_ok(cert_path: Path, key_path: Path, ca_cert: Any, names: Sequence[str]) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key_path.stat()
    except (OSError, ValueError):
        return False
    if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    covered = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    covered |= set(san.get_values_for_type(x509.DNSName))
    return all(str(_canonical(n)) in covered for n in names)


def _canonical(name: str) -> object:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return name


def _key_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data.decode("ascii")


def _cert_pem(cert: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data.decode("ascii")


def _public_roots() -> str:
    """The public roots the functions would trust without us: certifi's, else the system's."""
    candidates: list[str] = []
    if importlib.util.find_spec("certifi") is not None:
        import certifi

        candidates.append(certifi.where())
    paths = ssl.get_default_verify_paths()
    candidates += [p for p in (paths.cafile, paths.openssl_cafile) if p]
    for candidate in candidates:
        try:
            return "\n" + Path(candidate).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return ""


def _write(path: Path, text: str, *, private: bool = False) -> None:
    """Write then rename, so a reader never sees half a file; keys are owner-only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
