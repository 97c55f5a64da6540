"""Bounded-memory external sort: buffer keyed text lines, spill sorted chunks, merge them.

Lines are ``key + payload`` strings whose lexicographic order is the wanted output order (the key
is a fixed-width zero-padded time). At most ``max_rows`` lines are held in memory; the output
depends only on the set of lines, never on chunk boundaries, so it is byte-identical whatever the
chunk size.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

KEY_WIDTH = 11  # 10-digit zero-padded seconds + "|"


def sort_key(seconds: int) -> str:
    """The fixed-width key prefix for a time in seconds since the period start."""
    return f"{seconds:010d}|"


class SortedSpill:
    """Collects keyed lines and writes them in sorted order with bounded memory."""

    _FAN_IN = 64

    def __init__(self, workdir: Path, name: str, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be positive")
        self._dir = workdir
        self._name = name
        self._max = max_rows
        self._buf: list[str] = []
        self._chunks: list[Path] = []
        self.rows = 0
        self.peak_buffered = 0

    @property
    def buffered(self) -> int:
        """Lines currently held in memory."""
        return len(self._buf)

    @property
    def chunk_count(self) -> int:
        """How many sorted chunks were spilled to disk so far."""
        return len(self._chunks)

    def add(self, line: str) -> None:
        """Add one keyed line (without trailing newline)."""
        self._buf.append(line)
        self.rows += 1
        if len(self._buf) >= self._max:
            self._spill()

    def _spill(self) -> None:
        if not self._buf:
            return
        self.peak_buffered = max(self.peak_buffered, len(self._buf))
        self._buf.sort()
        path = self._dir / f"{self._name}.{len(self._chunks):06d}.chunk"
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(self._buf))
            fh.write("\n")
        self._chunks.append(path)
        self._buf = []

    def _merged(self, paths: list[Path]) -> Iterator[str]:
        with ExitStack() as stack:
            files: list[IO[str]] = [
                stack.enter_context(p.open("r", encoding="utf-8", newline="")) for p in paths
            ]
            yield from heapq.merge(*files)

    def write(
        self,
        out: IO[str],
        header: str,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write ``header`` then every line without its key, in order; return the row count."""
        self._spill()
        chunks = self._chunks
        level = 0
        while len(chunks) > self._FAN_IN:
            merged: list[Path] = []
            for start in range(0, len(chunks), self._FAN_IN):
                group = chunks[start : start + self._FAN_IN]
                path = self._dir / f"{self._name}.L{level}.{len(merged):06d}.chunk"
                with path.open("w", encoding="utf-8", newline="") as fh:
                    fh.writelines(self._merged(group))
                for p in group:
                    os.remove(p)
                merged.append(path)
            chunks = merged
            level += 1
        out.write(header + "\n")
        count = 0
        batch: list[str] = []
        for line in self._merged(chunks):
            batch.append(line[KEY_WIDTH:])
            if len(batch) >= 8192:
                out.writelines(batch)
                count += len(batch)
                batch = []
                if progress is not None:
                    progress(count)
        out.writelines(batch)
        count += len(batch)
        if progress is not None:
            progress(count)
        for p in chunks:
            os.remove(p)
        self._chunks = []
        return count
