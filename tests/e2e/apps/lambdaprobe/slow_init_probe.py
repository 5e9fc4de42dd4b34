"""A handler module whose import takes 12 s: past Lambda's 10 s init limit. The sleep is the
behaviour under test (a slow import), not a wait."""

import time

time.sleep(12)


def handler(event, context):
    return {"statusCode": 200, "body": "initialised"}
