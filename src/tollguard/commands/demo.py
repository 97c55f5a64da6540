"""``tollguard demo``: the main job on embedded defaults, in one command (used by ``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from tollguard.cli import app

_HELP = (
    "Run the main job on embedded defaults: ingest the sample files shipped in samples/ into a "
    "SQLite store (quarantining the bad ones), simulate a carrier (a few thousand customers, six "
    "weeks, attacks in the last two), and backtest tollguard against the source document's "
    "process, printing the comparison and writing a self-contained HTML report."
)


@app.command("demo", help=_HELP)
def demo_command(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Output directory."),
    subscribers: int = typer.Option(3000, "--subscribers", min=10, help="Simulated customers."),
    days: int = typer.Option(42, "--days", min=7, help="Simulated days."),
    seed: int = typer.Option(7, "--seed", help="Simulation seed."),
    samples: Path = typer.Option(Path("samples"), "--samples", help="Sample files to ingest."),
) -> None:
    """Ingest the samples, simulate, backtest, report."""
    console = Console()
    cli = typer.main.get_command(app)
    out.mkdir(parents=True, exist_ok=True)
    if (samples / "subscribers.csv").exists():
        console.rule("1. Ingest the sample files")
        args = [
            "ingest",
            "--subscribers",
            str(samples / "subscribers.csv"),
            "--cdrs",
            str(samples / "cdrs.csv"),
            "--sip-events",
            str(samples / "sip_events.csv"),
            "--db",
            str(out / "tollguard.sqlite"),
            "--quarantine-dir",
            str(out / "quarantine"),
        ]
        bad = samples / "bad" / "cdrs.csv"
        if bad.exists():
            args += ["--cdrs", str(bad)]
        cli.main(args, standalone_mode=False)
    data = out / "carrier"
    console.rule(f"2. Simulate a carrier: {subscribers:,} customers, {days} days, seed {seed}")
    cli.main(
        [
            "simulate",
            "--subscribers",
            str(subscribers),
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--out",
            str(data),
        ],
        standalone_mode=False,
    )
    console.rule("3. Backtest tollguard against the source document's process")
    cli.main(["backtest", "--data", str(data), "--out", str(out / "report")], standalone_mode=False)
    console.print(f"\nOpen [bold]{out / 'report' / 'report.html'}[/bold] in a browser (offline).")
