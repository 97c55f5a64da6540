"""The service's runtime: store, live engine, recorder and the periodic work, started and stopped
together (``tollguard serve`` and the tests use the same object)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tollguard.adapters.exports import BlockListExporter
from tollguard.adapters.intel.service import ImportPolicy, restricted_list
from tollguard.adapters.store import Store
from tollguard.app.service.auth import TokenTable
from tollguard.app.service.live import LiveEngine, control_from_record, reconcile_controls
from tollguard.app.service.outbox import Outbox
from tollguard.app.service.recorder import Recorder, utc
from tollguard.app.service.switch import SwitchControl
from tollguard.domain.config import EngineConfig
from tollguard.domain.controls import Controls
from tollguard.domain.engine import Engine
from tollguard.domain.records import IntlStatus

log = logging.getLogger("tollguard.service")

SNAPSHOT_NAME = "live"


@dataclass(slots=True)
class ServiceSettings:
    """How the service runs. Defaults suit one carrier's switch on the same host."""

    db_url: str
    config: EngineConfig = field(default_factory=EngineConfig)
    tick_s: float = 1.0
    """How often (wall seconds) periodic work is looked for: metering of calls in progress,
    contact timers and expiries (the engine itself runs them every minute of event time)."""
    snapshot_s: float = 300.0
    """How often the engine's whole state is saved, so that a restart keeps what it learnt."""
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
        )
        engine = Engine(self.store.list_subscribers(), settings.config)
        self.restored = self._restore(engine)
        self.live = LiveEngine(engine, self.recorder, clock=clock)
        self.started_at = clock()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_snapshot = clock()

    def _restore(self, engine: Engine) -> bool:
        snap = self.store.load_snapshot(SNAPSHOT_NAME)
        restored = False
        if snap is not None:
            try:
                engine.restore(snap.state)
                restored = True
            except Exception:  # an incompatible snapshot: start afresh, say so
                log.exception("engine snapshot %s could not be restored; starting afresh", snap.id)
        for sub in self.store.list_subscribers():
            engine.add_subscriber(sub)
        engine.restricted = restricted_list(self.store)
        self._reconcile(engine)
        return restored

    def _reconcile(self, engine: Engine) -> None:
        in_force = [
            control_from_record(
                c.kind,
                c.subject,
                c.reason,
                c.created_by,
                c.created_at.timestamp(),
                None if c.expires_at is None else c.expires_at.timestamp(),
            )
            for c in self.store.active_controls(utc(self.clock()))
        ]
        put, lifted = reconcile_controls(engine, in_force)
        if put or lifted:
            log.info("controls reconciled with the store: %d put, %d lifted", put, lifted)

    def refresh_from_store(self) -> None:
        """Take changes written to the store outside the engine (accepted intelligence: list
        entries and IP blocks): reload the restricted list and the controls in force, and push
        the hard lists. Call from the event loop."""
        self.recorder.flush()
        self.live.engine.restricted = restricted_list(self.store)
        self._reconcile(self.live.engine)
        self.recorder.call(self.recorder.sync_lists)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the recorder and the periodic tasks (call from the event loop)."""
        self.recorder.start()
        self.recorder.call(self.recorder.sync_lists)
        self._tasks = [asyncio.create_task(self._ticker(), name="tollguard-ticker")]

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
        if self.outbox is not None:
            self.outbox.close()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            try:
                self.periodic()
            except Exception:
                log.exception("periodic work failed")

    def periodic(self, *, force_snapshot: bool = False) -> None:
        """Ticks due, case changes to the store, and a snapshot when one is due."""
        self.live.tick()
        views = self.live.changed_cases()
        if views is not None:
            self.recorder.sync_cases(views)
        now = self.clock()
        if force_snapshot or now - self._last_snapshot >= self.settings.snapshot_s:
            self._last_snapshot = now
            self.snapshot()

    def snapshot(self) -> None:
        """Save the engine's state (taken now, written by the recorder)."""
        blob = self.live.engine.snapshot()
        at = utc(self.clock())

        def save() -> None:
            self.store.save_snapshot(SNAPSHOT_NAME, state=blob, at=at, offsets={}, keep=3)

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
    blob = engine.snapshot()
    store.save_snapshot(
        SNAPSHOT_NAME,
        at=utc(engine.now if engine.now > 0 else time.time()),
        offsets={"learnt_from": "replay"},
        state=blob,
        keep=3,
    )
    return len(blob)
