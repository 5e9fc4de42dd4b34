"""Publish each stored message once on its topic through IoT Core's ``iot-data`` Publish.

The broker fans it out to every MQTT subscriber allowed to receive it, so one request serves a
room of any size. The endpoint is the standard configuration (``AWS_ENDPOINT_URL_IOT_DATA_PLANE``,
else the account's ATS endpoint botocore knows); QoS 1, so a subscriber at QoS 1 gets it
at least once (and drops a repeat by ``seq``).
"""

from __future__ import annotations

from typing import Any

from hubbub.push.port import Broadcast

__all__ = ["IotDataBroadcast"]


class IotDataBroadcast(Broadcast):
    def __init__(
        self,
        *,
        client: Any = None,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 2.0,
    ) -> None:
        self._client = client
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s

    def _api(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "iot-data",
                config=Config(
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )
        return self._client

    def publish(self, topic: str, data: bytes) -> None:
        self._api().publish(topic=topic, qos=1, payload=data)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
