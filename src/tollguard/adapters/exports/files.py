"""Export files for enforcement elsewhere, rewritten atomically when the blocked set changes."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tollguard.adapters.exports.fail2ban import fail2ban_line
from tollguard.adapters.exports.sets import (
    Address,
    ExportError,
    ipset_restore,
    nftables_set,
    parse_address,
)
from tollguard.domain.controls import Control, ControlKind

NFT_FILE = "blocked.nft"
IPSET_FILE = "blocked.ipset"
FAIL2BAN_LOG = "tollguard-blocks.log"


def write_atomically(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` (UTF-8): readers see the old file or the new, never half.

    Written to a temporary file in the same directory, fsynced, renamed over ``path`` with
    :func:`os.replace`, then the directory is fsynced so the rename survives a crash.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class BlockListChange:
    """What one :meth:`BlockListExporter.update` did."""

    blocked: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    rewritten: bool
    rejected: tuple[str, ...] = ()


class BlockListExporter:
    """Keeps ``blocked.nft``, ``blocked.ipset`` and ``tollguard-blocks.log`` in ``directory``.

    :meth:`update` takes the controls in force (IP blocks are picked out), rewrites the set
    files only when the blocked addresses changed, and appends one fail2ban line per newly
    blocked address. After a restart the previous set is read back from ``blocked.ipset``, so
    addresses already exported are not logged again. Safe to call from several threads.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        table: str = "tollguard",
        family: str = "inet",
        set_v4: str = "blocked_v4",
        set_v6: str = "blocked_v6",
        ipset_name: str = "tollguard-blocked",
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._nft = {"table": table, "family": family, "set_v4": set_v4, "set_v6": set_v6}
        self._ipset_name = ipset_name
        nftables_set([], table=table, family=family, set_v4=set_v4, set_v6=set_v6)  # check names
        ipset_restore([], name=ipset_name)
        self._lock = threading.Lock()
        self._known: set[Address] | None = None

    @property
    def nft_path(self) -> Path:
        return self.directory / NFT_FILE

    @property
    def ipset_path(self) -> Path:
        return self.directory / IPSET_FILE

    @property
    def log_path(self) -> Path:
        return self.directory / FAIL2BAN_LOG

    def update(self, controls: Iterable[Control]) -> BlockListChange:
        """Export the IP blocks among ``controls`` (addresses that are not IPs are rejected)."""
        blocks: dict[Address, Control] = {}
        rejected: list[str] = []
        for control in controls:
            if control.kind is not ControlKind.IP_BLOCK:
                continue
            try:
                address = parse_address(control.subject)
            except ExportError:
                rejected.append(control.subject)
                continue
            earlier = blocks.get(address)
            if earlier is None or control.since < earlier.since:
                blocks[address] = control
        with self._lock:
            known = self._previous() if self._known is None else self._known
            ips = [str(a) for a in blocks]
            rewritten = self._write(self.nft_path, nftables_set(ips, **self._nft))
            rewritten |= self._write(self.ipset_path, ipset_restore(ips, name=self._ipset_name))
            added = sorted(set(blocks) - known, key=_order)
            removed = sorted(known - set(blocks), key=_order)
            self._log([blocks[a] for a in added])
            self._known = set(blocks)
        return BlockListChange(
            blocked=tuple(str(a) for a in sorted(blocks, key=_order)),
            added=tuple(str(a) for a in added),
            removed=tuple(str(a) for a in removed),
            rewritten=rewritten,
            rejected=tuple(sorted(rejected)),
        )

    def _previous(self) -> set[Address]:
        """Addresses in an existing ``blocked.ipset`` (``add NAME IP`` lines)."""
        try:
            lines = self.ipset_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return set()
        found: set[Address] = set()
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "add":
                try:
                    found.add(parse_address(parts[2]))
                except ExportError:
                    continue
        return found

    @staticmethod
    def _write(path: Path, text: str) -> bool:
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except FileNotFoundError:
            pass
        write_atomically(path, text)
        return True

    def _log(self, controls: list[Control]) -> None:
        if not controls:
            return
        controls.sort(key=lambda c: (c.since, _order(parse_address(c.subject))))
        text = "".join(
            fail2ban_line(c.since, c.subject, c.reason, actor=c.actor) + "\n" for c in controls
        )
        with self.log_path.open("a", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())


def _order(address: Address) -> tuple[int, int]:
    return address.version, int(address)
