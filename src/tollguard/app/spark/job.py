"""The Spark side of ``tollguard spark``: sources, the keyed state, the driver's sink, batch runs.

Needs the ``spark`` extra (PySpark 4, pandas, pyarrow) and Java 17. Everything tollguard decides
happens in :mod:`~tollguard.app.spark.customer` (per key) and :mod:`~tollguard.app.spark.carrier`
(the driver); this module only moves rows.

Input rows, one schema for every key (``key`` routes them):

=========  ==========================================================================
``c:ID``   a customer: its CDRs (``kind=cdr``) and SIP registrations/successes (``sip``)
``i:IP``   a source address: its SIP failures and successes (``sip``), counted in the flood
           detector's window
``t:``     a heartbeat (``kind=tick``, a SIP row whose event is ``tick``): moves event time
``w:D:S``  an international attempt counted in the cross-customer window ``D`` under subject
           ``S`` (a country, a public address) by customer ``member``: input of the windowed
           aggregation, not of the keyed state
=========  ==========================================================================

The streaming query has two stateful operators over one event-time watermark: the keyed state
(``applyInPandasWithState``) and an event-time windowed aggregation
(``groupBy(window(ts, L), key, member)``: each customer's first and last attempt per window and
subject, state dropped once the watermark passes the window's end). The query runs in update
mode, so the windows a micro-batch touched reach the driver in that same micro-batch.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tollguard.app.spark.carrier import Carrier, JsonLinesSink, StoreSink
from tollguard.app.spark.customer import (
    WIN,
    Context,
    CustomerRunner,
    Setup,
    group_rows,
    read_context,
    sip_event,
    write_setup,
)
from tollguard.domain.config import EngineConfig

CDR_COLUMNS = (
    "call_id string, subscriber_id string, caller string, callee string, start string, "
    "answer string, end string, disposition string, source_ip string"
)
SIP_COLUMNS = "time string, source_ip string, username string, event string, user_agent string"
ROW_SCHEMA = (
    "key string, kind string, time double, ts timestamp, call_id string, callee string, "
    "answer double, end double, source_ip string, username string, event string, "
    "user_agent string, member string"
)
OUT_SCHEMA = "key string, kind string, time double, payload binary"
STATE_SCHEMA = "blob binary"

# Per Python worker: the runner (one engine shell) and the context last read.
_RUNNERS: dict[str, tuple[CustomerRunner, list[Any]]] = {}


def _runner(context_dir: str) -> CustomerRunner:
    """This worker's runner, with the newest published context in use."""
    found = _RUNNERS.get(context_dir)
    directory = Path(context_dir)
    if found is None:
        setup = pickle.loads((directory / "setup.pkl").read_bytes())
        assert isinstance(setup, Setup)
        found = _RUNNERS[context_dir] = (CustomerRunner(setup), ["", Context()])
    runner, seen = found
    try:
        current = (directory / "CURRENT").read_text().strip()
    except FileNotFoundError:
        current = ""
    if current != seen[0]:
        seen[0], seen[1] = current, read_context(directory)
    runner.use_context(seen[1])
    return runner


def session(master: str = "local[1]", partitions: int = 1, **conf: str) -> Any:
    """A Spark session for tollguard: UI off, few shuffle partitions (raise them on a cluster)."""
    import os
    import sys

    from pyspark.sql import SparkSession

    # the workers run this interpreter (with tollguard importable), not whatever python3 is
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("tollguard")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _route_sip(context_dir: str) -> Any:
    """mapInPandas: SIP rows to the customer (registrations, successes) and address keys
    (failures, successes); ``tick`` rows to the heartbeat key."""

    def route(frames: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        usernames = _runner(context_dir).setup.usernames
        for pdf in frames:
            out: list[dict[str, Any]] = []
            for r in pdf.to_dict("records"):
                base = {
                    "kind": "sip",
                    "time": r["time"],
                    "ts": r["ts"],
                    "call_id": None,
                    "callee": None,
                    "answer": None,
                    "end": None,
                    "source_ip": r["source_ip"],
                    "username": r["username"],
                    "event": r["event"],
                    "user_agent": r["user_agent"] or "",
                    "member": None,
                }
                event = r["event"]
                if event == "tick":
                    out.append({**base, "key": "t:", "kind": "tick"})
                    continue
                sid = usernames.get(r["username"] or "")
                if sid is not None and event in ("register", "auth_success"):
                    out.append({**base, "key": "c:" + sid})
                if event in ("auth_failure", "auth_success"):
                    out.append({**base, "key": "i:" + str(r["source_ip"])})
            columns = [c.split()[0] for c in ROW_SCHEMA.split(", ")]
            yield pd.DataFrame(out, columns=columns)

    return route


def _stateful(context_dir: str) -> Any:
    """The applyInPandasWithState function (see :class:`CustomerRunner`)."""

    def fn(key: tuple[Any, ...], frames: Iterator[Any], state: Any) -> Iterator[Any]:
        import pandas as pd

        k = str(key[0])
        runner = _runner(context_dir)
        wm_ms = int(state.getCurrentWatermarkMs())
        watermark = wm_ms / 1000.0
        records: list[dict[str, Any]] = []
        if not state.hasTimedOut:
            for pdf in frames:
                records.extend(pdf.to_dict("records"))
        prev = state.get[0] if state.exists else None
        rows: list[tuple[str, float, Any]] = []
        if k.startswith("c:"):
            calls, sips = group_rows(iter(records))
            customer, rows, wake = runner.run_customer(k[2:], prev, calls, sips, watermark)
            state.update((customer,))
            if wake is not None:
                state.setTimeoutTimestamp(max(int(wake * 1000), wm_ms + 1))
        elif k.startswith("i:"):
            events = sorted(
                (sip_event(r) for r in records),
                key=lambda e: (e.time, e.username, e.event.value, e.user_agent),
            )
            blob, rows, wake = runner.run_address(k[2:], prev, events, watermark)
            if blob is None:
                if state.exists:
                    state.remove()
            else:
                state.update((blob,))
                if wake is not None:
                    state.setTimeoutTimestamp(max(int(wake * 1000), wm_ms + 1))
        elif records:
            rows = [("tick", max(float(r["time"]) for r in records), None)]
        yield pd.DataFrame(
            {
                "key": [k] * len(rows),
                "kind": [r[0] for r in rows],
                "time": [r[1] for r in rows],
                "payload": [pickle.dumps(r[2], protocol=pickle.HIGHEST_PROTOCOL) for r in rows],
            }
        )

    return fn


def _window_rows(context_dir: str) -> Any:
    """mapInPandas: a CDR row (customer key) to one row per cross-customer window its attempt
    counts in (key ``w:<detector>:<subject>``, ``member``: the customer)."""

    def route(frames: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        runner = _runner(context_dir)
        columns = [c.split()[0] for c in ROW_SCHEMA.split(", ")]
        for pdf in frames:
            out: list[dict[str, Any]] = []
            for r in pdf.to_dict("records"):
                sid = str(r["key"])[2:]
                ip = r["source_ip"] if isinstance(r["source_ip"], str) else None
                for detector, subject in runner.window_keys(
                    sid, str(r["callee"]), ip, float(r["time"])
                ):
                    out.append(
                        {c: None for c in columns}
                        | {
                            "key": f"w:{detector}:{subject}",
                            "kind": WIN,
                            "time": r["time"],
                            "ts": r["ts"],
                            "member": sid,
                        }
                    )
            yield pd.DataFrame(out, columns=columns)

    return route


def events_frame(spark: Any, cdrs: Any, sips: Any, context_dir: str, windows: bool = False) -> Any:
    """CDR and SIP DataFrames (CSV columns of the tollguard contract) as keyed input rows (with
    ``windows``, also the windowed aggregation's input rows)."""
    from pyspark.sql import functions as F

    c = (
        cdrs.withColumn("ts", F.to_timestamp("start"))
        .where(F.col("ts").isNotNull() & F.col("subscriber_id").isNotNull())
        .select(
            F.concat(F.lit("c:"), F.col("subscriber_id")).alias("key"),
            F.lit("cdr").alias("kind"),
            F.col("ts").cast("double").alias("time"),
            F.col("ts"),
            F.col("call_id"),
            F.col("callee"),
            F.to_timestamp(F.nullif(F.col("answer"), F.lit(""))).cast("double").alias("answer"),
            F.to_timestamp("end").cast("double").alias("end"),
            F.col("source_ip"),
            F.lit(None).cast("string").alias("username"),
            F.lit(None).cast("string").alias("event"),
            F.lit(None).cast("string").alias("user_agent"),
            F.lit(None).cast("string").alias("member"),
        )
        .where(F.col("end").isNotNull())
    )
    s = (
        sips.withColumn("ts", F.to_timestamp("time"))
        .where(F.col("ts").isNotNull())
        .select(
            F.col("ts").cast("double").alias("time"),
            F.col("ts"),
            "source_ip",
            "username",
            "event",
            "user_agent",
        )
        .mapInPandas(_route_sip(context_dir), ROW_SCHEMA)
    )
    rows = c.unionByName(s)
    if windows:
        rows = rows.unionByName(c.mapInPandas(_window_rows(context_dir), ROW_SCHEMA))
    return rows


def window_length(config: EngineConfig) -> float:
    """Seconds of the aggregation's windows: the shortest of the windows it counts for (a
    detector's trailing window then always starts inside or before the window holding its
    end, which keeps the driver's counts exact)."""
    return min(config.country_burst.window_s, config.source_ip.shared_window_s)


def window_counts(rows: Any, config: EngineConfig) -> Any:
    """The event-time windowed aggregation over watermarked input rows: per window, subject and
    customer, its first and last attempt, as output rows (``kind=win``, ``payload``: the
    customer), one per distinct time."""
    from pyspark.sql import functions as F

    length = f"{round(window_length(config) * 1000)} milliseconds"
    counted = (
        rows.where(F.col("key").startswith("w:"))
        .groupBy(F.window("ts", length), "key", "member")
        .agg(F.min("time").alias("first"), F.max("time").alias("last"))
    )
    return counted.select(
        "key",
        F.lit(WIN).alias("kind"),
        F.explode(F.array_distinct(F.array("first", "last"))).alias("time"),
        F.col("member").cast("binary").alias("payload"),
    )


@dataclass(slots=True)
class StreamJob:
    """A running ``tollguard spark run`` query and its driver-side state."""

    query: Any
    carrier: Carrier
    jsonl: JsonLinesSink
    store: StoreSink | None
    batches: int = 0
    rows: int = 0

    def process_available(self) -> None:
        """Process every input file present now (tests and ``--once``)."""
        self.query.processAllAvailable()

    def stop(self) -> None:
        """Stop the query and release the store."""
        self.query.stop()
        if self.store is not None:
            self.store.close()


def start_stream(
    spark: Any,
    setup: Setup,
    *,
    cdr_dir: Path,
    sip_dir: Path,
    work_dir: Path,
    out_dir: Path,
    db_url: str | None = None,
    watermark_delay: str = "0 seconds",
    trigger_seconds: float | None = None,
    baseline: Path | None = None,
    kafka: tuple[str, str, str] | None = None,
) -> StreamJob:
    """Start the streaming query over a watched folder of CDR files and one of SIP files
    (``baseline``: a population baseline saved by :func:`save_baseline`; ``kafka``: read
    ``(bootstrap servers, CDR topic, SIP-event topic)`` instead of the folders)."""
    from pyspark.sql.streaming.state import GroupStateTimeout

    context_dir = work_dir / "context"
    write_setup(context_dir, setup)
    population = pickle.loads(baseline.read_bytes()) if baseline is not None else None
    carrier = Carrier(setup, context_dir, population)
    cdr_dir.mkdir(parents=True, exist_ok=True)
    sip_dir.mkdir(parents=True, exist_ok=True)
    if kafka is not None:  # (bootstrap servers, CDR topic, SIP-event topic)
        cdrs, sips = kafka_frames(spark, *kafka)
    else:
        cdrs = spark.readStream.schema(CDR_COLUMNS).option("header", "true").csv(str(cdr_dir))
        sips = spark.readStream.schema(SIP_COLUMNS).option("header", "true").csv(str(sip_dir))
    from pyspark.sql import functions as F

    rows = events_frame(spark, cdrs, sips, str(context_dir), windows=True).withWatermark(
        "ts", watermark_delay
    )
    keyed = (
        rows.where(~F.col("key").startswith("w:"))
        .groupBy("key")
        .applyInPandasWithState(
            _stateful(str(context_dir)),
            OUT_SCHEMA,
            STATE_SCHEMA,
            "append",
            GroupStateTimeout.EventTimeTimeout,
        )
    )
    both = keyed.unionByName(window_counts(rows, setup.config))
    jsonl = JsonLinesSink(out_dir, setup.config.timezone)
    store = StoreSink(db_url) if db_url else None
    job = StreamJob(None, carrier, jsonl, store)

    def sink(df: Any, batch_id: int) -> None:
        collected: list[tuple[str, float, Any]] = []
        for r in df.collect():
            if r["kind"] == WIN:  # key w:<detector>:<subject>, payload: the customer
                _, detector, subject = str(r["key"]).split(":", 2)
                member = bytes(r["payload"]).decode()
                collected.append((WIN, float(r["time"]), (detector, subject, member)))
            else:
                collected.append((r["kind"], float(r["time"]), pickle.loads(r["payload"])))
        result = carrier.process(collected)
        jsonl.write(batch_id, result.outputs)
        if store is not None:
            store.write(result.outputs)
        job.batches += 1
        job.rows += len(collected)

    writer = (
        both.writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(work_dir / "checkpoint"))
        .outputMode("update")  # the windows a micro-batch touched, in that micro-batch
    )
    if trigger_seconds is not None:
        writer = writer.trigger(processingTime=f"{trigger_seconds} seconds")
    job.query = writer.start()
    return job


def run_batch(
    spark: Any, setup: Setup, cdrs: Any, sips: Any, work_dir: Path
) -> tuple[list[Any], float]:
    """Every customer's whole history through the same per-key function, as one batch
    (``groupBy().applyInPandas``): a backtest or baseline rebuild over Parquet history.

    The carrier context is the one in ``work_dir/context`` (for instance a baseline published by
    an earlier run), fixed for the whole run; cross-customer detection is not run. Returns the
    output rows ``(kind, time, payload)`` and the seconds the Spark job took.
    """
    context_dir = work_dir / "context"
    write_setup(context_dir, setup)
    if not (context_dir / "CURRENT").exists():
        from tollguard.app.spark.customer import write_context

        write_context(context_dir, Context(version=1))
    rows = events_frame(spark, cdrs, sips, str(context_dir))
    directory = str(context_dir)
    from pyspark.sql import functions as F

    from tollguard.app.replay import DRAIN_SECONDS

    last = rows.agg(F.max("end").alias("end"), F.max("time").alias("time")).collect()[0]
    ends = [v for v in (last["end"], last["time"]) if v is not None]
    until = (max(ends) if ends else 0.0) + DRAIN_SECONDS

    def whole(pdf: Any) -> Any:
        import pandas as pd

        key = str(pdf["key"].iloc[0])
        runner = _runner(directory)
        out: list[tuple[str, float, Any]] = []
        if key.startswith("c:"):
            calls, sips_ = group_rows(iter(pdf.to_dict("records")))
            _, out, _ = runner.run_customer(key[2:], None, calls, sips_, until)
        return pd.DataFrame(
            {
                "key": [key] * len(out),
                "kind": [r[0] for r in out],
                "time": [r[1] for r in out],
                "payload": [pickle.dumps(r[2], protocol=pickle.HIGHEST_PROTOCOL) for r in out],
            }
        )

    began = time.perf_counter()
    result = rows.where("key like 'c:%'").groupBy("key").applyInPandas(whole, OUT_SCHEMA)
    collected = [
        (r["kind"], float(r["time"]), pickle.loads(r["payload"])) for r in result.collect()
    ]
    return collected, time.perf_counter() - began


def feed_slices(
    job: StreamJob,
    cdrs: Path,
    sip_events: Path | None,
    cdr_dir: Path,
    sip_dir: Path,
    step: float,
    drain: float | None = None,
) -> int:
    """Replay files through a running job: one time slice of ``step`` seconds per micro-batch
    (CDRs by start, SIP events by time), then heartbeats that move event time ``drain`` seconds
    past the last event (the replay's drain) so that every key's timers fire. Returns the
    number of slices."""
    from tollguard.app.replay import DRAIN_SECONDS
    from tollguard.app.spark.files import heartbeat, read_timed, slices, write_csv

    cdr_header, cdr_rows = read_timed(cdrs, "start")
    sip_header, sip_rows = (
        read_timed(sip_events, "time")
        if sip_events is not None
        else (["time", "source_ip", "username", "event", "user_agent"], [])
    )
    firsts = [rows[0][0] for rows in (cdr_rows, sip_rows) if rows]
    if not firsts:
        return 0
    start = min(firsts) - min(firsts) % step
    end_col = cdr_header.index("end")
    last = max([t for t, _ in sip_rows] + [t for t, _ in cdr_rows])
    for _, row in cdr_rows:
        try:
            last = max(last, datetime.fromisoformat(row[end_col]).timestamp())
        except (ValueError, IndexError):
            continue
    sip_slices = dict(slices(sip_rows, start, step))
    n = 0
    for lo, chunk in slices(cdr_rows, start, step):
        write_csv(cdr_dir, f"cdrs-{n:06d}.csv", cdr_header, chunk)
        write_csv(sip_dir, f"sip-{n:06d}.csv", sip_header, sip_slices.pop(lo, []))
        job.process_available()
        n += 1
    for _, chunk in sorted(sip_slices.items()):
        write_csv(sip_dir, f"sip-{n:06d}.csv", sip_header, chunk)
        job.process_available()
        n += 1
    until = last + (DRAIN_SECONDS if drain is None else drain)
    heartbeat(sip_dir, f"tick-{n:06d}.csv", until)
    job.process_available()
    heartbeat(sip_dir, f"tick-{n + 1:06d}.csv", until + 1)  # a batch in which timers fire
    job.process_available()
    return n


def save_baseline(rows: list[tuple[str, float, Any]], path: Path) -> int:
    """Merge the customers' additions to the population baseline found in a batch run's rows
    and save it (the carrier baseline a streaming job can start from); returns the calls in it.
    """
    from tollguard.app.spark.customer import POP, merge_population
    from tollguard.domain.detectors.population import PopulationBaseline

    population = PopulationBaseline()
    for kind, _, payload in rows:
        if kind == POP:
            merge_population(population, payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(population, protocol=pickle.HIGHEST_PROTOCOL))
    return population.calls


def kafka_frames(
    spark: Any,
    bootstrap: str,
    cdr_topic: str,
    sip_topic: str,
    options: dict[str, str] | None = None,
) -> tuple[Any, Any]:
    """CDR and SIP-event streams from Kafka topics whose values are CSV lines of the tollguard
    contract (no header). Needs the carrier's Kafka connector on the classpath
    (``spark-sql-kafka-0-10_2.13`` of the cluster's Spark version)."""
    from pyspark.sql import functions as F

    def topic(name: str, columns: str) -> Any:
        reader = (
            spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", bootstrap)
            .option("subscribe", name)
            .option("startingOffsets", "latest")
        )
        for key, value in (options or {}).items():
            reader = reader.option(key, value)
        raw = reader.load().select(F.col("value").cast("string").alias("line"))
        parsed = raw.select(F.from_csv("line", columns).alias("r"))
        return parsed.select("r.*")

    return topic(cdr_topic, CDR_COLUMNS), topic(sip_topic, SIP_COLUMNS)
