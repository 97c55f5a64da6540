"""``tollguard backtest``: replay policies over a simulated data set and score them side by side."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tollguard.cli import app

_HELP = (
    "Replay policies over a data directory made by [bold]tollguard simulate[/bold] and score them "
    "against its labels: fraud loss prevented, time to stop each incident, legitimate customers "
    "suspended, legitimate calls denied or cut, alerts per day. Writes summary.json and a "
    "self-contained report.html."
)


def _parse_recorded(values: list[str]) -> dict[str, Path]:
    recorded: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(
                f"expected NAME=FILE.jsonl, got {value!r}", param_hint="--replay"
            )
        file = Path(path)
        if not file.is_file():
            raise typer.BadParameter(f"no such file: {file}", param_hint="--replay")
        recorded[name] = file
    return recorded


@app.command("backtest", help=_HELP)
def backtest(
    data: Path = typer.Option(
        ...,
        "--data",
        exists=True,
        file_okay=False,
        help="Data directory written by `tollguard simulate` (with its truth/ labels).",
    ),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="Engine configuration file."
    ),
    out: Path = typer.Option(
        Path("backtest-report"), "--out", help="Directory for summary.json and report.html."
    ),
    policy: list[str] | None = typer.Option(
        None,
        "--policy",
        help="Policy to replay (repeatable): tollguard, reference. Default: both. "
        "The no-control baseline 'none' is always included.",
    ),
    replay: list[str] | None = typer.Option(
        None,
        "--replay",
        help="NAME=FILE.jsonl: score recorded replay outputs under NAME (repeatable).",
    ),
    save_replay: bool = typer.Option(
        False, "--save-replay", help="Also write each policy's outputs to replay-<policy>.jsonl."
    ),
) -> None:
    """Run the backtest (see ``docs/backtest.md``)."""
    from tollguard.app.backtest.report import comparison_rows, policy_color
    from tollguard.app.backtest.runner import (
        DEFAULT_POLICIES,
        EngineMissingError,
        run_backtest,
    )
    from tollguard.app.backtest.scoring import Output
    from tollguard.app.backtest.truth import load_truth

    console = Console()
    recorded = _parse_recorded(replay or [])
    policies = list(policy) if policy else ([] if recorded else list(DEFAULT_POLICIES))
    with console.status("Loading data and labels…"):
        truth = load_truth(data)
    console.print(
        f"[bold]{truth.name}[/bold]: {len(truth.calls):,} calls, "
        f"{len(truth.fraud_calls):,} fraud calls, {len(truth.incidents)} incidents"
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("calls"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        def wrap(name: str, outputs: Iterable[Output]) -> Iterator[Output]:
            task = progress.add_task(name, total=len(truth.calls), start=False)
            progress.start_task(task)
            for record in outputs:
                if record.get("kind") == "call":
                    progress.advance(task)
                yield record
            progress.update(task, completed=len(truth.calls))

        try:
            result, files = run_backtest(
                data,
                out,
                policies,
                config=config,
                recorded=recorded,
                truth=truth,
                wrap=wrap,
                save_replays=save_replay,
            )
        except EngineMissingError as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from error

    table = Table(title="Backtest: policies compared", title_justify="left")
    table.add_column("Metric")
    for index, name in enumerate(result.policies):
        table.add_column(name, justify="right", style=policy_color(name, index))
    for label, values in comparison_rows(result):
        table.add_row(label, *(values[name] for name in result.policies))
    console.print(table)
    console.print(f"Summary: {files.summary}")
    console.print(f"Report:  {files.report}")
