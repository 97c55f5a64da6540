"""Detectors: small stateful estimators that learn from events and score them.

A detector never acts. It returns :class:`Evidence`: a likelihood ratio
P(observation | fraud) / P(observation | legitimate) and the facts behind it. The policy combines
evidence into a fraud probability and decides. Per-customer detectors keep one small state object
per subscriber; cross-customer detectors keep aggregates. See ``docs/detection.md``.
"""

from tollguard.domain.detectors.base import CallContext, Evidence

__all__ = ["CallContext", "Evidence"]
