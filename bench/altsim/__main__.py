"""``python -m bench.altsim --subscribers N --days D --seed S --out DIR``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from .generate import Config, generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.altsim",
        description="Independent generator of a carrier's traffic with labelled toll fraud.",
    )
    parser.add_argument("--subscribers", type=_positive, default=3000)
    parser.add_argument("--days", type=_positive, default=42)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=_date, default=date(2026, 9, 7), help="first day (JST)")
    parser.add_argument(
        "--attacks-from-day",
        type=int,
        default=None,
        help="day index from which most attacks start (default: min(21, days/2)); about 15%% "
        "of incidents start earlier",
    )
    parser.add_argument(
        "--attack-scale", type=float, default=1.0, help="multiplier on the number of incidents"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.attacks_from_day is not None and args.attacks_from_day < 0:
        parser.error("--attacks-from-day must be >= 0")
    if args.attack_scale < 0:
        parser.error("--attack-scale must be >= 0")
    config = Config(
        subscribers=args.subscribers,
        days=args.days,
        seed=args.seed,
        start=args.start,
        attacks_from_day=args.attacks_from_day,
        attack_scale=args.attack_scale,
    )
    began = time.perf_counter()
    meta = generate(config, args.out)
    if not args.quiet:
        counts = meta["counts"]
        print(
            f"wrote {args.out}: {counts['subscribers']} subscribers, {counts['cdrs']} CDRs, "
            f"{counts['sip_events']} SIP events, {counts['incidents']} incidents "
            f"({counts['fraud_calls']} fraud calls), {counts['lookalike_rows']} look-alike rows "
            f"in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
