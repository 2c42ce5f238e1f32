"""``signalbox replay``: what a routing policy would have gained on this store's own history.

The signalbox policy ranks as the router does, with the catalog's ``[routing]`` settings (the
defaults, said so, when the catalog cannot be read) and the constraints given as flags."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any

from signalbox.routing.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, describe_objectives

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
POLICY_CHOICES = ("signalbox", "round-robin", "static-best")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d`` → a timedelta (ValueError otherwise)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad duration '{text}': use a number and s, m, h or d (e.g. 24h)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox replay``."""
    parser.add_argument("--model", required=True, help="canonical model name")
    parser.add_argument("--since", default="24h", help="how far back (e.g. 30m, 24h, 7d)")
    # Literal, not imported, so that `signalbox --help` does not load polars (a test pins it).
    parser.add_argument("--policy", default="signalbox", choices=POLICY_CHOICES)
    parser.add_argument(
        "--sort",
        default=str(DEFAULT_OBJECTIVE),
        choices=list(OBJECTIVES),
        help=f"the objective the policy optimises: {describe_objectives('; ')}",
    )
    parser.add_argument("--step", type=float, default=60.0, help="decision step in seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sharing/exploration draws")
    group = parser.add_argument_group(
        "constraints (as an app sends them to the router; they shape the signalbox policy)"
    )
    group.add_argument("--only", type=_names, help="comma-separated providers allowed")
    group.add_argument("--ignore", type=_names, help="comma-separated providers excluded")
    group.add_argument(
        "--max-price", type=_number, help="USD per million tokens for the request's mix"
    )
    group.add_argument("--max-ttft-ms", type=_number, help="TTFT p50 above this excludes")
    group.add_argument("--min-tps", type=_number, help="tokens/s p50 below this excludes")
    group.add_argument(
        "--max-error-rate", type=_fraction, help="decayed error rate above this excludes (0 to 1)"
    )


CONSTRAINT_FLAGS = ("only", "ignore", "max_price", "max_ttft_ms", "min_tps", "max_error_rate")


def _names(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give one or more provider names, comma-separated")
    return names


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if value > 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _change(new: float | None, old: float | None) -> str:
    if new is None or old is None or old == 0:
        return "n/a"
    return f"{(new - old) / old * 100:+.1f} %"


def run(args: argparse.Namespace, settings: Any) -> int:
    """Load the window, replay, print the comparison table and the gains."""
    from signalbox.catalog import routing_settings
    from signalbox.db import make_engine
    from signalbox.records import utcnow
    from signalbox.replay import load, replay
    from signalbox.routing.objectives import Objective
    from signalbox.routing.select import Constraints

    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        print(f"signalbox replay: {exc}", file=sys.stderr)
        return 2
    if args.step <= 0:
        print("signalbox replay: --step must be positive", file=sys.stderr)
        return 2
    given = {n: getattr(args, n) for n in CONSTRAINT_FLAGS if getattr(args, n) is not None}
    if given and args.policy != "signalbox":
        print(
            "signalbox replay: constraints shape the signalbox policy's choices;"
            " use --policy signalbox or drop them",
            file=sys.stderr,
        )
        return 2
    constraints = Constraints(**{**given, "ignore": args.ignore or frozenset()})
    routing, why_default = routing_settings(settings.catalog)
    if why_default:
        print(f"signalbox replay: {why_default}", file=sys.stderr)
    until = utcnow()
    since = until - window
    engine = make_engine(settings.effective_database_url)
    try:
        obs, endpoints = load(engine, args.model, since, until)
    finally:
        engine.dispose()
    if not endpoints:
        print(f"signalbox replay: unknown model '{args.model}'", file=sys.stderr)
        return 2
    report = replay(
        obs,
        endpoints,
        model=args.model,
        since=since,
        until=until,
        objective=Objective(args.sort),
        policy=args.policy,
        step_s=args.step,
        settings=routing,
        constraints=constraints,
        seed=args.seed,
    )
    if report.steps == 0:
        print(
            f"signalbox replay: no {args.step:g}s step in the last {args.since} has observations of"
            f" every endpoint of {args.model} (in the step or up to {routing.stale_after_s:g}s"
            " before); try a longer --since or --step",
            file=sys.stderr,
        )
        return 1
    print(
        f"{args.model}: policy {args.policy}, objective {args.sort}, {report.steps} steps of"
        f" {args.step:g}s in the last {args.since}"
    )
    print(f"ranked as the router ranks: {routing.summary()}")
    if constraints.describe():
        print(f"constraints: {constraints.describe()}")
    if report.silent:
        print(f"left out (no observations in the window): {', '.join(report.silent)}")
    if report.carried:
        print(
            f"{report.carried} step(s) took an endpoint's outcome from up to"
            f" {routing.stale_after_s:g}s before (not observed in the step)"
        )
    if report.policy.unserved:
        print(f"{report.policy.unserved} step(s) with no endpoint meeting the constraints (errors)")
    shares = ", ".join(
        f"{p} {n / report.steps:.0%}" for p, n in sorted(report.policy.choices.items())
    )
    print(f"the policy chose: {shares or 'nothing'}")
    print()
    header = (
        f"{'strategy':<24} {'steps':>6} {'TTFT ms':>9} {'tok/s':>8} {'errors':>7} {'$/Mtok':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in report.rows():
        print(
            f"{row['policy']!s:<24} {row['steps']:>6} {_fmt(row['ttft_ms'], '9.1f')}"
            f" {_fmt(row['tps'], '8.1f')} {_fmt(row['error_rate'], '7.1%')}"
            f" {_fmt(row['cost_per_mtok'], '8.3f')}"
        )
    mine = report.policy.summary()
    print("\nWhat the policy gains over sending everything to one provider:")
    for single in report.singles:
        other = single.summary()
        print(
            f"  vs {single.name[5:]:<18} TTFT {_change(mine['ttft_ms'], other['ttft_ms'])},"  # type: ignore[arg-type]
            f" tok/s {_change(mine['tps'], other['tps'])},"  # type: ignore[arg-type]
            f" errors {_change(mine['error_rate'], other['error_rate'])}"  # type: ignore[arg-type]
        )
    best = report.hindsight.summary()
    print(
        f"  vs hindsight (best choice each step): TTFT {_change(mine['ttft_ms'], best['ttft_ms'])},"  # type: ignore[arg-type]
        f" tok/s {_change(mine['tps'], best['tps'])}"  # type: ignore[arg-type]
    )
    return 0
