"""Run the benchmark: every workload against every peer, in one run, on 127.0.0.1.

    python -m bench.run [--quick] [--out bench/results] [--peers hubbub,websockets,socketio]
                        [--only w1,lat,w0,w3,w4,lambda] [--docs]
    hubbub bench [same options]

Writes ``results-<time>.json`` and ``latest.json`` under ``--out``; with ``--docs`` also the plots
under docs/img/bench/ and the results block of docs/benchmarks.md (bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import hdrh.histogram  # noqa: F401  (the bench extra: a missing one fails here, at once)
import psutil  # noqa: F401
from tqdm import tqdm

from bench import lambdas, workloads
from bench.workloads import Plan, dumps

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parents[1]
ALL_PEERS = ("websockets", "socketio", "hubbub", "hubbub-nomqtt")
W1_ONLY_PEERS = frozenset({"hubbub-nomqtt"})
"""Variants of hubbub measured on W1 alone: what one part of the stack costs at full rate."""
ALL_WORKLOADS = ("lambda", "lat", "w1", "w4", "w3", "w0")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubbub bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes and short steps")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--peers", default=",".join(ALL_PEERS), help="comma list")
    parser.add_argument("--only", default=",".join(ALL_WORKLOADS), help="comma list of workloads")
    parser.add_argument(
        "--docs", action="store_true", help="also render docs/img/bench/*.png and the tables"
    )


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for dist in (
        "hubbub",
        "aiohttp",
        "websockets",
        "python-socketio",
        "python-engineio",
        "uvicorn",
        "hdrhistogram",
        "psutil",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan.make(args.quick)
    peers = [p for p in args.peers.split(",") if p]
    only = {w for w in args.only.split(",") if w}
    unknown = (set(peers) - set(ALL_PEERS)) | (only - set(ALL_WORKLOADS))
    if unknown:
        raise SystemExit(f"unknown peers or workloads: {sorted(unknown)}")
    results: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "loadavg_start": os.getloadavg(),
            "mode": "quick" if args.quick else "full",
            "argv": sys.argv,
            "machine": machine(),
            "plan": plan.__dict__,
            "lifted_limits": __import__("bench.peers", fromlist=["LIFTED_LIMITS"]).LIFTED_LIMITS,
        }
    }
    jobs: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    progress_bar = tqdm(total=1, unit="job", dynamic_ncols=True, file=sys.stderr)

    def say(text: str) -> None:
        progress_bar.set_description(text[:60])

    def add(key: str, factory: Callable[[], Awaitable[Any]]) -> None:
        jobs.append((key, factory))

    if "lambda" in only and "hubbub" in peers:
        add("lambda", lambda: lambdas.lambdas(plan, say))
    if "lat" in only:
        for peer in (p for p in peers if p not in W1_ONLY_PEERS):
            add("latency", lambda peer=peer: workloads.latency(peer, plan, say))  # type: ignore[misc]
    if "w1" in only:
        for n in plan.w1_subscribers:
            for peer in peers:
                add("w1", lambda peer=peer, n=n: workloads.fanout(peer, n, plan, say))  # type: ignore[misc]
        for round_ in range(1, plan.w1_rounds):
            repeated = [p for p in peers if p not in W1_ONLY_PEERS]
            for peer in repeated[round_ % len(repeated) :] + repeated[: round_ % len(repeated)]:
                add("w1_rounds", _round(results, peer, round_, plan, say))
    if "w4" in only and "hubbub" in peers:
        add("w4", lambda: workloads.retries(plan, say))
    if "w3" in only and "hubbub" in peers:
        add("w3", lambda: workloads.recovery(plan, say))
    if "w0" in only:
        for n in plan.w0_sizes:
            for peer in (p for p in peers if p not in W1_ONLY_PEERS):
                add("w0", lambda peer=peer, n=n: workloads.idle(peer, n, plan, say))  # type: ignore[misc]

    progress_bar.total = len(jobs)
    progress_bar.refresh()
    started = time.monotonic()
    for key, factory in jobs:
        try:
            outcome = await factory()
        except Exception as exc:  # one failing workload must not lose the others
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
            tqdm.write(f"bench: {key} failed: {outcome['error']}", file=sys.stderr)
        if key in ("lambda", "w3", "w4"):
            results[key] = outcome
        else:
            results.setdefault(key, []).append(outcome)
        progress_bar.update(1)
    progress_bar.close()
    results["meta"]["elapsed_s"] = time.monotonic() - started
    results["meta"]["loadavg_end"] = os.getloadavg()
    return results


def _round(
    results: dict[str, Any], peer: str, round_: int, plan: Plan, say: Callable[[str], None]
) -> Callable[[], Awaitable[Any]]:
    """A later round of W1 for ``peer`` at ``plan.w1_rounds_at`` subscribers, started near the
    limit of its first round (read when the round starts, after every first round ran). The
    peers take turns in another order each round, so a machine that slows down over the run
    does not weigh on one of them only."""

    async def one() -> dict[str, Any]:
        n = plan.w1_rounds_at
        first = next(
            (
                i
                for i in results.get("w1", [])
                if i.get("peer") == peer and i.get("subscribers") == n
            ),
            None,
        )
        outcome = await workloads.fanout(
            peer, n, plan, say, start_rate=workloads.round_start(first, plan)
        )
        outcome["round"] = round_
        return outcome

    return one


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_with(args)


def compile_sources() -> None:
    """Byte-compile hubbub's modules first. The runtime starts its execution environments with
    ``PYTHONDONTWRITEBYTECODE`` (as Lambda's read-only task root writes none), so a checkout
    that never imported them would compile every module in every cold start, and the cold
    starts measured would depend on what ran in the checkout before."""
    import compileall

    import hubbub

    compileall.compile_dir(Path(hubbub.__file__).parent, quiet=1)


def run_with(args: argparse.Namespace) -> int:
    from bench.loadgen import raise_fd_limit

    raise_fd_limit()
    compile_sources()
    results = asyncio.run(run(args))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = dumps(results)
    (out / f"results-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    print(f"bench: results in {out / f'results-{stamp}.json'}")
    from bench import report

    print(report.summary(results))
    if args.docs:
        report.write_docs(results, ROOT)
        print("bench: wrote docs/img/bench/*.png and the results block of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
