"""CSV files people open in spreadsheets: cells that would run as formulas are neutralised.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula, so a hostile CDR field such as ``=HYPERLINK(...)`` copied into a
quarantine file or a report could act on the analyst's machine (CSV injection). Such a cell gets
a leading apostrophe, which spreadsheets hide and treat as "text". Plain numbers, E.164 numbers
(``+81312345678``) and negative amounts are left alone: they are not formulas, and a phone
number must stay readable.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .()/-]*")


def safe_cell(value: object) -> str:
    """``value`` as CSV text that no spreadsheet runs as a formula.

    >>> safe_cell("=1+2"), safe_cell("+81312345678"), safe_cell("-12.5"), safe_cell("@SUM(A1)")
    ("'=1+2", '+81312345678', '-12.5', "'@SUM(A1)")
    """
    text = "" if value is None else str(value)
    if text.startswith(_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvWriter:
    """A ``csv.writer`` whose cells pass through :func:`safe_cell`."""

    def __init__(self, stream: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write several rows."""
        for row in rows:
            self.writerow(row)
