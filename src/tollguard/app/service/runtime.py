"""The service's runtime: store, live engine, recorder and the periodic work, started and stopped
together (``tollguard serve`` and the tests use the same object)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from tollguard.adapters.exports import BlockListExporter
from tollguard.adapters.intel.service import ImportPolicy, restricted_list
from tollguard.adapters.store import Store
from tollguard.app.equipment import service_check
from tollguard.app.service.auth import TokenTable
from tollguard.app.service.journal import EventJournal
from tollguard.app.service.live import (
    LiveEngine,
    control_from_record,
    reconcile_controls,
    store_subject,
)
from tollguard.app.service.outbox import Outbox
from tollguard.app.service.recorder import JOURNAL_OFFSET, Recorder, utc
from tollguard.app.service.switch import SwitchControl
from tollguard.domain.config import EngineConfig
from tollguard.domain.controls import Control, Controls
from tollguard.domain.engine import Engine, put_action
from tollguard.domain.events import Action
from tollguard.domain.records import IntlStatus

log = logging.getLogger("tollguard.service")

SNAPSHOT_NAME = "live"
RECORD_WAIT_S = 5.0
"""How long a change made outside the engine waits for the recorder before it is answered."""


@dataclass(slots=True)
class ServiceSettings:
    """How the service runs. Defaults suit one carrier's switch on the same host."""

    db_url: str
    config: EngineConfig = field(default_factory=EngineConfig)
    cookie_secure: bool = True
    """Console and portal cookies carry ``Secure`` (sent over HTTPS only) and the ``__Host-``
    prefix. Turn off only to test over plain HTTP on loopback (``serve --insecure-cookies``)."""
    session_idle_s: float = 1800.0
    """A console or portal session ends after this long without a request (and after 12 h)."""
    login_max_failures: int = 5
    """Failed logins in a row after which a username is locked (and, four times as many from
    one client address within ``login_lock_s``, after which that address is refused)."""
    login_lock_s: float = 900.0
    """How long a locked username (or a refused client address) waits."""
    instance: str = ""
    """This process's name when several ``tollguard serve`` processes share one database (each
    with its own ``data_dir``): its saved state and journal position are kept under it."""
    sync_controls_s: float = 0.25
    """How often the database is asked whether controls changed (made or lifted by another
    process, or by accepted intelligence): one cheap aggregate query, off the event loop; a
    change is enforced here within about this time."""
    tick_s: float = 1.0
    """How often (wall seconds) periodic work is looked for: metering of calls in progress,
    contact timers and expiries (the engine itself runs them every minute of event time)."""
    snapshot_s: float = 300.0
    """How often the engine's whole state is saved, so that a restart keeps what it learnt."""
    equipment_check_s: float = 3600.0
    """How often confirmed incidents are tested for concentration on one equipment model
    (an ``equipment_model`` alert per model flagged; ``tollguard equipment``)."""
    data_dir: Path = field(default_factory=lambda: Path("tollguard-data"))
    """Spooled uploads, quarantine and the block-list exports live here."""
    max_body_bytes: int = 20 * 1024 * 1024
    """Largest request body accepted (CDR uploads)."""
    fast_authorize: bool = True
    """Answer ``/v1/authorize`` with the small ASGI handler (``fastpath.py``) rather than
    FastAPI's route; both give the same answers (tested)."""
    carrier_name: str = "tollguard"
    """This carrier's name in the intelligence it shares with others (``/v1/intel/export``):
    1-64 ASCII letters, digits, ``.``, ``_`` or ``-``."""
    intel_key: bytes | None = None
    """A key shared with other carriers (at least 16 bytes): exports are signed with it
    (``X-Tollguard-Signature``) and imports must carry a valid signature."""
    intel_policy: ImportPolicy = field(default_factory=ImportPolicy)
    """When imported intelligence is accepted without review (by default never: every entry is
    a candidate) and how long an accepted attacker address stays blocked."""


class ServiceRuntime:
    """Everything the HTTP layer needs, with start/stop."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        store: Store | None = None,
        switch: SwitchControl | None = None,
        outbox: Outbox | None = None,
        exporter: BlockListExporter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.clock = clock
        self.store = store or Store.open(settings.db_url)
        self.tokens = TokenTable(self.store.token_roles())
        self.recorder = Recorder(
            self.store,
            switch=switch,
            on_notify=None if outbox is None else outbox.notify,
            exporter=exporter,
            clock=clock,
            journal_offset=JOURNAL_OFFSET + (f":{settings.instance}" if settings.instance else ""),
        )
        self.snapshot_name = SNAPSHOT_NAME + (f":{settings.instance}" if settings.instance else "")
        self._controls_version: tuple[int, datetime | None, int] | None = None
        engine = Engine(self.store.list_subscribers(), settings.config)
        self.live = LiveEngine(engine, self.recorder, clock=clock)
        self.journal = EventJournal(settings.data_dir / "journal")
        self.restored, self.replayed = self._restore(engine)
        self.live.journal = self.journal
        self.started_at = clock()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_snapshot = clock()
        self._last_equipment = clock()

    def _restore(self, engine: Engine) -> tuple[bool, int]:
        """The last saved state, then the journal's later events: the engine where it was."""
        snap = self.store.load_snapshot(self.snapshot_name)
        restored = False
        seq = 0
        if snap is not None:
            try:
                state = load_state(snap.state)
                engine.restore(state.engine)
                self.live.cdr_ids = state.cdr_ids
                seq = state.seq
                restored = True
            except Exception:  # an incompatible snapshot: start afresh, say so
                log.exception("engine snapshot %s could not be restored; starting afresh", snap.id)
        for sub in self.store.list_subscribers():
            engine.add_subscriber(sub)
        engine.restricted = restricted_list(self.store)
        offset = self.store.get_input_offset(self.recorder.journal_offset)
        recorded = offset.position if offset is not None else 0
        replayed = 0
        for n, event in self.journal.after(seq):
            out = self.live.apply(event)
            self.live.seq = n
            replayed += 1
            if n > recorded and out:  # outputs the store never got: record them now
                self.recorder.submit(out, n)
        if replayed:
            log.info("journal: %d events after the saved state processed again", replayed)
        self.recorder.flush()  # not started yet: runs here, before the store is compared
        self._reconcile(engine, recover=True)
        return restored, replayed

    def _reconcile(self, engine: Engine, *, recover: bool = False) -> None:
        """Make the engine's controls agree with the store's: the store's are put in the engine;
        of the engine's that the store does not hold in force, those the store records as lifted
        or expired are lifted (by another process, or while this one was down), and with
        ``recover`` those it never recorded (made the instant before a crash) are written."""
        version, in_force, ended = self._store_view(engine.controls.all())
        put, missing = reconcile_controls(engine, in_force)
        lifted = recovered = 0
        for c in missing:
            if (c.kind.value, c.subscriber_id, c.subject) in ended:
                engine.controls.lift(c.kind, c.subject, c.subscriber_id)
                lifted += 1
            elif recover:
                self.recorder.submit([recovered_action(c, self.clock())])
                recovered += 1
        if recovered:
            self.recorder.flush()
        self._controls_version = version
        if put or lifted or recovered:
            log.info(
                "controls reconciled with the store: %d put in the engine, %d lifted, %d recovered",
                put,
                lifted,
                recovered,
            )

    def _store_view(
        self, engine_controls: list[Control]
    ) -> tuple[tuple[int, datetime | None, int], list[Control], set[tuple[str, str | None, str]]]:
        """Read, off the event loop: the controls version, the controls in force, and which of
        ``engine_controls`` the store records as ended (lifted or expired)."""
        version = self.store.controls_version()
        at = utc(self.clock())
        in_force = [control_from_record(c) for c in self.store.active_controls(at)]
        active = {(c.kind, c.subscriber_id, c.subject) for c in in_force}
        ended: set[tuple[str, str | None, str]] = set()
        for c in engine_controls:
            if (c.kind, c.subscriber_id, c.subject) in active:
                continue
            subject = store_subject(c.kind, c.subject, c.subscriber_id)
            records = self.store.list_controls(kind=c.kind.value, subject=subject)
            if any(r.created_at.timestamp() >= c.since - 1.0 for r in records):
                ended.add((c.kind.value, c.subscriber_id, c.subject))
        return version, in_force, ended

    async def sync_controls(self) -> bool:
        """Take control changes made elsewhere (another process, accepted intelligence) into
        the engine; ``True`` if there were any. Runs when the recorder is idle (every control
        made here is then in the store); the database is read off the event loop, so a slow or
        unreachable database never delays an answer."""
        if not self.recorder.idle:
            return False
        try:
            version = await asyncio.to_thread(self.store.controls_version)
            if version == self._controls_version:
                return False
            before = self.live.engine.controls.all()
            version, in_force, ended = await asyncio.to_thread(self._store_view, before)
        except (OperationalError, InterfaceError):
            return False  # the store is down: the recorder reports it; try again later
        engine = self.live.engine
        if engine.controls.all() != before or not self.recorder.idle:
            return False  # changed meanwhile: look again next time
        reconcile_controls(engine, in_force)
        for c in before:
            if (c.kind.value, c.subscriber_id, c.subject) in ended:
                engine.controls.lift(c.kind, c.subject, c.subscriber_id)
        self._controls_version = version
        self.recorder.call(self.recorder.sync_lists)
        return True

    def refresh_from_store(self) -> None:
        """Take changes written to the store outside the engine (accepted intelligence: list
        entries and IP blocks): reload the restricted list and the controls in force, and push
        the hard lists. Call from the event loop."""
        self.recorder.flush()
        self.live.engine.restricted = restricted_list(self.store)
        self._reconcile(self.live.engine)
        self.recorder.call(self.recorder.sync_lists)
        self.recorder.flush(RECORD_WAIT_S)  # pushed to the switch before the change is answered

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the recorder and the periodic tasks (call from the event loop)."""
        self.recorder.start()
        self.recorder.call(self.recorder.sync_lists)
        self._tasks = [
            asyncio.create_task(self._ticker(), name="tollguard-ticker"),
            asyncio.create_task(self._syncer(), name="tollguard-control-sync"),
        ]

    async def stop(self) -> None:
        """Stop the periodic tasks, save the engine's state, finish the recorder's work."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.periodic(force_snapshot=True)
        self.recorder.stop()
        self.journal.close()
        if self.outbox is not None:
            self.outbox.close()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            try:
                self.periodic()
            except Exception:
                log.exception("periodic work failed")

    async def _syncer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_controls_s)
            try:
                await self.sync_controls()
            except Exception:
                log.exception("control sync failed")

    def periodic(self, *, force_snapshot: bool = False) -> None:
        """Ticks due, case changes to the store, and a snapshot when one is due."""
        self.live.tick()
        if self.recorder.lists_dirty and self.recorder.backlog == 0:
            self.recorder.call(self.recorder.sync_lists)
        views = self.live.changed_cases()
        if views is not None:
            self.recorder.sync_cases(views)
        now = self.clock()
        if force_snapshot or now - self._last_snapshot >= self.settings.snapshot_s:
            self._last_snapshot = now
            self.snapshot()
        if now - self._last_equipment >= self.settings.equipment_check_s:
            self._last_equipment = now
            self.recorder.call(lambda: self.check_equipment(now))

    def check_equipment(self, at: float) -> None:
        """Alert when confirmed incidents concentrate on one equipment model (recorder thread)."""
        service_check(self.store, at=at)

    def snapshot(self) -> None:
        """Save the engine's state (taken now, written by the recorder after the outputs that
        came before it; the journal files it covers are then deleted)."""
        seq = self.journal.rotate()
        blob = dump_state(self.live.engine, self.live.cdr_ids, seq)
        at = utc(self.clock())

        def save() -> None:
            self.store.save_snapshot(
                self.snapshot_name, state=blob, at=at, offsets={"journal_seq": seq}, keep=3
            )
            self.journal.prune(seq)

        self.recorder.call(save)

    def reload_tokens(self) -> None:
        """Re-read the tokens in force (after one is created or revoked)."""
        self.tokens.replace(self.store.token_roles())


def save_learnt_state(engine: Engine, store: Store) -> int:
    """Save what ``engine`` learnt from history as the live service's starting state.

    Controls, cases and calls in progress of the history are dropped: the service starts with
    the controls recorded in the store, and history's incidents are not reopened. Returns the
    size of the saved state in bytes.
    """
    engine.controls = Controls()
    for sub in engine.subscribers.values():
        engine.controls.set_customer_barred(
            sub.subscriber_id, sub.intl_status is IntlStatus.SUSPENDED
        )
    engine.active.clear()
    engine.by_customer.clear()
    engine.dropped.clear()
    policy: Any = engine.policy
    for name in ("cases", "closed_cases"):
        held = getattr(policy, name, None)
        if held is not None:
            held.clear()
    blob = dump_state(engine, {}, 0)
    store.save_snapshot(
        SNAPSHOT_NAME,
        at=utc(engine.now if engine.now > 0 else time.time()),
        offsets={"learnt_from": "replay", "journal_seq": 0},
        state=blob,
        keep=3,
    )
    return len(blob)


@dataclass(frozen=True, slots=True)
class SavedState:
    """What the service saves: the engine, the CDRs metered after the fact, the journal position."""

    engine: bytes
    cdr_ids: dict[str, float]
    seq: int


def dump_state(engine: Engine, cdr_ids: dict[str, float], seq: int) -> bytes:
    """The service's state as bytes (trusted local storage only: a pickle)."""
    state = {"format": 2, "engine": engine.snapshot(), "cdr_ids": dict(cdr_ids), "seq": seq}
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def load_state(blob: bytes) -> SavedState:
    """Read :func:`dump_state`'s bytes (or a bare engine snapshot of an earlier version)."""
    state = pickle.loads(blob)
    if isinstance(state, dict) and state.get("format") == 2:
        return SavedState(state["engine"], dict(state["cdr_ids"]), int(state["seq"]))
    return SavedState(blob, {}, 0)


def recovered_action(c: Control, t: float) -> Action:
    """The action recording a control the engine holds but the store lost in a crash."""
    return put_action(c, t, f"recovered after restart: {c.reason}")
