"""Validating readers for every input format tollguard accepts (see ``docs/formats.md``).

Every reader yields one record per good row and one :class:`QuarantinedRow` per bad row, in file
order; bad content never raises. Only a file that cannot be read at all (missing, empty, unusable
header) raises :class:`InputFileError`.
"""

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    JST,
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    MAX_SWITCH_LINE_BYTES,
    InputFileError,
    ReadSummary,
)
from tollguard.adapters.readers.asterisk import read_asterisk_master_csv
from tollguard.adapters.readers.cdrs import CDR_COLUMNS, read_cdrs
from tollguard.adapters.readers.detect import CdrFormat, detect_cdr_format, read_any_cdrs
from tollguard.adapters.readers.freeswitch_csv import read_freeswitch_csv
from tollguard.adapters.readers.freeswitch_json import read_freeswitch_json
from tollguard.adapters.readers.kamailio import read_kamailio_acc_cdrs
from tollguard.adapters.readers.sip_events import SIP_EVENT_COLUMNS, read_sip_events
from tollguard.adapters.readers.subscribers import (
    SUBSCRIBER_COLUMNS,
    SUBSCRIBER_OPTIONAL,
    read_subscribers,
)
from tollguard.domain.records import QuarantinedRow

__all__ = [
    "CDR_COLUMNS",
    "DUPLICATE_CALL_ID",
    "JST",
    "MAX_FIELD_CHARS",
    "MAX_LINE_BYTES",
    "MAX_SWITCH_LINE_BYTES",
    "SIP_EVENT_COLUMNS",
    "SUBSCRIBER_COLUMNS",
    "SUBSCRIBER_OPTIONAL",
    "CdrFormat",
    "InputFileError",
    "QuarantinedRow",
    "ReadSummary",
    "detect_cdr_format",
    "read_any_cdrs",
    "read_asterisk_master_csv",
    "read_cdrs",
    "read_freeswitch_csv",
    "read_freeswitch_json",
    "read_kamailio_acc_cdrs",
    "read_sip_events",
    "read_subscribers",
]
