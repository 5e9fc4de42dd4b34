"""MQTT.js for the browser tier, from npm: a pinned release, fetched once into a cache
directory with ``npm pack`` (the package's own tarball, no dependency tree: its ``dist/``
bundle is self-contained), checked against the registry's integrity hash, never committed.

The cache is ``$HUBBUB_NPM_CACHE``, else ``~/.cache/hubbub/npm``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

__all__ = ["MQTTJS_VERSION", "mqttjs_bundle"]

MQTTJS_VERSION = "5.16.0"
_INTEGRITY = (
    "sha512-G0VsEtuJz5sJUgZJaaADMVfW7SIFPzkIuHR+d6rk+tBeSwdCfd9BaIRycRfd2AbyFDEmLlFM"
    "+SDQeti/+IbOnw=="
)
_BUNDLE = "package/dist/mqtt.min.js"


def _cache_dir() -> Path:
    configured = os.environ.get("HUBBUB_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "hubbub" / "npm"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _tarball() -> bytes:
    """The package tarball: from the cache, else ``npm pack`` into it (atomically)."""
    cache = _cache_dir()
    path = cache / f"mqtt-{MQTTJS_VERSION}.tgz"
    if path.exists():
        data = path.read_bytes()
        if _integrity(data) == _INTEGRITY:
            return data
        path.unlink()  # a damaged download: fetch it again
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("MQTT.js comes from npm: install npm (Debian's npm package)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        subprocess.run(
            [npm, "pack", f"mqtt@{MQTTJS_VERSION}", "--pack-destination", work, "--silent"],
            check=True,
            capture_output=True,
            timeout=300,
            cwd=work,
        )
        data = (Path(work) / path.name).read_bytes()
        if _integrity(data) != _INTEGRITY:
            raise RuntimeError(f"mqtt@{MQTTJS_VERSION} from npm does not match its integrity")
        (Path(work) / path.name).replace(path)
    return data


def mqttjs_bundle() -> bytes:
    """``dist/mqtt.min.js`` of the pinned MQTT.js: a script that defines ``window.mqtt``."""
    with tarfile.open(fileobj=io.BytesIO(_tarball()), mode="r:gz") as archive:
        member = archive.extractfile(_BUNDLE)
        if member is None:
            raise RuntimeError(f"mqtt@{MQTTJS_VERSION} has no {_BUNDLE}")
        return member.read()
