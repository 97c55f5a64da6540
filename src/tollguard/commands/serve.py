"""``tollguard serve``: the live service (HTTP API for switches, analysts and admins)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from tollguard.cli import app
from tollguard.commands._smtp import SMTP_FROM, SMTP_PORT, SMTP_STARTTLS, SMTP_USER, smtp_mailer

_HELP = (
    "Run the live service: per-call authorization for the switch "
    "([bold]POST /v1/authorize[/bold]), "
    "call and SIP events, CDR ingest, controls, cases, alerts, the audit log, Prometheus metrics "
    "([bold]/metrics[/bold]) and the OpenAPI spec ([bold]/openapi.json[/bold]). The same engine as "
    "[bold]tollguard replay[/bold], driven by the clock; its state is saved every few minutes "
    "and at shutdown and restored at start. Create tokens first with "
    "[bold]tollguard token create[/bold]."
)


@app.command("serve", help=_HELP)
def serve_command(
    db: str | None = typer.Option(
        None,
        "--db",
        help="Database URL or SQLite file (default $TOLLGUARD_DB or ./tollguard.sqlite).",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    config: Path | None = typer.Option(None, "--config", help="Engine settings (TOML or JSON)."),
    data_dir: Path = typer.Option(
        Path("tollguard-data"), "--data-dir", help="Spooled uploads, quarantine and exports."
    ),
    kamailio_rpc: str | None = typer.Option(
        None,
        "--kamailio-rpc",
        help="Kamailio JSON-RPC URL (e.g. http://127.0.0.1:5071/RPC): cut calls, push hard lists.",
    ),
    smtp_host: str | None = typer.Option(
        None, "--smtp-host", help="SMTP server for customer notices (post-notification)."
    ),
    smtp_port: int = SMTP_PORT,
    smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS,
    smtp_user: str | None = SMTP_USER,
    webhook: list[str] = typer.Option(
        [],
        "--webhook",
        help="URL to POST signed notices to (repeatable); the signing secret is read from "
        "$TOLLGUARD_WEBHOOK_SECRET.",
    ),
    carrier_name: str = typer.Option(
        "tollguard", "--carrier-name", help="This carrier's name in the intelligence it shares."
    ),
    intel_key_file: Path | None = typer.Option(
        None,
        "--intel-key-file",
        help="Key shared with other carriers (at least 16 bytes): sign exports, and require a "
        "valid signature on imports.",
    ),
    intel_auto_accept_from: list[str] = typer.Option(
        [],
        "--intel-auto-accept-from",
        help="Accept this carrier's shared intelligence without review (repeatable).",
    ),
    snapshot_interval: float = typer.Option(
        300.0,
        "--snapshot-interval",
        min=1.0,
        help="Seconds between saves of the engine's state (the journal covers the time between).",
    ),
    instance: str = typer.Option(
        "",
        "--instance",
        help="This process's name when several share one database (PostgreSQL), each with its "
        "own --data-dir: its saved state and journal are kept under it; control changes made by "
        "any of them are enforced by all within a second.",
    ),
    limit_concurrency: int = typer.Option(
        1024,
        "--limit-concurrency",
        min=1,
        help="Connections and requests in progress beyond which new requests get 503 at once "
        "(a switch then applies its fail-open/closed policy without waiting for its timeout). "
        "Kept-alive connections are served in turn below it, which answers more than shedding "
        "early does (docs/reliability.md).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    insecure_cookies: bool = typer.Option(
        False,
        "--insecure-cookies",
        help="Console and portal cookies without the Secure flag, for tests over plain HTTP on "
        "loopback only (behind TLS, leave this off).",
    ),
) -> None:
    """Run the live service."""
    import os

    import uvicorn

    from tollguard.adapters.exports import BlockListExporter
    from tollguard.adapters.intel._common import check_key
    from tollguard.adapters.intel.service import ImportPolicy
    from tollguard.adapters.notify import Channel, WebhookSender
    from tollguard.adapters.store import Store
    from tollguard.app.service.api import create_app
    from tollguard.app.service.outbox import Outbox
    from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
    from tollguard.app.service.switch import SwitchControl
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.config import ConfigError, EngineConfig
    from tollguard.domain.intel import IntelError, check_source

    err = Console(stderr=True)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        cfg = EngineConfig.load(config) if config is not None else EngineConfig()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    switch: SwitchControl | None = None
    if kamailio_rpc:
        from tollguard.adapters.switch.kamailio import KamailioRpc

        switch = KamailioRpc(kamailio_rpc)
    mailer = smtp_mailer(smtp_host, smtp_port, smtp_from, smtp_starttls, smtp_user)
    hooks: list[Channel] = []
    if webhook:
        secret = os.environ.get("TOLLGUARD_WEBHOOK_SECRET", "")
        if not secret:
            err.print("[red]error:[/red] --webhook needs $TOLLGUARD_WEBHOOK_SECRET to sign with")
            raise typer.Exit(2)
        hooks = [WebhookSender(url, secret) for url in webhook]
    intel_key: bytes | None = None
    try:
        for name in (carrier_name, *intel_auto_accept_from):
            check_source(name)
        if intel_key_file is not None:
            intel_key = check_key(intel_key_file.read_bytes())
    except (OSError, IntelError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    settings = ServiceSettings(
        db_url=resolve_db_url(db),
        config=cfg,
        data_dir=data_dir,
        snapshot_s=snapshot_interval,
        instance=instance,
        carrier_name=carrier_name,
        intel_key=intel_key,
        intel_policy=ImportPolicy(auto_accept_from=frozenset(intel_auto_accept_from)),
        cookie_secure=not insecure_cookies,
    )
    store = Store.open(settings.db_url)
    runtime = ServiceRuntime(
        settings,
        store=store,
        switch=switch,
        outbox=Outbox(store, mailer=mailer, webhooks=hooks),
        exporter=BlockListExporter(data_dir / "exports"),
    )
    if len(runtime.tokens) == 0:
        err.print(
            "[yellow]warning:[/yellow] no API tokens yet: every request will be refused. "
            "Create one with `tollguard token create --role admin --name NAME`."
        )
    uvicorn.run(
        create_app(runtime),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        limit_concurrency=limit_concurrency,
        backlog=4096,
    )
