"""Engine configuration: every threshold, its default, its unit, and why.

Defaults are derived from cost, from each customer's own history (the engine learns the rest), and
from published fraud patterns; ``docs/detection.md`` explains each. A carrier overrides any of them
with a TOML or JSON file (``tollguard replay --config F``) using the same section and field names.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration file is unreadable or names an unknown field or a wrong type."""


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Per-call fraud probability and the cost-based deny rule."""

    # Prior probability that an international call attempt is fraud, before any evidence. Order of
    # magnitude of fraud's share of international minutes reported by the CFCA loss surveys
    # (~1e-3); only the product prior x likelihood ratios matters, and it is documented.
    prior_fraud_probability: float = 1e-3
    # Expected minutes a fraudulent call runs if nobody cuts it. IRSF calls are long (attackers
    # are paid per minute by the range holder); 30 minutes is a conservative middle. Lengths are
    # heavy tailed, so a call in progress for s minutes is expected to go on for 30 + s more.
    fraud_call_minutes: float = 30.0
    # What wrongly denying one legitimate call costs the carrier (a customer-care contact and
    # goodwill), JPY. A call is denied when P(fraud) x rate x fraud_call_minutes exceeds it.
    wrong_denial_cost_jpy: float = 2000.0
    # Deny regardless of cost when fraud is this probable.
    deny_probability: float = 0.98
    # A call the cost rule would deny, while fraud is less likely than not (below
    # watch_max_probability) and the customer's case shows no machine behaviour, is allowed under
    # watch instead of refused: it is cut once answered for wrong_denial_cost_jpy / (p x rate)
    # minutes, when the fraud loss it may have run up (p x rate x minutes) reaches what wrongly
    # denying it costs. The carrier thus risks no more per call than the set-up rule accepts, but
    # a person's call (minutes long) goes through, where refusing it wrongs them at once: a ship
    # operator's first calls to its vessels at 950 yen a minute, a family's to a satellite phone.
    # Above 0.5 the call is more likely fraud than not and is refused as before.
    watch_max_probability: float = 0.5
    # A call whose watch would be shorter than this is refused at set-up: a conversation cut
    # within its first minutes serves nobody (published average call lengths are 2-4 minutes),
    # and the caller only redials.
    watch_min_minutes: float = 3.0
    # ... and never longer than this: a person's call to a dear destination (a vessel, a
    # satellite phone, a premium range) is paid by the minute and short, while IRSF calls run
    # as long as they can (the range holder pays per minute). A longer watch would only let an
    # attack's first call run up W / p.
    watch_max_minutes: float = 10.0
    # Pseudo-counts for shrinking a customer's own statistics towards the population's.
    novelty_pseudo_count: float = 1.0
    international_share_pseudo_count: float = 10.0
    hour_pseudo_count: float = 20.0
    # Probability that a fraudulent call goes to a country the customer has called before.
    fraud_known_country_probability: float = 0.05
    # Likelihood ratio per concurrent international call beyond the customer's own maximum, and
    # per attempt in the burst window beyond the customer's own maximum.
    concurrency_step_lr: float = 3.0
    burst_step_lr: float = 2.0
    burst_window_s: float = 600.0
    max_step_lr_total: float = 1e4
    # A call made at an unusual pace (more channels or attempts than the customer's own
    # maximum) is learned only this long after it ended, and only if no case opened meanwhile:
    # an attack's first calls must not teach the profile its destinations, hours and pace before
    # the case that its pace opens (within minutes: three contact attempts 10 minutes apart, the
    # meter's hour). Calls at the customer's usual pace are learned at once.
    unusual_pace_hold_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class SourceIpConfig:
    """Source IP evidence (IP lines only)."""

    # Probability that an attack on an IP line comes from a foreign address (stolen credentials
    # used abroad) rather than from the customer's own compromised PBX.
    fraud_foreign_probability: float = 0.5
    foreign_pseudo_count: float = 10.0
    # Travel is episodic, not per call: about 20 million departures a year for 125 million people
    # (JNTO, 2019) at about a week each puts any customer abroad on ~0.3% of days, so a foreign
    # address is never less likely than that for a legitimate customer.
    foreign_floor_probability: float = 0.003
    # Likelihood ratio when the address is new to the customer but in a country they use.
    new_network_lr: float = 2.0
    known_address_lr: float = 0.5
    # One address placing international calls for several customers at once.
    shared_window_s: float = 3600.0
    shared_min_customers: int = 3
    shared_block_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class SipFloodConfig:
    """SIP authentication-failure floods (scanners, brute force)."""

    window_s: float = 600.0
    # SIPVicious-style scanners send hundreds of REGISTER/INVITE attempts a minute; a misconfigured
    # PBX retries a few times a minute with one username.
    min_failures: int = 20
    min_usernames: int = 3
    single_user_failures: int = 60
    block_hours: float = 24.0
    # A success from an address that just failed many times: a brute-forced credential.
    bruteforce_lr: float = 200.0
    bruteforce_memory_s: float = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class MeteringConfig:
    """Metering of each customer's international charges (ended and live) against their history."""

    # Below this much exposure in a day (JPY) a contact costs more than it can save.
    daily_floor_jpy: float = 3000.0
    hourly_floor_jpy: float = 2000.0
    # Seven days of charges above this (and above the customer's own weekly level) is abnormal:
    # victims' losses run from tens of thousands of yen up (source document), so a slow attack
    # should be seen before it reaches the first tens of thousands.
    weekly_floor_jpy: float = 10000.0
    # Anomaly when exposure exceeds the customer's robust high level (EW mean + k sd of log spend).
    k_sigma: float = 3.0
    ewm_alpha: float = 0.1
    min_log_sd: float = 0.7
    # Evidence factor for a metering anomaly: per doubling beyond the threshold.
    lr_per_doubling: float = 3.0


@dataclass(frozen=True, slots=True)
class CountryBurstConfig:
    """Many customers calling one country at once (同時多発) and country restriction (発信規制)."""

    window_s: float = 3600.0
    min_customers: int = 4
    # Poisson tail probability under the country's normal hourly rate that counts as a burst.
    tail_probability: float = 1e-6
    # Normal traffic below which a country may be restricted: "X minutes a month, N calls a day".
    max_normal_minutes_per_month: float = 600.0
    max_normal_calls_per_day: float = 5.0
    restrict_hours: float = 6.0
    # ... and only while a range of the country is being pumped across customers: a range burst
    # (several customers newly calling one number range, ``range_burst``) within this many
    # hours. IRSF campaigns and Wangiri callbacks go to the few ranges the fraudster holds; a
    # disaster's callers (an eruption, an earthquake) each dial their own people, spread over
    # the country's numbering, and a restriction would cut them all off (on the independent
    # generator a Tongan eruption was restricted nine times in three days, 227 calls refused).
    # A day: a campaign's night and its renewal the next day.
    range_finding_hours: float = 24.0
    # A burst is measured against normal traffic; until the baseline has a week of it (a cold
    # start), there is no normal to compare with and the detector stays silent.
    min_history_days: int = 7

    def little_normal_traffic(self, calls_per_day: float, minutes_per_month: float) -> bool:
        """Whether a country's normal traffic is below both thresholds (the source document's
        third criterion of the restricted list)."""
        return (
            calls_per_day <= self.max_normal_calls_per_day
            and minutes_per_month <= self.max_normal_minutes_per_month
        )


@dataclass(frozen=True, slots=True)
class RangeBurstConfig:
    """Many customers newly calling one number range (Wangiri callbacks, IRSF campaigns)."""

    window_s: float = 6 * 3600.0
    prefix_digits: int = 7
    min_customers: int = 3
    deny_hours: float = 72.0


@dataclass(frozen=True, slots=True)
class BlockSpreadConfig:
    """One customer dialling many numbers of one narrow foreign block (low-and-slow IRSF)."""

    # A week: low-and-slow attacks pump a few numbers a night for days.
    window_s: float = 7 * 86400.0
    # A block is the number without its last 4 digits: IRSF ranges are leased in blocks of
    # 10,000 numbers or fewer, and test-number lists walk through them.
    block_digits: int = 4
    # Spread is two or more other numbers of the block: calling a second number of a family or
    # an office is ordinary.
    min_others: int = 2
    # Share of an IRSF attack's calls that come after two others of their block: attackers walk
    # the range's numbers, so most calls after the first few do; a conservative half.
    fraud_spread_probability: float = 0.5
    # Starting legitimate share (1 %) and its weight in calls, until the carrier's own calls
    # outweigh it.
    legit_prior_share: float = 0.01
    legit_prior_weight: float = 200.0


@dataclass(frozen=True, slots=True)
class RepeatContactConfig:
    """A person calling one number on separate days, one call at a time (not a dialler)."""

    # Three separate earlier days: an IRSF event runs over a night or a weekend (Friday night to
    # Sunday is three local days, but not three *earlier* ones until Monday), and a person
    # calling a ship or a partner does so day after day.
    min_days: int = 3
    # At most six attempts a day: a person calls family or a ship a few times a day and retries
    # when nobody answers; an IRSF pump re-dials each of its numbers dozens of times a day.
    max_per_day: int = 6
    # The days count within a month: weekly is how people most often call a vessel or family
    # far away, and three earlier days within two weeks asked for a call every five days, so a
    # weekly caller never became a contact (on the independent generator a fleet manager
    # calling its four vessels weekly was refused 14 times more; no change in fraud loss on
    # fifteen carriers). A number dialled once, a month ago, is still no contact.
    window_days: int = 30
    # P(pattern | fraud) / P(pattern | legitimate): published IRSF cases rotate their numbers
    # within hours and days, so few attack calls show it (about 1 %, the same share
    # destination_cost gives fraud on ordinary ranges); most calls of a person to a number they
    # call day after day do (about 1).
    lr: float = 0.01
    # A conversation proves a contact without the third day: an allowed call, learned as the
    # customer's own (fraud unlikely, no case open at its start or end, no unusual pace), answered
    # for a minute or more (a person who reached someone, not a ring or a voicemail greeting),
    # before yesterday (an attack's test call and its pump fall within one night, which spans
    # two local days).
    conversation_min_s: float = 60.0
    # A suspension spares numbers the customer called on two separate days within the month
    # before the case opened: the attack had not started, so they are the customer's own (the
    # spared calls are still weighed like any other).
    established_min_days: int = 2
    established_window_days: int = 30


@dataclass(frozen=True, slots=True)
class CaseConfig:
    """Contact workflow and suspension (利用休止) with post-notification (事後連絡)."""

    contact_attempts: int = 3
    contact_interval_s: float = 600.0
    # Suspend only when fraud is this probable, all contact attempts failed, and the evidence
    # shows machine behaviour (see policy docs).
    suspend_probability: float = 0.999
    # ... while the attack is in progress: a risky attempt within this window. A case whose
    # attack stopped (its numbers denied, its calls cut) closes after its quiet hours instead;
    # the customer's own calls days later, with the week's charges still counting the attack's,
    # are no reason to suspend them (on the independent generator a victim was suspended two
    # days after its attack had ended).
    suspend_within_s: float = 3600.0
    # A dialer hits many numbers quickly; a person retries one, and a busy office dials several
    # over a day. Suspension needs this many distinct risky numbers within the window.
    min_distinct_numbers: int = 3
    distinct_numbers_window_s: float = 1800.0
    persistence_lr: float = 2.0
    deny_destination_hours: float = 24.0
    foreign_ip_block_hours: float = 24.0
    # A case that shows no new evidence for this long closes by itself (unless it suspended the
    # customer): its destination denials lapsed long before, a weekend attack would have come
    # back, and a stale case must not weigh on the customer's calls, or stop the engine learning
    # from them, for weeks.
    quiet_close_hours: float = 72.0
    # A suspension whose attack has been quiet this long (no attempt to the attack's countries
    # or to a dear or restricted destination, the suspension refusing them or not) narrows to
    # what the attack went for: the attack's countries stay denied until the customer confirms,
    # the rest of international calling is restored and weighed call by call. The
    # post-notification (事後連絡) asked the customer to call; three days (a weekend and a
    # working day, as for the quiet close) is when a dialler kept against the suspension would
    # have shown itself, and the duty to provide service (役務提供義務) allows no more refusal
    # than the fraud needs. Customers who answer are restored in full at once.
    suspension_quiet_hours: float = 72.0
    # Charges over the baseline at a dialler's pace deny the destinations of the calls that are
    # not to contacts only at night, 20:00-08:00 local time (the engine's night buckets): IRSF
    # pumps run mostly at night (CFCA; the source document), while a business's legitimate
    # spike of calls to many new numbers (a campaign, a trade fair) comes in the day, on
    # weekends too, when the customer also answers the contact call. In the day it applies when
    # one of the new numbers is of a block the customer walks (``block_spread``: ``min_others``
    # other numbers of it within its week): a test-number list pumped in office hours to blend
    # in; a campaign's or a fair's numbers are spread over a country.
    pump_night_starts_hour: int = 20
    pump_night_ends_hour: int = 8
    # ... and only for a customer whose calls the engine has seen for a week: new numbers mean
    # something against a history, and in a customer's first days every number is new.
    pump_min_history_days: int = 7
    # A new number of a pump is dialled once or twice (IRSF number lists are walked, a busy or
    # unanswered number retried once); a person redials the few people they try to reach.
    pump_max_attempts_per_number: int = 2
    # The new numbers count within an hour: a pump holding two channels with half-hour calls
    # shows three new numbers only over an hour (the 30 minutes suspension asks of risky numbers,
    # dialled in bursts, missed such pumps).
    pump_window_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class ReferencePolicyConfig:
    """The source document's process: hourly metering of ended calls, contact, then suspend."""

    meter_interval_s: float = 3600.0
    hourly_floor_jpy: float = 10000.0
    baseline_multiple: float = 5.0
    contact_attempts: int = 3
    contact_interval_s: float = 900.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """All engine settings."""

    home_region: str = "JP"
    timezone: str = "Asia/Tokyo"
    tick_interval_s: float = 60.0
    risk: RiskConfig = field(default_factory=RiskConfig)
    source_ip: SourceIpConfig = field(default_factory=SourceIpConfig)
    sip_flood: SipFloodConfig = field(default_factory=SipFloodConfig)
    metering: MeteringConfig = field(default_factory=MeteringConfig)
    country_burst: CountryBurstConfig = field(default_factory=CountryBurstConfig)
    range_burst: RangeBurstConfig = field(default_factory=RangeBurstConfig)
    block_spread: BlockSpreadConfig = field(default_factory=BlockSpreadConfig)
    repeat_contact: RepeatContactConfig = field(default_factory=RepeatContactConfig)
    case: CaseConfig = field(default_factory=CaseConfig)
    reference: ReferencePolicyConfig = field(default_factory=ReferencePolicyConfig)

    @classmethod
    def load(cls, path: Path) -> EngineConfig:
        """Read a TOML (``.toml``) or JSON file; unknown fields and wrong types are errors."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}"
            ) from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> EngineConfig:
        """Build from a nested mapping of overrides."""
        built: EngineConfig = _build(cls, data, source)
        return built

    def to_dict(self) -> dict[str, Any]:
        """All settings as a nested mapping (for reports)."""
        return dataclasses.asdict(self)


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(fields)})")
        current = getattr(defaults, key)
        if dataclasses.is_dataclass(current):
            kwargs[key] = _build(type(current), value, f"{where}.{key}")
        elif isinstance(current, bool) or not isinstance(current, int | float | str):
            kwargs[key] = value
        elif isinstance(current, str):
            if not isinstance(value, str):
                raise ConfigError(f"{where}.{key}: expected text, got {value!r}")
            kwargs[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
            if isinstance(current, int) and not isinstance(current, bool):
                if int(value) != value:
                    raise ConfigError(f"{where}.{key}: expected a whole number, got {value!r}")
                value = int(value)
            if value < 0:
                raise ConfigError(f"{where}.{key}: must not be negative, got {value!r}")
            kwargs[key] = type(current)(value)
    return cls(**kwargs)
