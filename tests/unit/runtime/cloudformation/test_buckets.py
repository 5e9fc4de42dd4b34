"""Reading buckets (``cloudformation.buckets``).

AWS: *AWS::S3::Bucket*
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html):
``Ref`` returns the bucket name, ``Fn::GetAtt`` gives ``Arn`` (``arn:aws:s3:::{name}``),
``DomainName`` and ``RegionalDomainName``; a bucket without ``BucketName`` gets a generated,
lower-case one (locally a stable one, so its objects are found again at the next start).
"""

from __future__ import annotations

from pathlib import Path

from hubbub.runtime.cloudformation import load_app
from tests.unit.runtime.cloudformation.builders import REGION, fn, write

CORS = {
    "CorsRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "POST"], "MaxAge": 600},
    ]
}


def test_buckets_are_read_with_their_cors_and_refs_give_aws_shapes(tmp_path: Path) -> None:
    app = load_app(
        write(
            tmp_path,
            {
                "Files": {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {
                        "CorsConfiguration": CORS,
                        "LifecycleConfiguration": {"Rules": [{"Id": "r", "Status": "Enabled"}]},
                    },
                },
                "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-files"}},
                "Worker": fn(
                    Environment={
                        "Variables": {
                            "BUCKET": {"Ref": "Files"},
                            "ARN": {"Fn::GetAtt": ["Named", "Arn"]},
                            "HOST": {"Fn::GetAtt": ["Named", "RegionalDomainName"]},
                        }
                    }
                ),
            },
        )
    )
    files = app.buckets["Files"]
    assert files.name == "local-files"
    assert files.cors_rules == tuple(CORS["CorsRules"])
    assert files.lifecycle_rules == ({"Id": "r", "Status": "Enabled"},)
    assert app.buckets["Named"].name == "my-files"
    assert app.functions["Worker"].environment == {
        "BUCKET": "local-files",
        "ARN": "arn:aws:s3:::my-files",
        "HOST": f"my-files.s3.{REGION}.amazonaws.com",
    }
    assert ("Files", "AWS::S3::Bucket") not in app.unsupported
