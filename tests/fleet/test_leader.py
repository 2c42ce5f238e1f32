"""Of two ``signalbox probe`` processes on one PostgreSQL, exactly one leads and runs the alert
evaluation, rollups and retention; when it stops, the other takes over within one interval."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread
from tests.fleet.procs import Service, execute, poll, query, service_env, start_service

LEADER_INTERVAL_S = 2.0
PROBE_ARGS = [
    "probe",
    "--no-router-poll",
    "--alert-interval",
    str(LEADER_INTERVAL_S),
    "--rollup-interval",
    str(LEADER_INTERVAL_S),
]
TOOK = re.compile(r"^(\S+ \S+) INFO signalbox\.leader: \S+ took leadership", re.MULTILINE)
RELEASED = re.compile(r"^(\S+ \S+) INFO signalbox\.leader: \S+ released leadership", re.MULTILINE)


def advisory_locks(db_url: str) -> int:
    return query(
        db_url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )[0][0]


def minute_rollups(db_url: str) -> int:
    return query(db_url, "SELECT count(*) FROM observation_1m")[0][0]


def took(service: Service) -> list[datetime]:
    return [datetime.strptime(ts, "%Y-%m-%d %H:%M:%S,%f") for ts in TOOK.findall(service.log())]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_one_of_two_schedulers_leads_and_the_other_takes_over_when_it_stops(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(catalog_toml(sim.scenario, sim.base_url, probe_interval_s=2.0))
        keys = api_key_environment(sim.scenario)
        services: list[Service] = []
        try:
            # given two scheduler processes on one store
            for name in ("a", "b"):
                env = service_env(fresh_pg_url, catalog, tmp_path / name, **keys)
                services.append(start_service(f"probe-{name}", PROBE_ARGS, env, tmp_path))
            poll(
                lambda: all("leader jobs" in s.log() for s in services),
                40,
                "both processes scheduled the leader jobs",
            )
            leader = poll(
                lambda: next((s for s in services if took(s)), None), 20, "a process took the lead"
            )
            follower = next(s for s in services if s is not leader)

            # then exactly one leads, and it runs the rollups
            poll(lambda: minute_rollups(fresh_pg_url) > 0, 30, "the leader rolled up observations")
            assert advisory_locks(fresh_pg_url) == 1
            assert took(follower) == []

            # when the leader stops
            assert leader.stop() == 0
            released = datetime.strptime(RELEASED.findall(leader.log())[-1], "%Y-%m-%d %H:%M:%S,%f")
            assert execute(fresh_pg_url, "DELETE FROM observation_1m") > 0

            # then the other takes over within one interval and runs the rollups in its place
            taken = poll(lambda: took(follower), 20, "the follower took the lead")[0]
            assert (taken - released).total_seconds() <= LEADER_INTERVAL_S + 1.0
            poll(lambda: minute_rollups(fresh_pg_url) > 0, 30, "the new leader rolled up")
            assert advisory_locks(fresh_pg_url) == 1
            assert follower.alive()
            assert "Traceback" not in leader.log()
        finally:
            for service in services:
                service.stop()
