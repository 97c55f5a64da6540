"""Prometheus metrics of the live service (``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# In-process decision time: tens of microseconds normally; the buckets reach 10 ms to show stalls.
DECISION_BUCKETS = (
    5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3,
)  # fmt: skip


class _Live(Collector):
    """Gauges read at scrape time from the running service."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        for name, value in sorted(self.read().items()):
            g = GaugeMetricFamily(f"tollguard_{name}", name.replace("_", " "))
            g.add_metric([], value)
            yield g


class ServiceMetrics:
    """Counters and histograms updated on the request path, gauges read when scraped."""

    def __init__(self, gauges: Callable[[], dict[str, float]]) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "tollguard_decisions",
            "Authorization answers, by decision and first reason.",
            ["decision", "reason"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "tollguard_decision_seconds",
            "Time the engine took to decide a call set-up (in process, without HTTP).",
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "tollguard_events",
            "Events received, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.registry.register(_Live(gauges))
