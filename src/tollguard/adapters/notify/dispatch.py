"""Delivery with retries and exponential backoff, and a background runner for the service."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tollguard.adapters.notify.notification import Channel, DeliveryError, Notification

log = logging.getLogger(__name__)

#: ``sleep(seconds)``; a truthy result (as from a set ``threading.Event.wait``) stops the retries.
Sleep = Callable[[float], object]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries; after failed try n wait base × factor^(n-1), at most max."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.factor < 1 or self.max_delay_s < 0:
            raise ValueError("delays must be non-negative and the factor at least 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * self.factor ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The outcome of delivering one notification through one channel (to be recorded)."""

    notification: Notification
    channel: str
    delivered: bool
    attempts: int
    last_error: str | None
    delivered_at: float | None
    errors: tuple[str, ...] = ()


class Dispatcher:
    """Delivers notifications through a channel, retrying transient failures."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    def deliver(self, notification: Notification, channel: Channel) -> DeliveryReport:
        """Try until delivered, a permanent failure, ``max_attempts`` or an interrupted sleep.

        Never raises for a failed delivery: the report says what happened.
        """
        errors: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                channel.send(notification)
            except DeliveryError as exc:
                errors.append(str(exc))
                permanent = exc.permanent
            except Exception as exc:  # a channel bug must not kill the caller's thread
                errors.append(f"{type(exc).__name__}: {exc}")
                permanent = False
            else:
                return self._report(notification, channel, attempt, errors, self._clock())
            if permanent or attempt >= self.policy.max_attempts:
                break
            if self._sleep(self.policy.delay(attempt)):
                errors[-1] += " (retries stopped: shutting down)"
                break
        return self._report(notification, channel, attempt, errors, None)

    @staticmethod
    def _report(
        notification: Notification,
        channel: Channel,
        attempts: int,
        errors: list[str],
        delivered_at: float | None,
    ) -> DeliveryReport:
        return DeliveryReport(
            notification=notification,
            channel=channel.name,
            delivered=delivered_at is not None,
            attempts=attempts,
            last_error=errors[-1] if errors else None,
            delivered_at=delivered_at,
            errors=tuple(errors),
        )


class BackgroundDispatcher:
    """Runs deliveries on worker threads and hands every report to ``on_report``.

    :meth:`close` stops waiting between retries: deliveries in progress or queued end after
    their current attempt, and are still reported.
    """

    def __init__(
        self,
        on_report: Callable[[DeliveryReport], None],
        policy: RetryPolicy | None = None,
        *,
        max_workers: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stop = threading.Event()
        self._dispatcher = Dispatcher(policy, sleep=self._stop.wait, clock=clock)
        self._on_report = on_report
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="tollguard-notify")

    def submit(self, notification: Notification, channel: Channel) -> Future[DeliveryReport]:
        """Queue ``notification`` for delivery through ``channel``."""
        return self._pool.submit(self._run, notification, channel)

    def _run(self, notification: Notification, channel: Channel) -> DeliveryReport:
        report = self._dispatcher.deliver(notification, channel)
        try:
            self._on_report(report)
        except Exception:
            log.exception("recording the delivery report of %s failed", notification.reference)
        return report

    def close(self, *, wait: bool = True) -> None:
        """Stop retrying and shut the workers down (waiting for them when ``wait``)."""
        self._stop.set()
        self._pool.shutdown(wait=wait)
