"""Functions of the queue probe app. Each reports the event it got to SeenQueue (boto3, through
the endpoint the runtime hands it), so the test sees exactly what Lambda delivered.

Imports nothing from hubbub: it is an app as any other, run by ``hubbub serve --template``.
"""

import json
import os
import time

import boto3

_sqs = boto3.client("sqs")


def _report(source, event):
    _sqs.send_message(
        QueueUrl=os.environ["SEEN_QUEUE_URL"],
        MessageBody=json.dumps({"source": source, "event": event}),
    )


def work(event, context):
    """Fails the messages whose body says so, through a partial batch response."""
    _report("sqs", event)
    failed = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if json.loads(record["body"]).get("fail")
    ]
    return {"batchItemFailures": failed}


def stream(event, context):
    """Raises on a batch holding a poison item: bisect isolates it, retries run out."""
    _report("stream", event)
    for record in event["Records"]:
        if "poison" in record["dynamodb"].get("NewImage", {}):
            raise RuntimeError("poison item")


def parallel(event, context):
    """Reports each batch with the time it took: the lanes' batches overlap in time."""
    started = time.time()
    time.sleep(0.2)  # long enough for the other lanes' batches to start meanwhile
    _report("parallel", {"event": event, "started": started, "ended": time.time()})


def windowed(event, context):
    """Counts the window's ``win-`` items in its state; reports the final state of each window."""
    state = dict(event["state"])
    for record in event["Records"]:
        if record["dynamodb"]["Keys"]["id"]["S"].startswith("win-"):
            state["count"] = state.get("count", 0) + 1
    if event["isFinalInvokeForWindow"]:
        _report("window", {key: event[key] for key in ("window", "state", "shardId")})
    return {"state": state}


def notify(event, context):
    _report("sns", event)
