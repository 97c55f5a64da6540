"""``tollguard simulate``: write realistic synthetic carrier traffic with ground-truth labels."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tollguard.app.simulate import SimulationConfig, simulate
from tollguard.cli import app

_STAGES = {
    "customers": "Generating customers",
    "cdrs": "Writing cdrs.csv",
    "sip": "Writing sip_events.csv",
}


@app.command("simulate")
def simulate_command(
    subscribers: int = typer.Option(3000, "--subscribers", min=1, help="Number of customers."),
    days: int = typer.Option(42, "--days", min=1, help="Length of the period in days."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same bytes)."),
    out: Path = typer.Option(..., "--out", help="Output directory."),
    start: str = typer.Option("2026-10-05", "--start", help="First day (YYYY-MM-DD, JST)."),
    attacks_from_day: int | None = typer.Option(
        None,
        "--attacks-from-day",
        min=0,
        help="Day index from which attacks start (default: the last third of the period).",
    ),
    attack_scale: float = typer.Option(
        1.0, "--attack-scale", min=0.0, help="Multiplier on the number of incidents (0: none)."
    ),
    chunk_rows: int = typer.Option(
        250_000, "--chunk-rows", min=1, help="Rows held in memory before spilling to disk."
    ),
) -> None:
    """Simulate a carrier's subscribers, CDRs and SIP events with labelled fraud and look-alikes."""
    try:
        first = date.fromisoformat(start)
    except ValueError as exc:
        raise typer.BadParameter(f"--start: {exc}") from exc
    config = SimulationConfig(
        subscribers=subscribers,
        days=days,
        seed=seed,
        start=first,
        attacks_from_day=attacks_from_day,
        attack_scale=attack_scale,
        chunk_rows=chunk_rows,
    )
    console = Console(stderr=True)
    began = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = simulate(config, out, report)
    elapsed = time.perf_counter() - began
    incidents = sum(summary.incidents.values())
    typer.echo(
        f"wrote {out}: {summary.subscribers} subscribers, {summary.cdrs} CDRs "
        f"({summary.international_calls} international), {summary.sip_events} SIP events, "
        f"{incidents} incidents, {summary.fraud_calls} fraud calls, "
        f"{sum(summary.lookalikes.values())} look-alikes in {elapsed:.1f} s "
        f"({summary.cdrs / max(elapsed, 1e-9):,.0f} CDRs/s)"
    )
