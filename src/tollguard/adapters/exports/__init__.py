"""Exports for enforcement elsewhere: blocked IPs as nftables and ipset sets, fail2ban lines.

See ``integrations/nftables/README.md`` and ``integrations/fail2ban/README.md``.
"""

from tollguard.adapters.exports.fail2ban import fail2ban_line, sanitise
from tollguard.adapters.exports.files import (
    FAIL2BAN_LOG,
    IPSET_FILE,
    NFT_FILE,
    BlockListChange,
    BlockListExporter,
    write_atomically,
)
from tollguard.adapters.exports.sets import (
    ExportError,
    ipset_restore,
    nftables_set,
    parse_address,
    split_addresses,
)

__all__ = [
    "FAIL2BAN_LOG",
    "IPSET_FILE",
    "NFT_FILE",
    "BlockListChange",
    "BlockListExporter",
    "ExportError",
    "fail2ban_line",
    "ipset_restore",
    "nftables_set",
    "parse_address",
    "sanitise",
    "split_addresses",
    "write_atomically",
]
