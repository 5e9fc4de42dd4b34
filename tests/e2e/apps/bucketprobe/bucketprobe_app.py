"""The bucket probe: each call is one S3 operation done by the function with plain boto3, the
way an app written for AWS does it (the endpoint comes from AWS_ENDPOINT_URL_S3)."""

import json
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

S3 = boto3.client("s3", config=Config(signature_version="s3v4"))
BUCKET = os.environ["BUCKET"]


def _answer(body):
    return {"statusCode": 200, "body": json.dumps(body)}


def handler(event, context):
    op = event["pathParameters"]["op"]
    args = json.loads(event.get("body") or "{}")
    key = args.get("key", "k")
    try:
        if op == "put":
            S3.put_object(
                Bucket=BUCKET, Key=key, Body=args["body"].encode(), ContentType="text/plain"
            )
            return _answer({"ok": True})
        if op == "get":
            got = S3.get_object(Bucket=BUCKET, Key=key)
            return _answer({"body": got["Body"].read().decode(), "type": got["ContentType"]})
        if op == "list":
            listed = S3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
            return _answer({"keys": [o["Key"] for o in listed]})
        if op == "delete":
            S3.delete_object(Bucket=BUCKET, Key=key)
            return _answer({"ok": True})
        if op == "presign":
            url = S3.generate_presigned_url(
                "get_object",
                Params={"Bucket": BUCKET, "Key": key},
                ExpiresIn=args.get("expires", 60),
            )
            post = S3.generate_presigned_post(
                BUCKET,
                key,
                Fields={"Content-Type": "text/plain"},
                Conditions=[{"Content-Type": "text/plain"}, ["content-length-range", 1, 16]],
                ExpiresIn=60,
            )
            return _answer({"get": url, "post": post, "bucket": BUCKET})
    except ClientError as exc:
        return _answer({"error": exc.response["Error"]["Code"]})
    return {"statusCode": 404, "body": "{}"}
