"""``tollguard spark``: the same detectors on Apache Spark (the ``spark`` extra, Java 17).

``run`` streams watched folders of CDR and SIP-event CSV files (Kafka in production:
``docs/scale-out.md``) into the service's store and a folder of JSON lines; ``to-parquet``
converts CSV history to Parquet; ``backtest`` runs every customer's history through the same
per-customer function as one batch job and can save the rebuilt population baseline.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tollguard.cli import app

spark_app = typer.Typer(
    help="Run tollguard's detectors on Apache Spark (pip install 'tollguard\\[spark]'; Java 17).",
    no_args_is_help=True,
)
app.add_typer(spark_app, name="spark")

_err = Console(stderr=True)


def _need_spark() -> None:
    if shutil.which("java") is None:
        _err.print("[red]error:[/red] Spark needs Java 17 (`java` is not on PATH)")
        raise typer.Exit(2)
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        _err.print("[red]error:[/red] PySpark is missing: pip install 'tollguard\\[spark]'")
        raise typer.Exit(2) from exc


def _setup(subscribers: Path, config: Path | None) -> Any:
    from tollguard.adapters.readers import InputFileError, read_subscribers
    from tollguard.app.replay import _split
    from tollguard.app.spark.customer import make_setup
    from tollguard.domain.config import ConfigError, EngineConfig

    try:
        cfg = EngineConfig.load(config) if config is not None else EngineConfig()
        subs = _split(read_subscribers(subscribers), [])
    except (ConfigError, InputFileError, ValueError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return make_setup(subs, cfg)


@spark_app.command("run")
def run_command(
    subscribers: Path = typer.Option(..., "--subscribers", help="Subscribers CSV."),
    cdr_dir: Path = typer.Option(
        Path("in/cdrs"), "--cdr-dir", help="Watched folder of CDR CSV files."
    ),
    sip_dir: Path = typer.Option(
        Path("in/sip"), "--sip-dir", help="Watched folder of SIP-event CSV files."
    ),
    kafka: str | None = typer.Option(
        None,
        "--kafka",
        help="BOOTSTRAP,CDR_TOPIC,SIP_TOPIC: read Kafka topics (CSV lines) instead of folders.",
    ),
    work: Path = typer.Option(..., "--work", help="Checkpoint and carrier context folder."),
    out: Path = typer.Option(..., "--out", help="Folder of JSON-lines outputs (one per batch)."),
    db: str | None = typer.Option(
        None, "--db", help="The service's store (URL or SQLite file): actions become controls."
    ),
    config: Path | None = typer.Option(None, "--config", help="Engine settings (TOML or JSON)."),
    master: str = typer.Option("local[*]", "--master", help="Spark master URL."),
    partitions: int = typer.Option(8, "--partitions", min=1, help="Shuffle partitions."),
    watermark: str = typer.Option(
        "2 minutes", "--watermark", help="How late an event may arrive (Spark interval)."
    ),
    trigger: float = typer.Option(10.0, "--trigger", min=0.1, help="Micro-batch interval (s)."),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Population baseline saved by `tollguard spark backtest`."
    ),
    once: bool = typer.Option(
        False, "--once", help="Process the files present now, then stop (a catch-up run)."
    ),
) -> None:
    """Stream CDRs and SIP events through the per-customer engines and the carrier stage."""
    _need_spark()
    from tollguard.app.spark import job
    from tollguard.commands.ingest import resolve_db_url

    setup = _setup(subscribers, config)
    topics: tuple[str, str, str] | None = None
    if kafka is not None:
        parts = kafka.split(",")
        if len(parts) != 3:
            _err.print("[red]error:[/red] --kafka takes BOOTSTRAP,CDR_TOPIC,SIP_TOPIC")
            raise typer.Exit(2)
        topics = (parts[0], parts[1], parts[2])
    spark = job.session(master, partitions)
    running = job.start_stream(
        spark,
        setup,
        cdr_dir=cdr_dir,
        sip_dir=sip_dir,
        work_dir=work,
        out_dir=out,
        db_url=resolve_db_url(db) if db else None,
        watermark_delay=watermark,
        trigger_seconds=None if once else trigger,
        baseline=baseline,
        kafka=topics,
    )
    try:
        if once:
            running.process_available()
        else:
            _err.print(f"streaming from {cdr_dir} and {sip_dir}; Ctrl-C stops")
            running.query.awaitTermination()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    _err.print(f"{running.batches} micro-batches, {running.rows:,} rows to the carrier stage")


@spark_app.command("to-parquet")
def to_parquet_command(
    cdrs: Path = typer.Option(..., "--cdrs", help="CDR CSV file or folder (tollguard contract)."),
    sip_events: Path | None = typer.Option(None, "--sip-events", help="SIP events CSV."),
    out: Path = typer.Option(..., "--out", help="Parquet folder (cdrs/ and sip_events/)."),
    master: str = typer.Option("local[*]", "--master", help="Spark master URL."),
) -> None:
    """Convert CSV history to Parquet (columns as in the CSV contract)."""
    _need_spark()
    from tollguard.app.spark import job

    spark = job.session(master)
    reader = spark.read.option("header", "true")
    reader.schema(job.CDR_COLUMNS).csv(str(cdrs)).write.mode("overwrite").parquet(str(out / "cdrs"))
    if sip_events is not None:
        reader.schema(job.SIP_COLUMNS).csv(str(sip_events)).write.mode("overwrite").parquet(
            str(out / "sip_events")
        )
    _err.print(f"Parquet written to {out}")


@spark_app.command("backtest")
def backtest_command(
    subscribers: Path = typer.Option(..., "--subscribers", help="Subscribers CSV."),
    parquet: Path = typer.Option(
        ..., "--parquet", help="Folder from `tollguard spark to-parquet`."
    ),
    out: Path = typer.Option(..., "--out", help="Output JSON lines (actions, alerts, cuts)."),
    work: Path = typer.Option(Path("spark-work"), "--work", help="Scratch folder."),
    config: Path | None = typer.Option(None, "--config", help="Engine settings (TOML or JSON)."),
    master: str = typer.Option("local[*]", "--master", help="Spark master URL."),
    partitions: int = typer.Option(8, "--partitions", min=1, help="Shuffle partitions."),
    save_baseline: Path | None = typer.Option(
        None, "--save-baseline", help="Save the rebuilt population baseline here (for `run`)."
    ),
) -> None:
    """Every customer's history through the per-customer engine as one batch job.

    Each customer is judged alone against the baseline in the work folder's context (cross-
    customer detection needs `run`); months of history take one pass over the Parquet files.
    """
    _need_spark()
    from tollguard.app.replay import OutputFormatter
    from tollguard.app.spark import job
    from tollguard.app.spark.customer import OUT

    setup = _setup(subscribers, config)
    spark = job.session(master, partitions)
    cdrs = spark.read.parquet(str(parquet / "cdrs"))
    sip_path = parquet / "sip_events"
    sips = (
        spark.read.parquet(str(sip_path))
        if sip_path.exists()
        else spark.createDataFrame([], job.SIP_COLUMNS)
    )
    began = time.perf_counter()
    rows, seconds = job.run_batch(spark, setup, cdrs, sips, work)
    outputs = sorted((r for r in rows if r[0] == OUT), key=lambda r: r[1])
    fmt = OutputFormatter(setup.config.timezone)
    kinds: Counter[str] = Counter()
    with out.open("w", encoding="utf-8") as fh:
        for _, _, o in outputs:
            line = fmt.line(o)
            d = json.loads(line)
            kinds[f"{d['kind']} {d.get('action') or d.get('detector') or ''}".strip()] += 1
            fh.write(line + "\n")
    if save_baseline is not None:
        calls = job.save_baseline(rows, save_baseline)
        _err.print(f"population baseline of {calls:,} calls saved to {save_baseline}")
    _err.print(
        f"{len(outputs):,} outputs to {out} in {time.perf_counter() - began:.1f} s "
        f"(Spark job {seconds:.1f} s)"
    )
    for kind, n in sorted(kinds.items()):
        _err.print(f"  {kind}: {n:,}")
