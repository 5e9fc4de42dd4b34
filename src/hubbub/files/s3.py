"""``Files`` on S3: presigned POSTs and GETs with botocore (SigV4), HeadObject to check an
upload arrived.

The endpoint is the standard ``AWS_ENDPOINT_URL_S3`` (the runtime's local S3 under ``hubbub
serve``; unset on AWS), which boto3 reads by itself, so the URLs this signs name whichever S3 the
function talks to.
"""

from __future__ import annotations

from typing import Any

from hubbub.files.port import FilesUnavailable, PresignedUpload

__all__ = ["S3Files"]


class S3Files:
    enabled = True

    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # SigV4 always (presigned URLs default to the legacy signature for S3), and
            # short timeouts: a HeadObject is on the send path
            self._client = boto3.client(
                "s3",
                config=Config(
                    signature_version="s3v4",
                    connect_timeout=2,
                    read_timeout=5,
                    retries={"mode": "standard", "max_attempts": 3},
                ),
            )
        return self._client

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_s: int
    ) -> PresignedUpload:
        """*Browser-Based Uploads Using POST*: the policy pins the key, the type and the exact
        size (``content-length-range``), so S3 itself refuses any other file."""
        post = self.client.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires_s,
        )
        return PresignedUpload(str(post["url"]), {k: str(v) for k, v in post["fields"].items()})

    def download_url(self, key: str, content_type: str, disposition: str, expires_s: int) -> str:
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=expires_s,
            )
        )

    def stored_size(self, key: str) -> int | None:
        """Without ``s3:ListBucket`` S3 answers a missing key with 403, not 404: both mean
        nothing usable is there."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (403, 404):
                return None
            raise FilesUnavailable(f"s3 head_object: {status}") from exc
        except BotoCoreError as exc:
            raise FilesUnavailable(f"s3 head_object: {exc}") from exc
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise FilesUnavailable(f"s3 delete_object: {exc}") from exc
