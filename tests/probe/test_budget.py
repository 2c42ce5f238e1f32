"""The daily probe budget: counting, pausing, the next day, and persistence in probe_spend."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import Engine

from signalbox.probe.budget import Budget, add_spend, load_spend


def test_budget_allows_until_spent_then_logs_the_pause_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = Budget(0.01, today=lambda: date(2026, 3, 1))
    assert budget.allow()
    budget.add(0.006)
    assert budget.allow()
    budget.add(0.006)
    with caplog.at_level(logging.WARNING, logger="signalbox.probe.budget"):
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


def test_spend_is_added_per_day_by_every_worker(engine: Engine) -> None:
    day = date(2026, 3, 1)
    assert load_spend(engine, day) == 0.0
    assert add_spend(engine, day, 0.5) == pytest.approx(0.5)
    assert add_spend(engine, day, 0.25) == pytest.approx(0.75)  # another worker's share adds up
    assert load_spend(engine, day) == pytest.approx(0.75)
    assert load_spend(engine, date(2026, 3, 2)) == 0.0


def test_two_workers_pause_when_their_spending_together_reaches_the_budget(
    engine: Engine,
) -> None:
    day = date(2026, 3, 1)
    first, second = (Budget(1.0, today=lambda: day) for _ in range(2))

    def save(budget: Budget) -> None:  # what each probe service does every few seconds
        taken_day, unsaved = budget.take_unsaved()
        budget.stored(taken_day, add_spend(engine, taken_day, unsaved))

    first.add(0.4)
    second.add(0.4)
    save(first)
    save(second)
    assert second.spent_usd == pytest.approx(0.8) and second.allow()
    first.add(0.15)  # unsaved yet, but counted by its own worker
    save(first)
    assert first.spent_usd == pytest.approx(0.95)
    second.add(0.1)
    save(second)
    # neither spent the budget alone; together they did, and both stop
    assert not second.allow()
    save(first)
    assert not first.allow()
    assert load_spend(engine, day) == pytest.approx(1.05)


def test_a_failed_save_keeps_the_spending_for_the_next() -> None:
    day = date(2026, 3, 1)
    budget = Budget(1.0, today=lambda: day)
    budget.add(0.3)
    taken_day, unsaved = budget.take_unsaved()
    budget.unstored(taken_day, unsaved)  # the store was down
    assert budget.take_unsaved() == (day, pytest.approx(0.3))
