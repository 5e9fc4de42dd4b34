"""A handler module whose import fails, as a missing dependency makes it fail on Lambda."""

import a_dependency_nobody_installed  # noqa: F401


def handler(event, context):
    return {"statusCode": 200, "body": "never"}
