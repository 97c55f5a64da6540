"""Carrier traffic simulator: realistic synthetic subscribers, CDRs, SIP events and ground truth.

Self-contained by design: nothing here is imported by the detection engine, and nothing here
imports it. See ``docs/simulation.md``.
"""

from tollguard.app.simulate.engine import SimulationConfig, SimulationSummary, simulate

__all__ = ["SimulationConfig", "SimulationSummary", "simulate"]
