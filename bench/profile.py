"""Profile hubbub under W1: py-spy samples the server and every worker while one fixed step runs.

    python -m bench.profile [--subscribers 200] [--rate 50] [--seconds 8] [--out bench/results]

Writes py-spy's collapsed stacks (``profile-*.txt``, open with speedscope or flamegraph.pl) and
prints, per process role (gateway, each function's workers), the share of samples and the hottest
frames: self time and inclusive time; and, from ``/metrics``, how busy each function's
environments were over the step.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench import workloads

__all__ = ["busy_lines", "main", "parse_durations", "summarize"]

_PROCESS = re.compile(r'^process (\d+):"([^"]*)"$')
_NOISE = re.compile(r"\s\((?:/[^()]*/(?:site-packages|python3\.\d+)/)")


def _frame(raw: str) -> str:
    return _NOISE.sub(" (", raw).replace("/work/main/src/", "")


def summarize(path: Path, roles: dict[int, str], top: int = 15) -> str:
    by_role: Counter[str] = Counter()
    self_time: dict[str, Counter[str]] = defaultdict(Counter)
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        role = "gateway"
        rest: list[str] = []
        for frame in frames:
            found = _PROCESS.match(frame)
            if found:
                role = roles.get(int(found.group(1)), "gateway")
                rest = []
                continue
            rest.append(_frame(frame))
        by_role[role] += n
        if rest:
            self_time[role][rest[-1]] += n
        for frame in set(rest):
            inclusive[role][frame] += n
    total = sum(by_role.values()) or 1
    out = [f"{total} samples"]
    for role, n in by_role.most_common():
        out.append(f"\n== {role}: {n} samples ({100 * n / total:.0f}%)")
        out.append("  self:")
        out += [f"    {c:6d}  {f}" for f, c in self_time[role].most_common(top)]
        out.append("  inclusive:")
        out += [f"    {c:6d}  {f}" for f, c in inclusive[role].most_common(top)]
    return "\n".join(out)


async def _run(args: argparse.Namespace) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (once, before the run)
    raw = out / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    async with workloads.session(args.peer, print, sub_procs=1) as s:
        await s.open_subscribers(args.subscribers)
        await s.open_publishers(1)
        await s.step(20.0, 1.0, 10.0)
        import psutil

        roles: dict[int, str] = {}
        for child in psutil.Process(s.server.pid).children(recursive=True):
            env = child.environ()
            roles[child.pid] = env.get("AWS_LAMBDA_FUNCTION_NAME", "worker")
        recorder = subprocess.Popen(  # noqa: ASYNC220  (started, then awaited in a thread)
            [
                spy,
                "record",
                "--pid",
                str(s.server.pid),
                "--subprocesses",
                "--rate",
                "250",
                "--duration",
                str(int(args.seconds) + 2),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
                *(["--gil"] if args.gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)
        before = _cpu_by_role(s.server.pid, roles)
        durations_before = parse_durations(await asyncio.to_thread(_metrics, s.port))
        started = time.monotonic()
        step = await s.step(args.rate, args.seconds, 5.0)
        wall_s = time.monotonic() - started
        durations_after = parse_durations(await asyncio.to_thread(_metrics, s.port))
        after = _cpu_by_role(s.server.pid, roles)
        await asyncio.to_thread(recorder.wait, 120)
    messages = max(1, round(args.rate * args.seconds))
    for role in sorted(after):
        spent = after[role] - before.get(role, 0.0)
        if role.endswith(" switches"):
            print(f"{role}: {spent / messages:.1f} per message")
        else:
            print(f"cpu {role}: {spent:.2f} s, {1000 * spent / messages:.3f} ms per message")
    keys = ["deliveries_per_s", "p50_ms", "p99_ms", "lost", "server_cpu_cores"]
    print({k: step[k] for k in [*keys, "server_us_per_delivery"]})
    print("\n".join(busy_lines(durations_before, durations_after, wall_s)))
    print(summarize(raw, roles))
    print(f"bench: collapsed stacks in {raw}")


_DURATION = re.compile(
    r'^lambda_duration_ms_(sum|count)\{[^}]*function="([^"]+)"[^}]*\} ([0-9.eE+-]+)$'
)


def parse_durations(metrics_text: str) -> dict[str, tuple[float, float]]:
    """Each function's (invocations, summed REPORT Duration in ms) from ``/metrics``."""
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for line in metrics_text.splitlines():
        match = _DURATION.match(line)
        if match:
            kind, function, value = match.groups()
            found[function][kind] = found[function].get(kind, 0.0) + float(value)
    return {f: (v.get("count", 0.0), v.get("sum", 0.0)) for f, v in found.items()}


def busy_lines(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], wall_s: float
) -> list[str]:
    """Per function over the step: invocations, their mean Duration, and how busy its
    environments were (summed Duration over the wall time). A stream-mapped function near 1.0
    is the step's serial path: one batch at a time per shard (docs/benchmarks.md, finding 20)."""
    lines = []
    for function in sorted(after):
        count = after[function][0] - before.get(function, (0.0, 0.0))[0]
        spent_ms = after[function][1] - before.get(function, (0.0, 0.0))[1]
        if count <= 0:
            continue
        lines.append(
            f"{function}: {count:.0f} invocations, mean {spent_ms / count:.2f} ms,"
            f" busy {spent_ms / 1000 / max(wall_s, 1e-9):.2f} of {wall_s:.1f} s"
        )
    return lines


def _metrics(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def _cpu_by_role(pid: int, roles: dict[int, str]) -> dict[str, float]:
    """User + system seconds per role so far (the figure a busy machine disturbs least), and
    each role's context switches (``<role> switches``): how often its processes slept on
    something (a pipe, a socket) and were woken again, which a busy machine makes costly."""
    import psutil

    spent: dict[str, float] = defaultdict(float)
    server = psutil.Process(pid)
    for proc in [server, *server.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            if proc.pid != pid and proc.pid not in roles:
                roles[proc.pid] = proc.environ().get("AWS_LAMBDA_FUNCTION_NAME", "worker")
            switches = proc.num_ctx_switches()
        except psutil.NoSuchProcess:
            continue
        role = roles.get(proc.pid, "gateway")
        spent[role] += times.user + times.system
        spent[f"{role} switches"] += switches.voluntary + switches.involuntary
    return dict(spent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--peer", default="hubbub", choices=("hubbub", "hubbub-nomqtt"))
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="only samples that hold the GIL (leaves out waits, which on a busy machine are"
        " scheduling rather than work)",
    )
    asyncio.run(_run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
