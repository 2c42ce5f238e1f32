"""Two ``signalbox probe`` processes on one PostgreSQL split the endpoints: each endpoint x shape
is probed once per interval, none twice and none missed, and when one stops the other covers all.

Counting probes in fixed wall-clock windows would be wrong here: each job runs on its own phase,
spaced one interval plus a random jitter of up to ``JITTER_S``, so a fixed window of one interval
holds two runs now and then, or none, even when nothing is wrong. What "once per interval" means is
the spacing of consecutive probes of one endpoint x shape: a double probe shows as a gap far below
the interval (claims keep every gap at 0.9 x interval or more), a missed one as a gap of about two
intervals. So every gap must lie within [0.8, 1.6] x interval.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread
from tests.fleet.procs import Service, poll, query, service_env, start_service

INTERVAL_S = 2.0
JITTER_S = 0.2
# Timings taken under loop lag are dropped by default (a busy test machine): keep every probe.
PROBE_ARGS = ["probe", "--no-router-poll", "--no-leader-jobs", "--drop-lag-ms", "1e6"]


def live_leases(db_url: str) -> dict[str, int]:
    rows = query(
        db_url,
        "SELECT holder, count(*) FROM lease WHERE name LIKE 'probe:%' AND expires_at > :now"
        " GROUP BY holder",
        now=datetime.now(UTC),
    )
    return {holder: count for holder, count in rows}


def probe_times(db_url: str, since: datetime) -> dict[tuple[int, str], list[datetime]]:
    rows = query(
        db_url,
        "SELECT endpoint_id, probe_shape, ts FROM observation"
        " WHERE source = 'probe' AND ts >= :since ORDER BY ts",
        since=since,
    )
    times: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for endpoint_id, shape, ts in rows:
        times[(endpoint_id, shape)].append(ts if ts.tzinfo else ts.replace(tzinfo=UTC))
    return times


def all_probed_after(db_url: str, jobs: int, after: datetime) -> bool:
    times = probe_times(db_url, after)
    return len(times) == jobs


def holder(service: Service) -> str:
    """The name a worker claims under (from its start-up line)."""
    return service.log().split("endpoint x shape jobs as ")[1].split()[0]


def bad_gaps(times: dict[tuple[int, str], list[datetime]]) -> list[str]:
    bad = []
    for job, stamps in sorted(times.items()):
        for before, after in pairwise(stamps):
            gap_s = (after - before).total_seconds()
            if not 0.8 * INTERVAL_S <= gap_s <= 1.6 * INTERVAL_S:
                bad.append(f"{job}: {gap_s:.2f} s after {before:%H:%M:%S.%f}")
    return bad


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_probers_probe_each_endpoint_once_per_interval_and_one_covers_all_when_the_other_stops(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(
            catalog_toml(
                sim.scenario, sim.base_url, probe_interval_s=INTERVAL_S, probe_jitter_s=JITTER_S
            )
        )
        keys = api_key_environment(sim.scenario)
        services: list[Service] = []
        try:
            for name in ("a", "b"):
                env = service_env(fresh_pg_url, catalog, tmp_path / name, **keys)
                services.append(start_service(f"probe-{name}", PROBE_ARGS, env, tmp_path))
            a, b = services
            jobs = sum(len(p.models) for p in sim.scenario.providers)

            # given two workers that split the endpoints between them
            def balanced() -> bool:
                counts = live_leases(fresh_pg_url)
                return len(counts) == 2 and min(counts.values()) >= jobs // 2 - 1

            poll(balanced, 40, f"both workers hold a share of the {jobs} leases")
            t0 = datetime.now(UTC)
            poll(
                lambda: all_probed_after(
                    fresh_pg_url, jobs, t0 + timedelta(seconds=4 * INTERVAL_S)
                ),
                30,
                "four intervals of probes",
            )

            # when one of them stops
            assert a.stop() == 0
            stopped = datetime.now(UTC)
            poll(
                lambda: all_probed_after(
                    fresh_pg_url, jobs, stopped + timedelta(seconds=3 * INTERVAL_S)
                ),
                30,
                "three intervals of probes after one worker stopped",
            )

            # then every endpoint x shape was probed once per interval throughout, none twice
            times = probe_times(fresh_pg_url, t0)
            assert len(times) == jobs
            assert bad_gaps(times) == []
            assert list(live_leases(fresh_pg_url)) == [holder(b)]
            assert b.alive()
            assert "Traceback" not in a.log() + b.log()
        finally:
            for service in services:
                service.stop()
