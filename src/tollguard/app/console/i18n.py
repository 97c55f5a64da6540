"""Languages of the console and the portal: Japanese and English, from gettext catalogs.

The source strings (templates and code) are English; ``locale/ja/LC_MESSAGES/messages.po`` holds
the Japanese, compiled with Babel to ``messages.mo`` (``docs/console.md`` says how to extract,
update and compile). A page's language is the visitor's toggle (a cookie), else the browser's
``Accept-Language``, else Japanese.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
DOMAIN = "messages"
JST = ZoneInfo("Asia/Tokyo")


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of ``locale`` (English: the source strings themselves)."""
    if locale == "en":
        return gettext.NullTranslations()
    mo = resources.files("tollguard.app.console").joinpath(
        f"locale/{locale}/LC_MESSAGES/{DOMAIN}.mo"
    )
    with mo.open("rb") as fh:
        return gettext.GNUTranslations(fh)


def negotiate(accept_language: str | None) -> str | None:
    """The supported locale the browser prefers most (``Accept-Language``), or ``None``."""
    if not accept_language:
        return None
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang in LOCALES and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return None if best is None else best[2]


def choose(toggle: str | None, accept_language: str | None) -> str:
    """A page's locale: the toggle, else the browser's preference, else Japanese."""
    if toggle in LOCALES:
        return toggle
    return negotiate(accept_language) or DEFAULT_LOCALE


def fmt_time(value: datetime | float | None, locale: str, *, seconds: bool = False) -> str:
    """A time in Japan's zone (``2026-10-05 03:12 JST``); ``""`` for none."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        value = datetime.fromtimestamp(value, JST)
    text = value.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} JST"


def fmt_yen(value: float | None, locale: str) -> str:
    """An amount in yen, whole, grouped for the locale (``¥12,345``)."""
    if value is None:
        return ""
    return "¥" + format_decimal(round(value), locale=locale)


def fmt_number(value: float | None, locale: str, digits: int = 0) -> str:
    """A number grouped for the locale."""
    if value is None:
        return ""
    return format_decimal(round(value, digits), locale=locale)
