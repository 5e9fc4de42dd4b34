"""What ``hubbub serve`` sets differently from a deployment, and why.

Locally one process holds every connection and the runtime's batch endpoint writes a frame to a
thousand sockets in one request, so handing a large room to the push function through a queue
buys nothing there and costs a hop through moto (and moto itself, an optional dependency).
``hubbub serve`` therefore runs the template with ``FanOutChunkThreshold=0`` unless told
otherwise (``--parameter-overrides FanOutChunkThreshold=500`` runs the chunked path locally, as
its end-to-end test does).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hubbub.runtime.cloudformation.yamltags import load_template

__all__ = ["LOCAL_PARAMETERS", "local_parameters"]

LOCAL_PARAMETERS = {"FanOutChunkThreshold": "0"}


def local_parameters(template: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """``overrides`` plus the local defaults of the parameters the template declares and the
    command line did not set."""
    try:
        declared = load_template(template).get("Parameters") or {}
    except Exception:  # a template that does not load: the runtime says why when it loads it
        return dict(overrides)
    defaults = {k: v for k, v in LOCAL_PARAMETERS.items() if k in declared and k not in overrides}
    return {**defaults, **overrides}
