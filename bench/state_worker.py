"""Engine state of one carrier, measured alone in this process:
``python -m bench.state_worker --subscribers S.csv [--cdrs C.csv --sip-events E.csv]``.

Prints one JSON object (the last line of stdout) with two measures of memory:

- ``state``: the bytes of every object the engine keeps as its state, i.e. what
  :meth:`Engine.snapshot` saves (all of the engine but its classifier, tariff, address locator,
  calendar and destination cache, which are packaged data and memos shared by every engine of the
  process): ``sys.getsizeof`` summed over the objects reachable from that state, each counted
  once, classes and modules left out. Measured on an engine with no customer (``empty``), on
  the engine built from the subscribers file (``idle``), and with ``--cdrs`` on the same engine
  after the whole traffic went through it (``after``). State per customer is ``(idle -
  empty) / customers``.
- ``rss``: growth of this process's resident memory (``/proc/self/statm``) from before the
  subscribers are read: what the machine had to give, allocator overhead, the memos and input
  buffers freed but kept by the allocator included.

The traffic runs as `tollguard replay` runs it: the CDRs are read by a second process and
streamed (no input is held here), the outputs dropped as they come. With ``--trace``, the idle
engine is also measured with :mod:`tracemalloc` (slow: for small carriers only), as a check of
the first measure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")
_NOT_COUNTED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def rss() -> int:
    """Resident memory of this process, bytes."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * _PAGE


def deep_size(
    roots: list[Any], seen: set[int], by_type: dict[str, int] | None = None
) -> tuple[int, int]:
    """(bytes, objects) reachable from ``roots`` and not yet ``seen`` (ids: updated); with
    ``by_type``, the bytes are also added up there by type name."""
    stack = list(roots)
    size = count = 0
    getsizeof, referents = sys.getsizeof, gc.get_referents
    while stack:
        o = stack.pop()
        i = id(o)
        if i in seen:
            continue
        seen.add(i)
        if isinstance(o, _NOT_COUNTED):
            continue
        b = getsizeof(o)
        size += b
        count += 1
        if by_type is not None:
            name = type(o).__name__
            by_type[name] = by_type.get(name, 0) + b
        stack.extend(referents(o))
        if isinstance(o, dict):  # the collector does not visit a dict's str keys
            stack.extend(o.keys())
    return size, count


def engine_state(engine: Any, policy_types: dict[str, int] | None = None) -> dict[str, int]:
    """:func:`deep_size` of what ``engine.snapshot()`` would save, by attribute of the engine
    (an object reached from several is counted once, in the first: subscribers, usernames,
    controls, ..., policy), with ``total`` and ``objects``; the policy's bytes by type of
    object are added up in ``policy_types`` if given."""
    from tollguard.domain.engine import _NOT_STATE

    shared = [v for k, v in engine.__dict__.items() if k in _NOT_STATE]
    seen = {id(o) for o in [engine, *shared]}
    parts: dict[str, int] = {}
    objects = 0
    for name, value in engine.__dict__.items():
        if name not in _NOT_STATE:
            size, count = deep_size([value], seen, policy_types if name == "policy" else None)
            parts[name] = size
            objects += count
    parts["total"] = sum(parts.values())
    parts["objects"] = objects
    return parts


def measure(subscribers: Path, cdrs: Path | None, sips: Path | None, trace: bool) -> dict[str, Any]:
    import multiprocessing
    import multiprocessing.connection  # imported now, not while measuring

    from tollguard.adapters.readers import read_subscribers
    from tollguard.app.replay import REPLAY_IP_MEMO, StreamedReplay
    from tollguard.domain.engine import Engine
    from tollguard.domain.ipinfo import IpLocator
    from tollguard.domain.records import Subscriber

    multiprocessing.get_context("fork")
    # Packaged data, loaded once per process; the locator's memo as `tollguard replay` sizes it.
    shared = Engine([], ip_locator=IpLocator(memo_size=REPLAY_IP_MEMO))
    parts: dict[str, Any] = {
        "classifier": shared.classifier,
        "tariff": shared.tariff,
        "ip_locator": shared.ips,
        "restricted": shared.restricted,
    }
    empty = engine_state(Engine([], **parts))["total"]
    gc.collect()
    rss0 = rss()
    if trace:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    replay = None
    if cdrs is not None:
        # Its reading process starts now and waits on the pipe until batches are asked for.
        replay = StreamedReplay(subscribers, cdrs, sips)
        subs = replay.subscribers
        replay.subscribers = []
    else:
        subs = [s for s in read_subscribers(subscribers) if isinstance(s, Subscriber)]
    engine = Engine(subs, **parts)
    customers = len(subs)
    del subs
    build_s = time.perf_counter() - start
    gc.collect()
    result: dict[str, Any] = {"customers": customers, "build_s": build_s, "empty_bytes": empty}
    if trace:
        result["idle_traced_bytes"] = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    result["idle_rss_bytes"] = rss() - rss0
    idle = engine_state(engine)
    result["idle_bytes"], result["idle_objects"] = idle["total"], idle["objects"]
    result["idle_parts"] = idle
    if replay is not None:
        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, *thresholds[1:])  # as `tollguard replay` sets it
        start = time.perf_counter()
        outputs = 0
        for batch in replay.batches(engine):
            outputs += len(batch)
        result["traffic_s"] = time.perf_counter() - start
        gc.set_threshold(*thresholds)
        result["calls"] = replay.calls
        result["outputs"] = outputs
        result["quarantined"] = len(replay.quarantined)
        del replay
        batch = []
        gc.collect()
        result["after_rss_bytes"] = rss() - rss0
        types: dict[str, int] = {}
        after = engine_state(engine, types)
        result["policy_types"] = dict(sorted(types.items(), key=lambda kv: -kv[1])[:12])
        result["after_bytes"], result["after_objects"] = after["total"], after["objects"]
        result["after_parts"] = after
        policy: Any = engine.policy
        result["learnt_customers"] = len(getattr(policy, "customers", {}))
        result["open_cases"] = len(getattr(policy, "cases", {}))
        result["closed_cases"] = len(getattr(policy, "closed_cases", []))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.state_worker")
    parser.add_argument("--subscribers", type=Path, required=True)
    parser.add_argument("--cdrs", type=Path)
    parser.add_argument("--sip-events", type=Path)
    parser.add_argument("--trace", action="store_true", help="idle engine under tracemalloc too")
    args = parser.parse_args()
    result = measure(args.subscribers, args.cdrs, args.sip_events, args.trace)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
