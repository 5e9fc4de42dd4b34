"""The ``Files`` port: an object store that hands out presigned URLs, so file bytes go between
the browser and the store directly and never through a Lambda (S3 on AWS; the runtime's local
S3 under ``hubbub serve``)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Files", "FilesUnavailable", "NoFiles", "PresignedUpload"]


class FilesUnavailable(Exception):
    """The object store did not answer; the caller answers ``unavailable`` and the client
    retries."""


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    """A form POST the client makes itself: to ``url``, with ``fields`` then the file."""

    url: str
    fields: dict[str, str]


class Files(Protocol):
    enabled: bool

    @abstractmethod
    def presign_upload(
        self, key: str, content_type: str, size: int, expires_s: int
    ) -> PresignedUpload:
        """A POST whose signed policy admits exactly one object: this ``key``, this
        ``content_type``, exactly ``size`` bytes, until ``expires_s`` from now."""

    @abstractmethod
    def download_url(self, key: str, content_type: str, disposition: str, expires_s: int) -> str:
        """A GET of ``key`` for ``expires_s``, served with this type and disposition whatever
        the object claims. No I/O: signing is local arithmetic."""

    @abstractmethod
    def stored_size(self, key: str) -> int | None:
        """The object's size, or None when nothing was uploaded there (one HeadObject)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (one DeleteObject; nothing there is no error)."""


class NoFiles:
    """A deployment without a bucket: uploads are refused, and there is nothing to link to."""

    enabled = False

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_s: int
    ) -> PresignedUpload:
        raise LookupError("attachments are not configured")

    def download_url(self, key: str, content_type: str, disposition: str, expires_s: int) -> str:
        return ""

    def stored_size(self, key: str) -> int | None:
        return None

    def delete(self, key: str) -> None:
        return None
