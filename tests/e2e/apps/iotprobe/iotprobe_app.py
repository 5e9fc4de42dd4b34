"""The IoT probe's functions (they import nothing from hubbub): a custom authorizer that lets in
whoever gives the password ``open-sesame`` with a policy limited to its own client id and the
``chat/`` and ``echo/`` topics, and a rule action that publishes what the rule gave it on
``echo/<room>`` through iot-data."""

import base64
import json

PASSWORD = b"open-sesame"
REGION_ACCOUNT = "arn:aws:iot:us-east-1:123456789012"


def _policy() -> str:
    arn = REGION_ACCOUNT
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{arn}:client/${{iot:ClientId}}",
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": [f"{arn}:topic/chat/*", f"{arn}:topic/$aws/rules/Ingest/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Subscribe",
                    "Resource": [f"{arn}:topicfilter/chat/*", f"{arn}:topicfilter/echo/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "Resource": [f"{arn}:topic/chat/*", f"{arn}:topic/echo/*"],
                },
            ],
        }
    )


def authorize(event, context):
    mqtt = event.get("protocolData", {}).get("mqtt", {})
    password = base64.b64decode(mqtt.get("password", ""))
    if password != PASSWORD:
        return {"isAuthenticated": False, "principalId": "nobody", "policyDocuments": []}
    return {
        "isAuthenticated": True,
        "principalId": "probe",
        "policyDocuments": [_policy()],
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 300,
    }


def ingest(event, context):
    import boto3  # here, so the authorizer's cold start (under IoT Core's 5 s) stays short

    boto3.client("iot-data").publish(
        topic=f"echo/{event['room']}", qos=1, payload=json.dumps(event).encode()
    )
    return {"ok": True}
