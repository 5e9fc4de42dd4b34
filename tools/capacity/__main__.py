"""``python -m tools.capacity``: measure, price and print (see ``tools/capacity/__init__.py``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from tools.capacity.backend import moto_server
from tools.capacity.permissions import compare, granted_by_template, used_by_paths
from tools.capacity.pricing import Workload
from tools.capacity.report import design_name, render, render_permissions
from tools.capacity.scenarios import RoomCosts, measure_hubbub_room, measure_sample_room

REPO = Path(__file__).resolve().parents[2]


def _template_workload(template: Path) -> Workload:
    """The functions' memory and architecture as the template deploys them."""
    from hubbub.runtime.cloudformation import load_app

    app = load_app(template)
    memory = {spec.memory_mb for spec in app.functions.values()}
    if len(memory) != 1:
        raise SystemExit(f"functions differ in MemorySize {sorted(memory)}: price them one by one")
    if app.parameters.get("Architecture") != "arm64":
        raise SystemExit("the template's default Architecture is not arm64: prices assume arm64")
    return Workload(memory_mb=memory.pop())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.capacity", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--sends", type=int, default=5, help="messages measured per room")
    parser.add_argument(
        "--total-connections",
        type=int,
        default=10_000,
        help="also price the samples' design with rooms in a table this big (0: do not)",
    )
    parser.add_argument("--template", type=Path, default=REPO / "template.yaml")
    parser.add_argument("--stream-batch", type=int, help="stream records per fan-out invocation")
    parser.add_argument("--minutes-per-message", type=float, help="connection minutes per message")
    parser.add_argument("--ping-interval", type=float, help="client keepalive, seconds")
    parser.add_argument("--post-ms", type=float, help="assumed latency of one @connections POST")
    parser.add_argument("--dynamodb-ms", type=float, help="assumed latency of one DynamoDB request")
    parser.add_argument(
        "--permissions",
        action="store_true",
        help="also run every function's paths and compare the IAM actions used with the"
        " template's grants (exit 1 if one is missing)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="print the large-room model (10 to 100,000 members, single and chunked fan-out)"
        " and the API Gateway / IoT Core comparison instead of measuring; no moto",
    )
    parser.add_argument("--chunk-size", type=int, help="--scale: also a design with this chunk")
    parser.add_argument("--groups", type=int, help="--scale: its FIFO message groups")
    parser.add_argument("--threshold", type=int, default=500, help="--scale: chunked above this")
    parser.add_argument("--push-parallel", type=int, default=16, help="--scale: posts in flight")
    parser.add_argument("--standard-queue", action="store_true", help="--scale: SQS standard")
    return parser


def _scale(args: argparse.Namespace) -> int:
    """The model of ``tools/capacity/scale.py`` and ``edges.py``: arithmetic only. The table
    shows the chunked fan-out as built and tuned, and the design the options describe."""
    from tools.capacity.scale import LATENCY, Design, Path
    from tools.capacity.scale_report import AS_BUILT, TUNED, render_edges, render_scale

    designs = [("as built", AS_BUILT), ("tuned", TUNED)]
    if args.chunk_size or args.groups or args.standard_queue:
        custom = Design(
            path=Path.CHUNKED,
            threshold=args.threshold,
            chunk_size=args.chunk_size or AS_BUILT.chunk_size,
            push_parallel=args.push_parallel,
            fifo=not args.standard_queue,
            message_groups=None if args.standard_queue else args.groups,
        )
        designs.append(("yours", custom))
    latency = replace(
        LATENCY,
        **{
            name: value
            for name, value in (
                ("post_ms", args.post_ms),
                ("dynamodb_request_ms", args.dynamodb_ms),
            )
            if value is not None
        },
    )
    print(render_scale([10, 1_000, 10_000, 100_000], designs, latency=latency))
    print(render_edges([10, 100, 1_000]))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.scale:
        return _scale(args)
    workload = _template_workload(args.template)
    overrides = {
        "stream_batch": args.stream_batch,
        "minutes_per_message": args.minutes_per_message,
        "ping_interval_s": args.ping_interval,
        "post_ms": args.post_ms,
        "dynamodb_request_ms": args.dynamodb_ms,
    }
    workload = replace(workload, **{k: v for k, v in overrides.items() if v is not None})
    rooms: list[RoomCosts] = []
    missing = False
    with moto_server() as endpoint:
        for size in args.sizes:
            print(f"measuring a room of {size:,}...", file=sys.stderr, flush=True)
            rooms.append(measure_hubbub_room(endpoint, size, sends=args.sends))
            rooms.append(measure_sample_room(endpoint, size))
            if args.total_connections > size:
                others = args.total_connections - size
                rooms.append(measure_sample_room(endpoint, size, other_connections=others))
        if args.permissions:
            print("running every function's paths...", file=sys.stderr, flush=True)
            reports = compare(used_by_paths(endpoint), granted_by_template(args.template))
            missing = any(report.missing for report in reports)
    print(render(rooms, workload))
    if args.permissions:
        print("### IAM actions: used by each function's paths vs granted by the template\n")
        print(render_permissions(reports))
    if args.json:
        raw = [
            {
                "design": design_name(room),
                "size": room.size,
                "paths": {
                    name: {
                        "function": path.function,
                        "read_units": path.read_units,
                        "write_units": path.write_units,
                        "index_write_units": path.index_write_units,
                        "calls": path.calls,
                        "posts": path.posts,
                        "billed_messages": path.billed_messages,
                    }
                    for name, path in room.paths.items()
                },
            }
            for room in rooms
        ]
        args.json.write_text(json.dumps({"workload": asdict(workload), "rooms": raw}, indent=2))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
