"""Validating readers for every input format (see ``docs/formats.md``)."""

from tollguard.adapters.readers._common import JST, InputFileError, ReadSummary
from tollguard.adapters.readers.cdrs import read_cdrs
from tollguard.adapters.readers.sip_events import read_sip_events
from tollguard.adapters.readers.subscribers import read_subscribers

__all__ = [
    "JST",
    "InputFileError",
    "ReadSummary",
    "read_cdrs",
    "read_sip_events",
    "read_subscribers",
]
