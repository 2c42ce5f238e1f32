"""``signalbox alerts``: firing alerts first, then what resolved within the window."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from signalbox.cli import alerts as alerts_cli
from signalbox.db import make_engine
from signalbox.schema import Alert
from signalbox.settings import Settings
from tests.alerts.fleet import fleet_catalog, sync


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    alerts_cli.add_arguments(parser)
    return parser.parse_args(argv)


def seed(url: str) -> None:
    engine = make_engine(url)
    ids = sync(engine, fleet_catalog())
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(
            Alert(
                rule="provider_down",
                endpoint_id=ids["alpha"],
                state="firing",
                severity="critical",
                started_at=now - timedelta(minutes=3),
                firing_at=now - timedelta(minutes=2),
                value=0.62,
                threshold=0.3,
                reason="error rate 62.0% > 30.0%",
                notified_firing=True,
            )
        )
        session.add(
            Alert(
                rule="ttft_slow",
                endpoint_id=ids["bravo"],
                state="resolved",
                started_at=now - timedelta(hours=3),
                firing_at=now - timedelta(hours=3),
                resolved_at=now - timedelta(hours=2),
                value=1.1,
                threshold=2.0,
                reason="ok",
                notified_firing=True,
                notified_resolved=True,
            )
        )
        session.add(
            Alert(
                rule="ttft_slow",
                endpoint_id=ids["alpha"],
                state="resolved",
                started_at=now - timedelta(days=3),
                firing_at=now - timedelta(days=3),
                resolved_at=now - timedelta(days=2),
                threshold=2.0,
            )
        )
        session.commit()
    engine.dispose()


def test_lists_firing_alerts_and_history_of_the_window(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(sqlite_url)
    assert alerts_cli.run(parse("--since", "24h"), Settings(database_url=sqlite_url)) == 0
    out = capsys.readouterr().out
    firing, history = out.split("resolved in the last 1d:")
    assert "FIRING" in firing and "provider_down" in firing and "alpha/llama-3.1-70b" in firing
    assert "error rate 62.0% > 30.0%" in firing
    assert "bravo/llama-3.1-70b" in history
    assert "alpha/llama-3.1-70b" not in history  # resolved two days ago: outside the window


def test_all_shows_the_whole_history(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed(sqlite_url)
    alerts_cli.run(parse("--all"), Settings(database_url=sqlite_url))
    out = capsys.readouterr().out
    assert "resolved ever:" in out
    assert out.split("resolved ever:")[1].count("ttft_slow") == 2


def test_empty_store_says_so(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    alerts_cli.run(parse(), Settings(database_url=sqlite_url))
    out = capsys.readouterr().out
    assert "no firing or pending alerts" in out and "no alerts resolved in the last 1d" in out


@pytest.mark.parametrize("text", ["soon", "-5m", "24x"])
def test_bad_duration_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 30m"):
        alerts_cli.parse_duration(text)


def test_once_evaluates_the_rules_then_lists_the_firing_alert(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.alerts.fleet import FLEET_TOML, OUTAGE_RULE, Fleet

    catalog_path = tmp_path / "signalbox.toml"
    catalog_path.write_text(FLEET_TOML + OUTAGE_RULE.replace("for_s = 30", "for_s = 0"))
    engine = make_engine(sqlite_url)
    fleet = Fleet(engine, sync(engine, fleet_catalog()))
    fleet.behaviour["alpha"].ok = False
    now = datetime.now(UTC).timestamp()
    for i in range(10):
        fleet.observe(now - 100 + 10 * i)
    engine.dispose()
    settings = Settings(database_url=sqlite_url, catalog=catalog_path)
    assert alerts_cli.run(parse("--once"), settings) == 0
    out = capsys.readouterr().out
    assert "evaluated 1 rules on 2 endpoints: open_firing 1" in out
    assert "FIRING  provider_down  alpha/llama-3.1-70b" in out
