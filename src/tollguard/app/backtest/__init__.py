"""Backtest: score policies' replay outputs against a simulated data set and report on them.

- :func:`score` / :func:`score_policies`: pure scoring of replay outputs against the labels.
- :func:`render_report`: the self-contained HTML report; :func:`write_summary`: ``summary.json``.
- :func:`run_backtest`: replays each policy with the engine, scores, writes both files.

Metrics are defined in ``docs/backtest.md``.
"""

from __future__ import annotations

from tollguard.app.backtest.pricing import Rater, TariffRater
from tollguard.app.backtest.report import render_html, render_report, write_outputs, write_summary
from tollguard.app.backtest.runner import DEFAULT_POLICIES, read_jsonl, run_backtest
from tollguard.app.backtest.scoring import (
    NO_CONTROL,
    BacktestResult,
    IncidentScore,
    PolicyResult,
    score,
    score_policies,
)
from tollguard.app.backtest.truth import Truth, load_truth

__all__ = [
    "DEFAULT_POLICIES",
    "NO_CONTROL",
    "BacktestResult",
    "IncidentScore",
    "PolicyResult",
    "Rater",
    "TariffRater",
    "Truth",
    "load_truth",
    "read_jsonl",
    "render_html",
    "render_report",
    "run_backtest",
    "score",
    "score_policies",
    "write_outputs",
    "write_summary",
]
