"""Identifier types shared by every layer.

They are ``NewType``s over ``str`` so that mypy stops a topic from being passed where a
connection id
is expected, at no cost at run time.
"""

from typing import NewType

__all__ = ["ClientMsgId", "ConnectionId", "MessageId", "Topic", "TopicFilter", "UserId"]

ConnectionId = NewType("ConnectionId", str)
UserId = NewType("UserId", str)
Topic = NewType("Topic", str)
TopicFilter = NewType("TopicFilter", str)
MessageId = NewType("MessageId", str)
ClientMsgId = NewType("ClientMsgId", str)
