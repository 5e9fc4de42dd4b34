"""What the template-reading tests read: the project's own ``template.yaml`` and small templates
built as data and written to a temporary directory, to reach the cases it does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hubbub.runtime.cloudformation.intrinsics import local_api_id

__all__ = ["ACCOUNT", "REGION", "REPO", "TEMPLATE", "WS_API_ID", "fn", "stream_event", "write"]

REPO = Path(__file__).resolve().parents[4]
TEMPLATE = REPO / "template.yaml"
REGION, ACCOUNT = "us-east-1", "123456789012"
WS_API_ID = local_api_id("WebSocketApi")


def fn(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler", **props}}


def stream_event(table: str = "T", **props: Any) -> dict[str, Any]:
    """A SAM ``DynamoDB`` event on ``table``'s stream (from its latest record unless told)."""
    return {
        "Type": "DynamoDB",
        "Properties": {
            "Stream": {"Fn::GetAtt": [table, "StreamArn"]},
            "StartingPosition": "LATEST",
            **props,
        },
    }


def write(tmp_path: Path, resources: dict[str, Any], **sections: Any) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"CodeUri": "code/", "Runtime": "python3.12"}},
        **sections,
        "Resources": resources,
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path
