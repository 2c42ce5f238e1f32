"""Fixtures for the alerting tests: a webhook receiver on loopback and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.alerts.fleet import FakeClock, Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver recording what it accepts (``fail_next`` makes it answer 503)."""
    rec = await Receiver().start()
    yield rec
    await rec.stop()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says."""
    return FakeClock()
