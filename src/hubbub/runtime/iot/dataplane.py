"""IoT Core's data plane (botocore's ``iot-data``, service id "IoT Data Plane", signing name
``iotdata``) for the functions: ``Publish`` (``POST /topics/{topic}``, the payload as the body,
``qos``, ``retain`` and the MQTT 5 properties in the query string and ``x-amz-mqtt5-*``
headers) and ``DeleteConnection`` (``DELETE /connections/{clientId}`` with ``cleanSession`` and
``preventWillMessage``).

Requests are SigV4-signed with the runtime's credentials, which functions get the standard way
(``AWS_ENDPOINT_URL_IOT_DATA_PLANE``). Errors are rest-json errors boto3 raises by name:
``InvalidRequestException`` (400), ``ForbiddenException`` (403, a bad signature),
``ResourceNotFoundException`` (404, DeleteConnection of a client not connected),
``RequestEntityTooLargeException`` (413, a payload over IoT Core's 128 KB).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from hubbub.runtime.iot.packets import NO_PROPERTIES, Properties, PropertyValue
from hubbub.runtime.iot.quotas import IotQuotas
from hubbub.runtime.iot.reserved import publish_allowed
from hubbub.runtime.iot.topics import topic_problem
from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

__all__ = [
    "SIGNING_NAME",
    "DataPlaneBroker",
    "DataPlaneError",
    "DeleteConnectionRequest",
    "PublishRequest",
    "add_dataplane_routes",
    "parse_delete_connection",
    "parse_publish",
]

log = logging.getLogger("hubbub.runtime.iot")

SIGNING_NAME = "iotdata"
_PAYLOAD_FORMATS = {"UNSPECIFIED_BYTES": 0, "UTF8_DATA": 1}


class DataPlaneError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type

    def response(self) -> web.Response:
        return web.json_response(
            {"message": str(self)},
            status=self.status,
            headers={"x-amzn-ErrorType": self.error_type},
        )


def _invalid(message: str) -> DataPlaneError:
    return DataPlaneError(400, "InvalidRequestException", message)


@dataclass(frozen=True, slots=True)
class PublishRequest:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class DeleteConnectionRequest:
    client_id: str
    clean_session: bool = False
    prevent_will: bool = False


def _boolean(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "false")
    if raw not in ("true", "false"):
        raise _invalid(f"{name} must be true or false")
    return raw == "true"


def _label(raw_path: str, prefix: str) -> str:
    path = raw_path.partition("?")[0]
    if not path.startswith(prefix) or len(path) == len(prefix):
        raise _invalid("missing path label")
    return unquote(path[len(prefix) :])


def _query(raw_path: str) -> dict[str, str]:
    return dict(parse_qsl(raw_path.partition("?")[2], keep_blank_values=True))


def _user_properties(raw: str) -> list[tuple[int, PropertyValue]]:
    """``x-amz-mqtt5-user-properties``: base64 of a JSON list of one-key objects (botocore
    sends the caller's JSON text as a JSON string, so that is unwrapped once)."""
    try:
        decoded = json.loads(base64.b64decode(raw, validate=True))
        if isinstance(decoded, str):
            decoded = json.loads(decoded)
    except (ValueError, binascii.Error):
        raise _invalid("x-amz-mqtt5-user-properties is not base64 JSON") from None
    if not isinstance(decoded, list) or not all(isinstance(i, dict) for i in decoded):
        raise _invalid("user properties must be a list of objects")
    return [(0x26, (str(k), str(v))) for item in decoded for k, v in item.items()]


def _mqtt5_properties(query: Mapping[str, str], headers: Mapping[str, str]) -> Properties:
    items: list[tuple[int, PropertyValue]] = []
    indicator = headers.get("x-amz-mqtt5-payload-format-indicator")
    if indicator is not None:
        if indicator not in _PAYLOAD_FORMATS:
            raise _invalid("payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA")
        items.append((0x01, _PAYLOAD_FORMATS[indicator]))
    if "messageExpiry" in query:
        try:
            items.append((0x02, int(query["messageExpiry"])))
        except ValueError:
            raise _invalid("messageExpiry must be an integer") from None
    if "contentType" in query:
        items.append((0x03, query["contentType"]))
    if "responseTopic" in query:
        items.append((0x08, query["responseTopic"]))
    correlation = headers.get("x-amz-mqtt5-correlation-data")
    if correlation is not None:
        try:
            items.append((0x09, base64.b64decode(correlation, validate=True)))
        except binascii.Error:
            raise _invalid("correlationData must be base64") from None
    if "x-amz-mqtt5-user-properties" in headers:
        items.extend(_user_properties(headers["x-amz-mqtt5-user-properties"]))
    return Properties(tuple(items))


def parse_publish(
    raw_path: str, headers: Mapping[str, str], body: bytes, quotas: IotQuotas
) -> PublishRequest:
    """``raw_path`` as received (percent-encoded: botocore encodes the topic's ``/``)."""
    topic = _label(raw_path, "/topics/")
    query = _query(raw_path)
    lower = {k.lower(): v for k, v in headers.items()}
    problem = topic_problem(topic, quotas.topic_bytes, quotas.topic_slashes)
    if problem is not None:
        raise _invalid(problem)
    if not publish_allowed(topic):  # *Reserved topics*: lifecycle events, $SYS/...
        raise DataPlaneError(403, "ForbiddenException", "the topic is reserved")
    try:
        qos = int(query.get("qos", "0"))
    except ValueError:
        raise _invalid("qos must be 0 or 1") from None
    if qos not in (0, 1):
        raise _invalid("qos must be 0 or 1")
    if len(body) > quotas.payload_bytes:
        raise DataPlaneError(
            413, "RequestEntityTooLargeException", f"payload over {quotas.payload_bytes} bytes"
        )
    return PublishRequest(
        topic, body, qos, _boolean(query, "retain"), _mqtt5_properties(query, lower)
    )


def parse_delete_connection(raw_path: str) -> DeleteConnectionRequest:
    client_id = _label(raw_path, "/connections/")
    query = _query(raw_path)
    return DeleteConnectionRequest(
        client_id, _boolean(query, "cleanSession"), _boolean(query, "preventWillMessage")
    )


class DataPlaneBroker(Protocol):
    """What the data plane needs of the broker (``Broker`` has it)."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = NO_PROPERTIES,
    ) -> None: ...

    def disconnect(
        self, client_id: str, *, clean_session: bool = False, prevent_will: bool = False
    ) -> bool: ...


def add_dataplane_routes(
    app: web.Application, broker: DataPlaneBroker, verifier: SigV4Verifier, quotas: IotQuotas
) -> None:
    """``POST /topics/{topic}`` and ``DELETE /connections/{clientId}`` on ``app``."""

    async def checked(request: web.Request) -> bytes:
        body = await request.read()
        try:
            await verifier.verify_request(request)
        except SignatureRejected as exc:
            log.info("iot-data request refused: %s", exc)
            raise DataPlaneError(403, "ForbiddenException", "Forbidden") from None
        return body

    async def publish(request: web.Request) -> web.StreamResponse:
        try:
            body = await checked(request)
            wanted = parse_publish(request.raw_path, dict(request.headers), body, quotas)
        except DataPlaneError as exc:
            return exc.response()
        broker.publish(
            wanted.topic,
            wanted.payload,
            qos=wanted.qos,
            retain=wanted.retain,
            properties=wanted.properties,
        )
        return web.json_response({})

    async def delete_connection(request: web.Request) -> web.StreamResponse:
        try:
            await checked(request)
            wanted = parse_delete_connection(request.raw_path)
        except DataPlaneError as exc:
            return exc.response()
        found = broker.disconnect(
            wanted.client_id,
            clean_session=wanted.clean_session,
            prevent_will=wanted.prevent_will,
        )
        if not found:
            return DataPlaneError(
                404, "ResourceNotFoundException", f"{wanted.client_id} is not connected"
            ).response()
        return web.json_response({})

    app.router.add_post("/topics/{topic:.+}", publish)
    app.router.add_delete("/connections/{client_id:.+}", delete_connection)
