"""Probe claims in the store: one worker per endpoint x shape and interval, take-overs, outages."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from signalbox.claim import claim_lease
from signalbox.db import make_engine
from signalbox.probe.claims import LEASE_SHARE, ProbeClaims, lease_name

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def claim(engine: Engine, holder: str, at_s: float, lease_s: float = 9.0) -> bool:
    now = T0 + timedelta(seconds=at_s)
    with engine.begin() as conn:
        return claim_lease(conn, "probe:1:short", holder, now, now + timedelta(seconds=lease_s))


def test_a_lease_goes_to_one_holder_until_it_expires(engine: Engine) -> None:
    assert claim(engine, "a", 0)
    assert not claim(engine, "b", 5)
    assert claim(engine, "b", 9)  # expired at 9 s
    assert not claim(engine, "a", 10)


def test_the_holder_renews_its_own_live_lease(engine: Engine) -> None:
    assert claim(engine, "a", 0)
    assert claim(engine, "a", 5)
    assert not claim(engine, "b", 10)  # renewed at 5 s: live until 14 s


async def test_a_lost_claim_stands_by_just_after_the_holders_next_renewal(engine: Engine) -> None:
    a, b = ProbeClaims(engine, holder="a"), ProbeClaims(engine, holder="b")
    try:
        assert (await a.claim("probe:1:short", 10.0, 1.0)).run
        lost = await b.claim("probe:1:short", 10.0, 1.0)
        assert not lost.run and lost.next_run_at is not None
        ahead_s = (lost.next_run_at - datetime.now(UTC)).total_seconds()
        # lease 9 s, then the holder's renewal is due within 1 s + 1 s jitter, plus a margin
        assert LEASE_SHARE * 10 + 2 - 0.5 < ahead_s <= 10 + 2 + 0.5
    finally:
        a.close()
        b.close()


async def test_a_lost_claim_to_a_busier_holder_takes_over_as_the_lease_lapses(
    engine: Engine,
) -> None:
    a, b = ProbeClaims(engine, holder="a"), ProbeClaims(engine, holder="b")
    try:
        for endpoint_id in range(1, 5):
            assert (await a.claim(lease_name(endpoint_id, "short"), 10.0, 1.0)).run
        lost = await b.claim(lease_name(1, "short"), 10.0, 1.0)
        assert lost.next_run_at is not None
        ahead_s = (lost.next_run_at - datetime.now(UTC)).total_seconds()
        assert LEASE_SHARE * 10 - 0.5 < ahead_s < 10.0  # before the holder's own next run
        # a 4:0 split becomes 2:2: the second lost claim takes over too, the third stands by
        second = await b.claim(lease_name(2, "short"), 10.0, 1.0)
        third = await b.claim(lease_name(3, "short"), 10.0, 1.0)
        assert second.next_run_at is not None and third.next_run_at is not None
        assert second.next_run_at - lost.next_run_at < timedelta(seconds=0.5)
        assert third.next_run_at - lost.next_run_at > timedelta(seconds=1)
        assert b.counts["takeovers_planned"] == 2
    finally:
        a.close()
        b.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_store_means_probe_anyway_and_say_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_closed_port()}/none")
    claims = ProbeClaims(engine, holder="a")
    try:
        with caplog.at_level(logging.WARNING, logger="signalbox.probe.claims"):
            first = await claims.claim(lease_name(1, "short"), 4.0)
            second = await claims.claim(lease_name(2, "short"), 4.0)
        assert first.run and second.run
        warnings = [r for r in caplog.records if "probing without claims" in r.getMessage()]
        assert len(warnings) == 1
        assert claims.failing and claims.counts["unclaimed"] == 2
    finally:
        claims.close()
        engine.dispose()
