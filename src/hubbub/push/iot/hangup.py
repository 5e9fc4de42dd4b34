"""Close MQTT clients' connections through IoT Core's data-plane ``DeleteConnection``, as a ban
or a kick does to the user's MQTT members (``chat/moderation.py``).

The request is the one boto3's ``iot-data`` ``delete_connection`` sends, ``DELETE
/connections/{clientId}``, made by ``IotDataClient`` (the Publish's signer, endpoint and
kept-alive connection) rather than by a boto3 client. ``cleanSession=true`` drops the
session's subscriptions, so a client that comes back subscribes again (and the authorizer's
policy decides what it may follow); ``preventWillMessage=true``, because the server closed the
connection, not a failure of the client's (AWS IoT Core API reference, *DeleteConnection*). A
404 (``ResourceNotFoundException``) means the client is not connected: closed already.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Sequence
from urllib.parse import quote

from hubbub.push.iot.adapter import IotDataClient, refusal
from hubbub.push.port import MqttHangup

__all__ = ["IotDataHangup", "delete_connection_path"]

log = logging.getLogger(__name__)


def delete_connection_path(client_id: str) -> str:
    """Client ids may hold any character (``/`` included): one escaped path segment."""
    return f"/connections/{quote(client_id, safe='')}?cleanSession=true&preventWillMessage=true"


class IotDataHangup(IotDataClient, MqttHangup):
    def disconnect_clients(self, client_ids: Sequence[str]) -> set[str]:
        missed: set[str] = set()
        for client_id in client_ids:
            try:
                status, error_type, body = self.request("DELETE", delete_connection_path(client_id))
            except (OSError, http.client.HTTPException) as exc:
                log.warning("iot-data DeleteConnection not reached: %s", exc)
                missed.add(client_id)
                continue
            if status >= 300 and status != 404:
                log.warning(
                    "iot-data DeleteConnection refused: %s", refusal(status, error_type, body)
                )
                missed.add(client_id)
        return missed
