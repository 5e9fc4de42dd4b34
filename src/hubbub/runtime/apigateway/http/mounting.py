"""Where an HTTP API's or a REST API's routes go on the runtime's one server.

On AWS each API has a host of its own; here they share a port with the WebSocket stages, the
runtime's endpoints and the web pages, so an API that would hide one of those moves under
``/_http/{logicalId}`` (a REST API under ``/_rest/{logicalId}``), and the log says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hubbub.runtime.apigateway.http.routing import is_variable
from hubbub.runtime.cloudformation import HttpApiSpec, RestApiSpec

__all__ = ["HTTP_PREFIX", "REST_PREFIX", "MountPlan", "mount_plan"]

HTTP_PREFIX = "/_http"
"""Where an API that would catch every path is mounted, so it never hides the server's own."""
REST_PREFIX = "/_rest"
"""The same for a REST API whose stage is a path the server already answers."""


@dataclass(frozen=True, slots=True)
class MountPlan:
    prefix: str
    """``""`` when the routes are served at their own paths, else ``/_http/{logicalId}``."""
    stage_path: str
    """``""`` for the ``$default`` stage, else ``/{stage}``, as on AWS."""
    patterns: tuple[str, ...]
    """aiohttp resource paths that lead to this API."""
    reason: str | None = None
    """Why the API was moved under the prefix, for the log."""

    @property
    def base(self) -> str:
        return self.prefix + self.stage_path


def _mount_conflict(api: HttpApiSpec | RestApiSpec, taken: frozenset[str]) -> str | None:
    """Why serving the API at its own paths would hide one of the server's, if it would."""
    if api.stage != "$default":
        return (
            f"its stage /{api.stage} is a path of the server's own" if api.stage in taken else None
        )
    for route in api.routes.values():
        if route.path is None:
            return "it has a $default route"
        first = route.path.split("/")[1]
        if is_variable(first):
            return f"route {route.key!r} would catch every top-level path"
        if first in taken:
            return f"route {route.key!r} would hide the server's own /{first}"
    return None


def _aiohttp_path(path: str) -> str:
    """An API Gateway path as an aiohttp resource path; the table re-matches every request, so
    variable names only need to be unique."""
    out = []
    for index, segment in enumerate(path.split("/")[1:]):
        if is_variable(segment):
            greedy = segment.endswith("+}")
            out.append(f"{{_p{index}:.+}}" if greedy else f"{{_p{index}}}")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _catch_all(base: str) -> tuple[str, ...]:
    return (base, f"{base}/{{_tail:.*}}")


def mount_plan(
    api: HttpApiSpec | RestApiSpec, reserved: Iterable[str], *, prefix_root: str = HTTP_PREFIX
) -> MountPlan:
    """Where an API's routes go on the shared server: at their own paths unless that would hide
    the WebSocket stage, the runtime's endpoints, the web pages or another API's stage."""
    stage_path = "" if api.stage == "$default" else f"/{api.stage}"
    reason = _mount_conflict(api, frozenset(reserved))
    if reason is not None:
        prefix = f"{prefix_root}/{api.logical_id}"
        return MountPlan(prefix, stage_path, _catch_all(prefix + stage_path), reason)
    if isinstance(api, RestApiSpec):  # the stage is the API's own: unknown paths answer 403
        return MountPlan("", stage_path, _catch_all(stage_path))
    if any(route.is_default for route in api.routes.values()):  # below a stage of its own
        return MountPlan("", stage_path, _catch_all(stage_path))
    patterns = dict.fromkeys(
        stage_path + _aiohttp_path(r.path) for r in api.routes.values() if r.path is not None
    )
    return MountPlan("", stage_path, tuple(patterns))
