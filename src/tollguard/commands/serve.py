"""``tollguard serve``: the live service (HTTP API for switches, analysts and admins)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from tollguard.cli import app

_HELP = (
    "Run the live service: per-call authorization for the switch "
    "([bold]POST /v1/authorize[/bold]), "
    "call and SIP events, CDR ingest, controls, cases, alerts, the audit log, Prometheus metrics "
    "([bold]/metrics[/bold]) and the OpenAPI spec ([bold]/docs[/bold]). The same engine as "
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
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Run the live service."""
    import uvicorn

    from tollguard.app.service.api import create_app
    from tollguard.app.service.runtime import ServiceRuntime, ServiceSettings
    from tollguard.app.service.switch import SwitchControl
    from tollguard.commands.ingest import resolve_db_url
    from tollguard.domain.config import ConfigError, EngineConfig

    err = Console(stderr=True)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = EngineConfig.load(config) if config is not None else EngineConfig()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    switch: SwitchControl | None = None
    if kamailio_rpc:
        from tollguard.adapters.switch.kamailio import KamailioRpc

        switch = KamailioRpc(kamailio_rpc)
    settings = ServiceSettings(db_url=resolve_db_url(db), config=cfg, data_dir=data_dir)
    runtime = ServiceRuntime(settings, switch=switch)
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
    )
