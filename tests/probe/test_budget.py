"""The daily probe budget: counting, pausing, the next day, and persistence in probe_spend."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import Engine

from probe.budget import Budget, load_spend, save_spend


def test_budget_allows_until_spent_then_logs_the_pause_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = Budget(0.01, today=lambda: date(2026, 3, 1))
    assert budget.allow()
    budget.add(0.006)
    assert budget.allow()
    budget.add(0.006)
    with caplog.at_level(logging.WARNING, logger="probe.budget"):
        assert not budget.allow()
        assert not budget.allow()
    assert budget.paused and budget.skipped == 2
    assert len([r for r in caplog.records if "probing paused" in r.message]) == 1


def test_budget_resets_at_the_next_utc_day() -> None:
    day = [date(2026, 3, 1)]
    budget = Budget(0.01, spent_usd=0.02, today=lambda: day[0])
    assert not budget.allow()
    day[0] = date(2026, 3, 2)
    assert budget.allow() and budget.spent_usd == 0.0 and budget.day == date(2026, 3, 2)


def test_no_budget_never_pauses() -> None:
    budget = Budget(None)
    budget.add(1e6)
    assert budget.allow() and not budget.paused


def test_spend_is_persisted_per_day_and_never_lowered(engine: Engine) -> None:
    day = date(2026, 3, 1)
    assert load_spend(engine, day) == 0.0
    save_spend(engine, day, 0.5)
    save_spend(engine, day, 0.25)  # another worker's lower figure does not win
    assert load_spend(engine, day) == pytest.approx(0.5)
    save_spend(engine, day, 0.75)
    assert load_spend(engine, day) == pytest.approx(0.75)
    assert load_spend(engine, date(2026, 3, 2)) == 0.0
