"""Results JSON -> the tables and plots of docs/benchmarks.md.

    python -m bench.report [bench/results/latest.json] [--docs]

Prints the summary tables; with ``--docs`` writes docs/img/bench/*.png and replaces the block
between the ``bench:results`` markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

__all__ = ["summary", "targets", "write_docs"]

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
PEER_ORDER = ("websockets", "socketio", "hubbub", "hubbub-nomqtt")
LABELS = {
    "websockets": "websockets broadcast",
    "socketio": "python-socketio + uvicorn",
    "hubbub": "hubbub (persists)",
    "hubbub-nomqtt": "hubbub (persists), no MQTT edge",
}


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [
        "| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def _by_peer(items: list[dict[str, Any]], **match: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for item in items:
        if all(item.get(k) == v for k, v in match.items()):
            out[item.get("peer", "?")] = item
    return out


def _best_rate(item: dict[str, Any] | None) -> float | None:
    if not item or not item.get("best"):
        return None
    value: float = item["best"]["deliveries_per_s"]
    return value


def _sustained_rate(item: dict[str, Any] | None) -> float | None:
    """What the targets compare: the offered rate of the best passing step (publish rate x
    subscribers), which it delivered in full. Its delivered/s is the same count over the step
    with the step's messages rounded to a whole number, so two peers whose limits are exactly
    two ladder steps apart (the 0.5x target) would be told apart by that rounding alone."""
    if not item or not item.get("best"):
        return None
    best = item["best"]
    value: float = best.get("offered_deliveries_per_s", best["deliveries_per_s"])
    return value


# targets ------------------------------------------------------------------------------------------
_BARE_RATIO = {100: 0.5, 1000: 0.8}
"""Issue 17: the share of the bare server's sustained rate hubbub must reach, by room size."""
_TIE = 1e-9
"""Ratios this close to a target are the target (float rounding of ladder rates)."""
_SIO_RATIO = {100: 3.0}
_JUDGED = ("hubbub", "websockets", "socketio")
"""Issue 17: how many times python-socketio's rate hubbub must reach (at 100 subscribers)."""


Round = dict[str, tuple[float, bool]]
"""One round of W1 at one size: each peer's sustained rate, and whether it is only where the
peer's ladder ran out of steps (at least that rate, perhaps much more) rather than a limit."""


def w1_rounds(results: dict[str, Any], n: int) -> list[Round]:
    """Each round of W1 at ``n`` subscribers, for every peer that sustained a step. The first
    round is the ``w1`` ladders; later ones (``w1_rounds``) exist where the plan repeats W1."""
    rounds: dict[int, Round] = {}
    firsts = [i for i in results.get("w1", []) if i.get("subscribers") == n]
    later = [i for i in results.get("w1_rounds", []) if i.get("subscribers") == n]
    for item in firsts + later:
        rate = _sustained_rate(item)
        if rate is not None:
            budget = not item.get("saturated", True)
            rounds.setdefault(int(item.get("round", 0)), {})[item["peer"]] = (rate, budget)
    return [rounds[r] for r in sorted(rounds)]


def _ratio_target(target: str, want: float, peer: str, rounds: list[Round]) -> dict[str, Any]:
    """hubbub's rate over ``peer``'s, round by round (each pair measured minutes apart, on the
    machine as it was then); met when the median round's ratio reaches ``want``.

    A rate reached at the step budget is only a lower bound: over such a rate of ``peer`` the
    ratio can only be smaller, so it counts as no ratio at all for "met"; from such a rate of
    hubbub's it can only be larger, so it counts as no ratio at all for "not met". When the two
    readings disagree the target is undecided (``met`` None), not guessed."""
    pairs = [(r["hubbub"], r[peer]) for r in rounds if "hubbub" in r and peer in r]
    ratios = [hub / other for (hub, _), (other, _) in pairs]
    median = statistics.median(ratios)
    at_least = [0.0 if spent else x for x, (_, (_, spent)) in zip(ratios, pairs, strict=True)]
    at_most = [math.inf if spent else x for x, ((_, spent), _) in zip(ratios, pairs, strict=True)]
    each = "; ".join(
        f"{_rate(hub)} vs {_rate(other)} msgs/s = {hub[0] / other[0]:.2f}x" for hub, other in pairs
    )
    measured = each if len(pairs) == 1 else f"median {median:.2f}x of {len(pairs)} rounds ({each})"
    # the ladder's rates are products of sqrt(2) and geometric means: two limits two steps
    # apart are exactly 0.5x, and only the float arithmetic says otherwise
    met: bool | None = statistics.median(at_least) >= want - _TIE
    if not met and statistics.median(at_most) >= want - _TIE:
        met = None
        measured += "; a rate at its step budget (>=) leaves it undecided"
    return {"target": target, "measured": measured, "met": met}


def _rate(found: tuple[float, bool]) -> str:
    rate, spent = found
    return f"{'>= ' if spent else ''}{rate:,.0f}"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 17 (and the loss targets of issue 7) with the measured value and
    whether it is met."""
    out: list[dict[str, Any]] = []
    w1 = results.get("w1", [])
    for n in sorted({i.get("subscribers") for i in w1 if "subscribers" in i}):
        peers = _by_peer(w1, subscribers=n)
        hub, bare, sio = (_sustained_rate(peers.get(p)) for p in _JUDGED)
        rounds = w1_rounds(results, n)
        want = _BARE_RATIO.get(n, 0.5)
        if hub is not None and bare:
            out.append(
                _ratio_target(
                    f"W1 N={n}: hubbub >= {want}x bare websockets",
                    want,
                    "websockets",
                    rounds,
                )
            )
        times = _SIO_RATIO.get(n)
        if times is not None and hub is not None and sio:
            out.append(
                _ratio_target(
                    f"W1 N={n}: hubbub >= {times:g}x python-socketio",
                    times,
                    "socketio",
                    rounds,
                )
            )
        elif times is not None and hub is not None and peers.get("socketio", {}).get("steps"):
            first = peers["socketio"]["steps"][0]
            out.append(
                {
                    "target": f"W1 N={n}: hubbub >= {times:g}x python-socketio",
                    "measured": f"{hub:,.0f} msgs/s vs none: python-socketio failed its first"
                    f" step ({first['offered_deliveries_per_s']:,.0f}/s: p99"
                    f" {first['p99_ms']:,.0f} ms, {first['lost']} lost)",
                    "met": True,
                }
            )
        hubbub_runs = [
            i
            for i in w1 + results.get("w1_rounds", [])
            if i.get("peer") == "hubbub" and i.get("subscribers") == n and i.get("steps")
        ]
        if hubbub_runs:
            lost = [s["lost"] for i in hubbub_runs for s in i["steps"] if s.get("passed")]
            out.append(
                {
                    "target": f"W1 N={n}: hubbub zero loss",
                    "measured": "0 lost in every sustained step"
                    if not any(lost)
                    else f"{sum(lost)} lost",
                    "met": not any(lost),
                }
            )
    lat_peers = _by_peer(results.get("latency", []))
    lat, bare_lat = lat_peers.get("hubbub"), lat_peers.get("websockets")
    if lat and lat.get("p99_ms") is not None:
        out.append(
            {
                "target": "p99 <= 25 ms at 50 msg/s into 200 subscribers",
                "measured": f"p99 {lat['p99_ms']:.1f} ms (p50 {lat['p50_ms']:.1f}),"
                f" {lat['lost']} lost",
                "met": lat["p99_ms"] <= 25 and lat["lost"] == 0,
            }
        )
        if bare_lat and bare_lat.get("p99_ms"):
            ratio = lat["p99_ms"] / bare_lat["p99_ms"]
            out.append(
                {
                    "target": "LAT p99 within 2.5x the bare server's",
                    "measured": f"{lat['p99_ms']:.1f} vs {bare_lat['p99_ms']:.1f} ms ="
                    f" {ratio:.2f}x",
                    "met": ratio <= 2.5,
                }
            )
    for item in results.get("w0", []):
        if item.get("peer") == "hubbub" and item.get("connections") == max(
            i.get("connections", 0) for i in results.get("w0", [])
        ):
            kb = item.get("kb_per_connection")
            out.append(
                {
                    "target": f"W0: <= 16 KB RSS per idle connection at {item['connections']:,}",
                    "measured": f"{kb:.1f} KB ({item['opened']:,} open)" if kb else "-",
                    "met": kb is not None and kb <= 16 and item["opened"] == item["connections"],
                }
            )
    lam = results.get("lambda") or {}
    for function, cold in sorted((lam.get("cold") or {}).items()):
        out.append(
            {
                "target": f"cold start {function} <= 300 ms (median of {int(cold.get('runs', 1))})",
                "measured": f"{cold['total_ms']:.0f} ms (init {cold['init_ms']:.0f}"
                f" + first {cold['first_duration_ms']:.0f})",
                "met": cold["total_ms"] <= 300,
            }
        )
    warm = lam.get("warm_send") or {}
    if warm.get("median_ms") is not None:
        out.append(
            {
                "target": "warm send handler median <= 1 ms",
                "measured": f"median {warm['median_ms']:.2f} ms (p90 {warm['p90_ms']:.2f},"
                f" n={warm['n']})",
                "met": warm["median_ms"] <= 1,
            }
        )
    w3 = results.get("w3") or {}
    if "lost" in w3:
        out.append(
            {
                "target": "W3: zero loss after 10% reconnect with since",
                "measured": f"{w3['lost']} lost, catch-up max"
                f" {_f((w3.get('resumed') or {}).get('catch_up_s', {}).get('max'), 2)} s",
                "met": w3["lost"] == 0,
            }
        )
    w4 = results.get("w4") or {}
    if "lost" in w4:
        ok = w4["lost"] == 0 and w4["duplicates"] == 0 and w4["stored_more_than_once"] == 0
        out.append(
            {
                "target": "W4: retried sends stored once, delivered once",
                "measured": f"{w4['messages_acked']} messages, {w4['duplicate_acks']} duplicate"
                f" acks, {w4['stored_more_than_once']} stored twice,"
                f" {w4['duplicates']} delivered twice, {w4['lost']} lost",
                "met": ok,
            }
        )
    return out


# tables -------------------------------------------------------------------------------------------
def summary(results: dict[str, Any]) -> str:
    parts: list[str] = []
    meta = results.get("meta", {})
    machine = meta.get("machine", {})
    load = meta.get("loadavg_start") or [None] * 3
    parts.append(
        f"Run {meta.get('started')} ({meta.get('mode')}), {machine.get('cores')} cores"
        f" {machine.get('cpu_model')}, {machine.get('memory_gib')} GiB, Python"
        f" {machine.get('python')}; load average at start {_f(load[0], 2)} / {_f(load[1], 2)} /"
        f" {_f(load[2], 2)}, at end {_f((meta.get('loadavg_end') or [None])[0], 2)};"
        f" {_f(meta.get('elapsed_s'), 0)} s."
    )
    versions = machine.get("versions") or {}
    if versions:
        parts.append(
            "Kernel "
            + str(machine.get("kernel"))
            + "; "
            + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v)
            + ".\n"
        )
    w1 = results.get("w1", [])
    rows = []
    for item in sorted(w1, key=lambda i: (i.get("subscribers", 0), _order(i.get("peer")))):
        if "error" in item:
            rows.append([item.get("peer", "?"), "-", "error: " + item["error"][:60]] + ["-"] * 6)
            continue
        best = item.get("best") or {}
        bare = _best_rate(_by_peer(w1, subscribers=item["subscribers"]).get("websockets"))
        rate = best.get("deliveries_per_s")
        rows.append(
            [
                LABELS.get(item["peer"], item["peer"]),
                item["subscribers"],
                f"**{rate:,.0f}**" if rate else _first_failure(item),
                best.get("rate"),
                best.get("p50_ms"),
                best.get("p99_ms"),
                best.get("server_us_per_delivery"),
                f"{rate / bare:.2f}x" if rate and bare else "-",
                "limit found" if item.get("saturated") else "step budget",
            ]
        )
    if rows:
        parts.append("### W1 fan-out: highest sustained rate (p99 <= 250 ms, nothing lost)\n")
        parts.append(
            _table(
                [
                    "peer",
                    "subscribers",
                    "delivered msgs/s",
                    "publish msg/s",
                    "p50 ms",
                    "p99 ms",
                    "server CPU us/delivery",
                    "vs bare",
                    "stepping ended by",
                ],
                rows,
            )
        )
        for item in sorted(w1, key=lambda i: (i.get("subscribers", 0), _order(i.get("peer")))):
            steps = item.get("steps") or []
            if not steps:
                continue
            parts.extend(
                _steps_details(
                    f"W1 steps: {LABELS.get(item['peer'])}, {item['subscribers']} subscribers",
                    steps,
                    _STEP_COLUMNS,
                )
            )
    parts.extend(_rounds_summary(results))
    lat = results.get("latency", [])
    if lat:
        parts.append("\n### Latency at a fixed load (50 msg/s into 200 subscribers)\n")
        parts.append(
            _table(
                [
                    "peer",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "p99.9 ms",
                    "max ms",
                    "lost",
                    "server us/delivery",
                    "send->ack p50 ms",
                ],
                [
                    [
                        LABELS.get(i.get("peer"), i.get("peer")),
                        i.get("p50_ms"),
                        i.get("p90_ms"),
                        i.get("p99_ms"),
                        i.get("p999_ms"),
                        i.get("max_ms"),
                        i.get("lost", i.get("error")),
                        i.get("server_us_per_delivery"),
                        _ms((i.get("ack_us") or {}).get("p50")),
                    ]
                    for i in sorted(lat, key=lambda i: _order(i.get("peer")))
                ],
            )
        )
    w0 = results.get("w0", [])
    if w0:
        parts.append("\n### W0 idle connections (one keepalive each)\n")
        parts.append(
            _table(
                [
                    "peer",
                    "connections",
                    "opened",
                    "still open",
                    "connect s",
                    "server RSS before MB",
                    "server RSS idle MB",
                    "KB per connection",
                    "keepalive CPU cores",
                ],
                [
                    [
                        LABELS.get(i.get("peer"), i.get("peer")),
                        i.get("connections"),
                        i.get("opened", i.get("error")),
                        i.get("still_open"),
                        i.get("connect_s"),
                        i.get("rss_base_mb"),
                        i.get("rss_idle_mb"),
                        i.get("kb_per_connection"),
                        i.get("keepalive_cpu_cores"),
                    ]
                    for i in sorted(
                        w0, key=lambda i: (i.get("connections", 0), _order(i.get("peer")))
                    )
                ],
            )
        )
    w3 = results.get("w3")
    if w3:
        resumed = w3.get("resumed") or {}
        catch = resumed.get("catch_up_s") or {}
        parts.append(
            "\n### W3 recovery (hubbub): 10% of subscribers vanish and resume with since\n"
        )
        parts.append(
            _table(
                [
                    "subscribers",
                    "dropped",
                    "down s",
                    "reconnected",
                    "history pages",
                    "catch-up p50 s",
                    "catch-up max s",
                    "lost",
                    "duplicates (dropped by seq)",
                ],
                [
                    [
                        w3.get("subscribers"),
                        w3.get("dropped"),
                        w3.get("down_s"),
                        resumed.get("reconnected"),
                        resumed.get("history_pages"),
                        catch.get("p50"),
                        catch.get("max"),
                        w3.get("lost", w3.get("error")),
                        w3.get("duplicates"),
                    ]
                ],
            )
        )
    w4 = results.get("w4")
    if w4:
        parts.append("\n### W4 retries (hubbub): every send sent twice with one clientMsgId\n")
        parts.append(
            _table(
                [
                    "messages",
                    "acks",
                    "duplicate acks",
                    "stored more than once",
                    "delivered",
                    "delivered twice",
                    "lost",
                ],
                [
                    [
                        w4.get("messages_acked", w4.get("error")),
                        w4.get("acks"),
                        w4.get("duplicate_acks"),
                        w4.get("stored_more_than_once"),
                        w4.get("unique"),
                        w4.get("duplicates"),
                        w4.get("lost"),
                    ]
                ],
            )
        )
    lam = results.get("lambda")
    if lam and "cold" in lam:
        parts.append("\n### Lambda cold starts and the warm send handler (hubbub)\n")
        runs = len(lam.get("cold_runs") or [None])
        parts.append(f"Each function's median cold start of {runs} fresh servers.\n")
        parts.append(
            _table(
                [
                    "function",
                    "Init Duration ms",
                    "first invocation ms",
                    "cold start total ms",
                    f"total, range of {runs} runs",
                ],
                [
                    [
                        f,
                        c["init_ms"],
                        c["first_duration_ms"],
                        c["total_ms"],
                        f"{_f(c.get('min_total_ms', c['total_ms']), 0)}-"
                        f"{_f(c.get('max_total_ms', c['total_ms']), 0)}",
                    ]
                    for f, c in sorted(lam["cold"].items())
                ],
            )
        )
        warm = lam.get("warm_send") or {}
        buckets = warm.get("metrics_buckets") or {}
        total = buckets.get("+Inf") or 0
        within = buckets.get("2") or 0
        parts.append(
            f"\nWarm `send` (MessageFunction REPORT Duration, n={warm.get('n')}): median"
            f" {_f(warm.get('median_ms'), 2)} ms, p90 {_f(warm.get('p90_ms'), 2)} ms, p99"
            f" {_f(warm.get('p99_ms'), 2)} ms; `/metrics` lambda_duration_ms: {within:.0f} of"
            f" {total:.0f} invocations <= 2 ms."
        )
    goals = targets(results)
    if goals:
        parts.append("\n### Targets\n")
        parts.append(
            _table(
                ["target", "measured", "met"],
                [[g["target"], g["measured"], _verdict(g["met"])] for g in goals],
            )
        )
    return "\n".join(parts) + "\n"


_STEP_COLUMNS = (
    ("publish msg/s", "rate"),
    ("offered deliveries/s", "offered_deliveries_per_s"),
    ("delivered/s", "deliveries_per_s"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("max ms", "max_ms"),
    ("lost", "lost"),
    ("dup", "duplicates"),
    ("server cores", "server_cpu_cores"),
    ("us/delivery", "server_us_per_delivery"),
    ("generator cores", "generator_cpu_cores"),
)
"""A W1 ladder's steps as the first round's tables show them (header, key)."""
_ROUND_STEP_COLUMNS = tuple(
    column
    for column in _STEP_COLUMNS
    if column[1] in {"rate", "deliveries_per_s", "p50_ms", "p99_ms", "lost", "server_cpu_cores"}
)
"""The later rounds' shorter tables."""


def _steps_details(
    title: str, steps: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]
) -> list[str]:
    """A ladder's steps in a folded table, each marked passed or not."""
    rows = [
        [*(step[key] for _, key in columns), "yes" if step.get("passed") else "**no**"]
        for step in steps
    ]
    table = _table([*(head for head, _ in columns), "passed"], rows)
    return [f"\n<details><summary>{title}</summary>\n", table, "\n</details>"]


def _rounds_summary(results: dict[str, Any]) -> list[str]:
    """Where W1 ran more than once: each round's limits side by side, and the ratios the
    targets are judged on."""
    parts: list[str] = []
    for n in sorted({i["subscribers"] for i in results.get("w1_rounds", []) if "subscribers" in i}):
        rounds = w1_rounds(results, n)
        peers = sorted({p for r in rounds for p in r}, key=_order)
        rows = []
        for number, found in enumerate(rounds, start=1):
            hub, bare, sio = (found[p][0] if p in found else None for p in _JUDGED)
            rows.append(
                [
                    str(number),
                    *(_rate(found[p]) if p in found else "-" for p in peers),
                    f"{hub / bare:.2f}x" if hub and bare else "-",
                    f"{hub / sio:.2f}x" if hub and sio else "-",
                ]
            )
        parts.append(
            f"\n### W1 at {n} subscribers, round by round (offered deliveries/s of the best"
            " passing step, >= where the ladder ran out of steps: what the targets compare)\n"
        )
        parts.append(
            _table(
                ["round", *(LABELS.get(p, p) for p in peers), "hubbub / bare", "hubbub / sio"],
                rows,
            )
        )
        later = [i for i in results.get("w1_rounds", []) if i.get("subscribers") == n]
        for item in sorted(later, key=lambda i: (i.get("round", 0), _order(i.get("peer")))):
            steps = item.get("steps") or []
            if not steps:
                continue
            title = (
                f"W1 round {item.get('round', 0) + 1} steps:"
                f" {LABELS.get(item['peer'], item['peer'])}, {n} subscribers"
            )
            parts.extend(_steps_details(title, steps, _ROUND_STEP_COLUMNS))
    return parts


def _verdict(met: bool | None) -> str:
    return "yes" if met else "undecided" if met is None else "**no**"


def _first_failure(item: dict[str, Any]) -> str:
    steps = item.get("steps") or []
    if not steps:
        return "none passed"
    first = steps[0]
    return (
        f"< {first['offered_deliveries_per_s']:,.0f} (first step: p99"
        f" {first['p99_ms'] or 0:,.0f} ms, {first['lost']} lost)"
    )


def _ms(us: Any) -> float | None:
    return None if us is None else float(us) / 1000


def _order(peer: Any) -> int:
    return PEER_ORDER.index(peer) if peer in PEER_ORDER else len(PEER_ORDER)


# plots --------------------------------------------------------------------------------------------
def plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from hdrh.histogram import HdrHistogram

    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    colors = {
        "websockets": "tab:blue",
        "socketio": "tab:orange",
        "hubbub": "tab:green",
        "hubbub-nomqtt": "tab:olive",
    }
    w1 = [i for i in results.get("w1", []) if i.get("steps")]
    for n in sorted({i["subscribers"] for i in w1}):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for item in sorted(_by_peer(w1, subscribers=n).values(), key=lambda i: _order(i["peer"])):
            steps = item["steps"]
            offered = [s["offered_deliveries_per_s"] for s in steps]
            color = colors.get(item["peer"])
            label = LABELS.get(item["peer"], item["peer"])
            ax1.plot(offered, [s["p99_ms"] or float("nan") for s in steps], "o-", color=color)
            ax1.plot(offered, [s["p50_ms"] or float("nan") for s in steps], ".:", color=color)
            for s in steps:
                if not s.get("passed"):
                    ax1.plot([s["offered_deliveries_per_s"]], [s["p99_ms"]], "x", color="red")
            ax2.plot(
                offered,
                [s["server_us_per_delivery"] or float("nan") for s in steps],
                "o-",
                color=color,
                label=label,
            )
        ax1.axhline(250, color="red", linestyle="--", linewidth=1)
        ax1.set(
            xlabel="offered deliveries/s (publish rate x subscribers)",
            ylabel="latency (ms): p99 solid, p50 dotted",
            yscale="log",
            title=f"W1 fan-out, {n} subscribers (x: step failed)",
        )
        ax2.set(
            xlabel="offered deliveries/s",
            ylabel="server CPU per delivery (us)",
            title="server CPU (with workers) per delivery",
        )
        ax2.set_ylim(bottom=0)
        ax2.legend(fontsize=8)
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        path = out / f"w1-{n}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    lat = [i for i in results.get("latency", []) if i.get("histogram")]
    if lat:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for item in sorted(lat, key=lambda i: _order(i["peer"])):
            hist = HdrHistogram.decode(item["histogram"].encode())
            xs, ys = [], []
            for pct in (50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100):
                xs.append(1 / (1 - pct / 100) if pct < 100 else 1e5)
                ys.append(hist.get_value_at_percentile(pct) / 1000)
            ax.plot(xs, ys, "o-", color=colors.get(item["peer"]), label=LABELS.get(item["peer"]))
        ax.axhline(25, color="red", linestyle="--", linewidth=1, label="target p99 25 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(
            [2, 10, 100, 1000, 10000, 1e5], ["p50", "p90", "p99", "p99.9", "p99.99", "max"]
        )
        ax.set(ylabel="latency (ms)", title="Latency at 50 msg/s into 200 subscribers")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / "latency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    w0 = [i for i in results.get("w0", []) if i.get("kb_per_connection") is not None]
    if w0:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        sizes = sorted({i["connections"] for i in w0})
        shown = [p for p in PEER_ORDER if any(i["peer"] == p for i in w0)]
        width = 0.8 / max(1, len(shown))
        for k, peer in enumerate(shown):
            values = [
                next(
                    (
                        i["kb_per_connection"]
                        for i in w0
                        if i["peer"] == peer and i["connections"] == n
                    ),
                    0,
                )
                for n in sizes
            ]
            ax.bar(
                [x + k * width for x in range(len(sizes))],
                values,
                width,
                color=colors[peer],
                label=LABELS[peer],
            )
        ax.axhline(16, color="red", linestyle="--", linewidth=1, label="target 16 KB")
        ax.set_xticks([x + width for x in range(len(sizes))], [f"{n:,} connections" for n in sizes])
        ax.set(ylabel="server RSS per idle connection (KB)", title="W0 idle connections")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        path = out / "w0.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    cold = (results.get("lambda") or {}).get("cold") or {}
    if cold:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        names = sorted(cold)
        init = [cold[f]["init_ms"] for f in names]
        first = [cold[f]["first_duration_ms"] for f in names]
        ax.barh(names, init, color="tab:purple", label="Init Duration (import)")
        ax.barh(names, first, left=init, color="tab:green", label="first invocation")
        ax.axvline(300, color="red", linestyle="--", linewidth=1, label="target 300 ms")
        ax.set(xlabel="ms", title="Cold start per function")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
        path = out / "cold-start.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


def write_docs(results: dict[str, Any], root: Path) -> None:
    images = plots(results, root / "docs" / "img" / "bench")
    block = [START, "", summary(results)]
    for image in images:
        block.append(f"![{image.stem}](img/bench/{image.name})\n")
    block.append(END)
    doc = root / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    doc.write_text(head + "\n".join(block) + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("results", nargs="?", type=Path, default=root / "bench/results/latest.json")
    parser.add_argument("--docs", action="store_true")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    print(summary(results))
    if args.docs:
        write_docs(results, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
