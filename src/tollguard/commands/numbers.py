"""``tollguard numbers classify`` and ``tollguard rate``: look at numbers and what calls cost."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tollguard.cli import app
from tollguard.domain.numbering import NumberClassifier, NumberInfo, NumberingPlan
from tollguard.domain.rating import RateDeckError, Tariff

numbers_app = typer.Typer(
    name="numbers",
    help="Number analysis: E.164 normalisation, country and number type.",
    no_args_is_help=True,
)
app.add_typer(numbers_app, name="numbers")


def _plan(region: str) -> NumberingPlan:
    try:
        return NumberingPlan.for_region(region)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--plan") from exc


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--file"
        ) from exc


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in _read_lines(path) if line.strip()]


def _as_dict(info: NumberInfo) -> dict[str, object]:
    return {
        "raw": info.raw,
        "e164": info.e164,
        "calling_code": info.calling_code,
        "region": info.region,
        "number_type": info.number_type.value,
        "international": info.international,
        "error": info.error,
    }


@numbers_app.command("classify")
def classify(
    numbers: list[str] | None = typer.Argument(None, help="Numbers as dialled or recorded."),
    file: Path | None = typer.Option(None, "--file", "-f", help="A file with one number a line."),
    plan: str = typer.Option("JP", "--plan", help="Home numbering plan (region): JP, US, GB..."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Normalise numbers to E.164 and tell their country, calling code and type."""
    raws = list(numbers or [])
    if file is not None:
        raws += _lines(file)
    if not raws:
        raise typer.BadParameter("give numbers as arguments or --file", param_hint="NUMBERS")
    infos = NumberClassifier(_plan(plan)).classify_many(raws)
    if as_json:
        for info in infos:
            typer.echo(json.dumps(_as_dict(info), ensure_ascii=False))
        return
    table = Table(title=f"Numbers (plan {plan.upper()})")
    for column in ("input", "E.164", "code", "region", "type", "intl", "error"):
        table.add_column(
            column, justify="right" if column == "code" else "left", no_wrap=column != "error"
        )
    for info in infos:
        table.add_row(
            info.raw,
            info.e164 or "",
            str(info.calling_code or ""),
            info.region or "",
            info.number_type.value,
            "yes" if info.international else "no",
            info.error or "",
        )
    Console().print(table)


def _calls(file: Path) -> list[tuple[str, float, int]]:
    """(number, seconds, line) rows of a ``number,seconds`` CSV (header optional)."""
    rows: list[tuple[str, float, int]] = []
    problems: list[str] = []
    for line_no, row in enumerate(csv.reader(_read_lines(file)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            problems.append(f"{file}:{line_no}: expected number,seconds")
            continue
        number, seconds = row[0].strip(), row[1].strip()
        try:
            value = float(seconds)
        except ValueError:
            if line_no == 1:  # header
                continue
            problems.append(f"{file}:{line_no}: seconds: not a number: {seconds!r}")
            continue
        rows.append((number, value, line_no))
    if problems:
        raise typer.BadParameter("\n".join(problems), param_hint="--file")
    return rows


@app.command("rate")
def rate(
    number: str | None = typer.Argument(None, help="Number as dialled or E.164."),
    seconds: float | None = typer.Argument(None, help="Call duration in seconds."),
    file: Path | None = typer.Option(None, "--file", "-f", help="CSV of number,seconds rows."),
    deck: Path | None = typer.Option(
        None, "--deck", help="Carrier rate deck CSV (default: built in)."
    ),
    plan: str = typer.Option("JP", "--plan", help="Home numbering plan (region) of the numbers."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """What calls cost (JPY): longest-prefix rate, seconds rounded up to the billing increment."""
    calls: list[tuple[str, float, int]] = []
    if number is not None:
        if seconds is None:
            raise typer.BadParameter(
                "give the call's seconds after the number", param_hint="SECONDS"
            )
        calls.append((number, seconds, 0))
    if file is not None:
        calls += _calls(file)
    if not calls:
        raise typer.BadParameter("give NUMBER SECONDS or --file", param_hint="NUMBER")
    try:
        tariff = Tariff.from_csv(deck) if deck is not None else Tariff.default()
    except RateDeckError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {deck}: {exc.strerror}", param_hint="--deck"
        ) from exc
    infos = NumberClassifier(_plan(plan)).classify_many([c[0] for c in calls])
    e164s = [info.e164 or info.raw for info in infos]
    charges = tariff.charge_many(e164s, [c[1] for c in calls])
    if as_json:
        for info, (_, secs, _), e164, charge in zip(infos, calls, e164s, charges, strict=True):
            found = tariff.rate_for(e164)
            typer.echo(
                json.dumps(
                    {
                        "number": info.raw,
                        "e164": info.e164,
                        "region": info.region,
                        "number_type": info.number_type.value,
                        "seconds": secs,
                        "prefix": found.prefix,
                        "destination": found.destination,
                        "rate_per_min": found.rate_per_min,
                        "increment_s": found.increment_s,
                        "charge_jpy": charge,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"Charges ({tariff.source})", show_footer=True)
    table.add_column("number", footer="total", no_wrap=True)
    table.add_column("E.164", no_wrap=True)
    table.add_column("destination")
    table.add_column("prefix")
    table.add_column("JPY/min", justify="right")
    table.add_column("incr. s", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("JPY", justify="right", footer=f"{sum(charges):,.2f}")
    for info, (_, secs, _), e164, charge in zip(infos, calls, e164s, charges, strict=True):
        found = tariff.rate_for(e164)
        table.add_row(
            info.raw,
            info.e164 or f"[red]{info.error}[/red]",
            found.destination,
            found.prefix or "*",
            f"{found.rate_per_min:g}",
            str(found.increment_s),
            f"{secs:g}",
            f"{charge:,.2f}",
        )
    Console().print(table)
