"""Memory: engine state per idle customer (target <= 1 KB) and at 1M customers (<= 1 GB).

The carrier is a simulated day of a million customers (``carriers.MILLION``: simulate
--subscribers 1000000 --days 1 --seed 1; the simulator's deliberately bad subscriber rows are
quarantined, so slightly fewer are loaded). Each figure comes from ``python -m
bench.state_worker`` in a process of its own: the engine built from the subscribers file and
measured idle; in another process, the same engine after that day's calls and SIP events went
through it as `tollguard replay` runs them. State is the bytes of what ``Engine.snapshot()``
saves (``sys.getsizeof`` over every object reachable from it, each once; the packaged numbering
plan, tariff and address data shared by every engine are not state); the growth of the
process's resident memory is given beside it. As a check of the first measure, the first
10,000 customers are also measured with ``tracemalloc``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.carriers import MILLION, carrier, customers, state
from bench.run import BenchResult

COMMAND = "python -m bench.run --only memory"
IDLE_TARGET_B = 1024.0
MILLION_TARGET_MB = 1000.0

_PARTS = ("subscribers", "usernames", "controls", "ledger", "policy")


def _mb(b: float) -> str:
    return f"{b / 1e6:,.0f} MB"


def bench_idle() -> list[BenchResult]:
    """Engine state of a million idle customers."""
    data = carrier(MILLION)
    s = state(data, traffic=False)
    n = s["customers"]
    per = (s["idle_bytes"] - s["empty_bytes"]) / n
    check = state(customers(MILLION, 10_000), traffic=False, trace=True)
    cn = check["customers"]
    check_per = (check["idle_bytes"] - check["empty_bytes"]) / cn
    traced_per = check["idle_traced_bytes"] / cn
    parts = s["idle_parts"]
    split = ", ".join(f"{k} {parts[k] / n:,.0f} B" for k in _PARTS if parts.get(k, 0) > n)
    return [
        BenchResult(
            "engine state per idle customer",
            per,
            "B",
            IDLE_TARGET_B,
            COMMAND,
            False,
            f"{n:,} customers ({data.made}); {split}; engine with no customer "
            f"{s['empty_bytes']:,} B; built in {s['build_s']:.1f} s; load average "
            f"{s['load_before']} before. Check on the first {cn:,} customers: "
            f"{check_per:,.0f} B per customer by the same measure, {traced_per:,.0f} B by "
            "tracemalloc (which also counts what the subscribers reader keeps).",
        ),
        BenchResult(
            "engine state at 1M customers, idle",
            s["idle_bytes"] / 1e6,
            "MB",
            MILLION_TARGET_MB,
            COMMAND,
            False,
            f"{s['idle_objects']:,} objects; the process grew by "
            f"{_mb(s['idle_rss_bytes'])} of resident memory reading the file and building it.",
        ),
    ]


def _breakdown(s: dict[str, Any]) -> str:
    n = s["customers"]
    idle, after = s["idle_parts"], s["after_parts"]
    rows = [
        "Engine state at 1M customers by part (an object reached from two parts is counted in "
        "the first):",
        "",
        "| part | idle | per customer | after one day | per customer |",
        "|---|---:|---:|---:|---:|",
    ]
    others_idle = idle["total"] - sum(idle.get(k, 0) for k in _PARTS)
    others_after = after["total"] - sum(after.get(k, 0) for k in _PARTS)
    for name, a, b in [
        *((k, idle.get(k, 0), after.get(k, 0)) for k in _PARTS),
        ("the rest", others_idle, others_after),
        ("**total**", idle["total"], after["total"]),
    ]:
        rows.append(f"| {name} | {_mb(a)} | {a / n:,.0f} B | {_mb(b)} | {b / n:,.0f} B |")
    return "\n".join(rows)


def _gap(s: dict[str, Any]) -> str:
    """Why the state after a day is over the target, from the measured parts."""
    n, learnt = s["customers"], max(s["learnt_customers"], 1)
    idle, after = s["idle_parts"], s["after_parts"]
    policy = after["policy"] / learnt
    total_mb = s["after_bytes"] / 1e6
    kinds = s.get("policy_types", {})
    top = sorted(kinds.items(), key=lambda kv: -kv[1])[:6]
    split = ", ".join(f"{name} {size / learnt:,.0f} B" for name, size in top)
    verdict = (
        f"Gap: {total_mb:,.0f} MB against {MILLION_TARGET_MB:,.0f} MB."
        if total_mb > MILLION_TARGET_MB
        else f"Met: {total_mb:,.0f} MB against {MILLION_TARGET_MB:,.0f} MB."
    )
    return (
        f"{verdict} Every customer costs {idle['total'] / n:,.0f} B before calling (the "
        f"Subscriber record the engine keeps whole, {idle['subscribers'] / n:,.0f} B: id, "
        "numbers, e-mail address and equipment model as separate strings; the username index, "
        f"{idle['usernames'] / n:,.0f} B: each number under four forms, id, +E.164, digits and "
        f"national, in one dict); each of the {learnt:,} customers who called during the day "
        f"then holds {policy:,.0f} B of learnt state"
        + (f" (by kind of object: {split})" if split else "")
        + ". Within 1 GB would take keeping only what the engine reads of a customer "
        "(segment, status, numbers) in compact form, one normalised username form, and "
        "compact detector state (a source-address history in small fixed arrays rather than "
        "three dicts per line)."
    )


def bench_day() -> list[BenchResult]:
    """Engine state of a million customers after a day of their traffic."""
    data = carrier(MILLION)
    s = state(data, traffic=True)
    n = s["customers"]
    learnt = s["learnt_customers"]
    policy = s["after_parts"]["policy"] - s["idle_parts"]["policy"]
    return [
        BenchResult(
            "engine state at 1M customers after a day of traffic",
            s["after_bytes"] / 1e6,
            "MB",
            MILLION_TARGET_MB,
            COMMAND,
            False,
            f"{n:,} customers, {s['calls']:,} calls and {data.sip_events:,} SIP events "
            f"({data.made}); {learnt:,} customers with learnt state, "
            f"{policy / max(learnt, 1):,.0f} B each; {s['open_cases']:,} open cases; "
            f"{s['after_objects']:,} objects; the process grew by "
            f"{_mb(s['after_rss_bytes'])} of resident memory (memos of classified numbers "
            f"and located addresses, allocator); traffic ran in {s['traffic_s']:.0f} s; load "
            f"average {s['load_before']} before, {s['load_after']} after.",
            notes=_breakdown(s) + "\n\n" + _gap(s),
        ),
    ]


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_idle, bench_day]
