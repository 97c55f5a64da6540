"""The ``tollguard`` command line.

Each sub-command lives in its own module under :mod:`tollguard.commands` and registers itself on
:data:`app` here, so this module stays a short table of contents.
"""

from __future__ import annotations

import typer

from tollguard import __version__

app = typer.Typer(
    name="tollguard",
    help=(
        "Protect a carrier and its customers from international toll fraud (IRSF).\n\n"
        "Reads subscribers, CDRs and SIP security events; classifies and rates numbers; detects "
        "fraud at call set-up and mid-call; and acts (deny, cut, suspend, restrict, block) with "
        "every action audited."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tollguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """tollguard command line."""


def _register() -> None:
    """Import the command modules; each adds its commands to :data:`app`."""
    import importlib
    import pkgutil

    import tollguard.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"tollguard.commands.{info.name}")


def main() -> None:
    """Entry point of the ``tollguard`` console script."""
    _register()
    app()
