"""``tollguard replay``: feed files through the engine as if live and write its outputs."""

from __future__ import annotations

import gc
import sys
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tollguard.adapters.csvsafe import SafeCsvWriter
from tollguard.cli import app

_HELP = (
    "Replay subscribers, CDRs and SIP security events through the detection engine as if live. "
    "Each call's start asks for authorization; a denied call never happens; calls in progress "
    "can be cut. Writes one JSON object per line (calls, terminations, actions, alerts); the same "
    "input always gives byte-identical output. Bad input rows are quarantined beside the output "
    "([bold]OUT.quarantine.csv[/bold]) and never stop the replay."
)


@app.command("replay", help=_HELP)
def replay_command(
    subscribers: Path = typer.Option(..., "--subscribers", help="Subscribers CSV."),
    cdrs: Path = typer.Option(..., "--cdrs", help="CDR file (tollguard CSV or a switch format)."),
    sip_events: Path | None = typer.Option(None, "--sip-events", help="SIP security events CSV."),
    config: Path | None = typer.Option(None, "--config", help="Engine settings (TOML or JSON)."),
    out: Path = typer.Option(..., "--out", help="Output JSON lines file."),
    policy: str = typer.Option(
        "tollguard", "--policy", help="tollguard, or reference (the source document's process)."
    ),
    save_state: str | None = typer.Option(
        None,
        "--save-state",
        help="Save what the engine learnt (customers' baselines; not its actions, cases or "
        "calls) into this store as the starting state of `tollguard serve` (URL or SQLite file).",
    ),
) -> None:
    """Replay files through the engine."""
    from tollguard.adapters.readers import InputFileError
    from tollguard.app.replay import (
        REPLAY_IP_MEMO,
        OutputFormatter,
        ReplayCalls,
        StreamedReplay,
        StreamFailed,
        load_calls,
        run_outputs,
        write_output_batches,
        write_outputs,
    )
    from tollguard.domain.config import ConfigError, EngineConfig
    from tollguard.domain.engine import Engine
    from tollguard.domain.ipinfo import IpLocator

    err = Console(stderr=True)
    inputs: ReplayCalls | StreamedReplay
    try:
        cfg = EngineConfig.load(config) if config is not None else EngineConfig()
        if StreamedReplay.available(cdrs):  # CDRs read by a second process meanwhile
            inputs = StreamedReplay(subscribers, cdrs, sip_events, cfg)
        else:
            inputs = load_calls(subscribers, cdrs, sip_events)
        engine = Engine(
            inputs.subscribers, cfg, policy=policy, ip_locator=IpLocator(memo_size=REPLAY_IP_MEMO)
        )
    except (ConfigError, InputFileError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    kinds: Counter[str] = Counter()
    show = sys.stderr.isatty()
    # The engine allocates millions of small acyclic objects: collect young objects less often
    # (the cyclic collector's work otherwise grows with the engine's state).
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, *thresholds[1:])
    fmt = OutputFormatter(engine.config.timezone)
    try:
        with Progress(
            TextColumn("replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
        ) as bar:
            total = len(inputs.calls) if isinstance(inputs, ReplayCalls) else None
            task = bar.add_task("replay", total=total)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done)

            if isinstance(inputs, StreamedReplay):
                try:
                    n = write_output_batches(inputs.batches(engine, progress), out, fmt, kinds)
                except StreamFailed:  # start over, reading in this process (out is rewritten)
                    kinds.clear()
                    inputs = load_calls(subscribers, cdrs, sip_events)
                    engine = Engine(
                        inputs.subscribers,
                        cfg,
                        policy=policy,
                        ip_locator=IpLocator(memo_size=REPLAY_IP_MEMO),
                    )
                    bar.update(task, total=len(inputs.calls), completed=0)
                    fmt = OutputFormatter(engine.config.timezone)
                    n = write_outputs(run_outputs(engine, inputs, progress), out, fmt, kinds)
            else:
                n = write_outputs(run_outputs(engine, inputs, progress), out, fmt, kinds)
    finally:
        gc.set_threshold(*thresholds)
    if inputs.quarantined:
        qpath = out.with_name(out.name + ".quarantine.csv")
        with qpath.open("w", encoding="utf-8", newline="") as fh:
            w = SafeCsvWriter(fh)
            w.writerow(["file", "line", "field", "reason", "raw"])
            for q in inputs.quarantined:
                w.writerow([q.source, q.line, q.field or "", q.reason, q.raw])
        err.print(f"[yellow]{len(inputs.quarantined)} bad rows quarantined in {qpath}[/yellow]")
    if save_state is not None:
        from tollguard.adapters.store import Store
        from tollguard.app.service.runtime import save_learnt_state
        from tollguard.commands.ingest import resolve_db_url

        with Store.open(resolve_db_url(save_state)) as store:
            size = save_learnt_state(engine, store)
        err.print(f"learnt state ({size:,} bytes) saved for tollguard serve in {save_state}")
    table = Table(title=f"Replay ({policy}): {n:,} outputs written to {out}")
    table.add_column("output")
    table.add_column("count", justify="right")
    for key, count in sorted(kinds.items()):
        table.add_row(key, f"{count:,}")
    Console(stderr=True).print(table)
