"""``signalbox probe`` flags for fleets: leader jobs and claims on by default, intervals checked."""

from __future__ import annotations

import argparse

import pytest

from signalbox.cli import probe as cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_scheduler_runs_leader_jobs_and_claims_by_default() -> None:
    args = parse()
    assert not args.no_leader_jobs and not args.no_claims
    assert (args.alert_interval, args.rollup_interval) == (30.0, 60.0)


def test_a_pure_prober_turns_leader_jobs_and_claims_off() -> None:
    args = parse("--no-leader-jobs", "--no-claims", "--alert-interval", "5", "--drop-lag-ms", "50")
    assert args.no_leader_jobs and args.no_claims
    assert (args.alert_interval, args.drop_lag_ms) == (5.0, 50.0)


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_an_interval_that_is_not_a_positive_number_is_refused_with_its_value(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse("--rollup-interval", value)
    assert f"invalid value '{value}': a number > 0" in capsys.readouterr().err
