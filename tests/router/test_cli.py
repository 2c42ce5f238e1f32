"""``signalbox route MODEL`` prints the ranking; an unreachable router is one line and exit 1."""

from __future__ import annotations

import argparse
import asyncio

from signalbox.cli import route as route_cli
from signalbox.router import cli as router_cli
from signalbox.settings import Settings
from tests.router.conftest import sim_catalog


def parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


async def test_route_command_prints_the_ranking_table(sim, router_factory, capsys) -> None:
    async with router_factory(sim_catalog(sim), sim) as router:
        args = parse(route_cli, ["llama-3.1-70b", "--sort", "latency"])
        code = await asyncio.to_thread(route_cli.run, args, Settings(router_url=router.url))
    out = capsys.readouterr().out
    assert code == 0
    assert "llama-3.1-70b · latency" in out
    assert "provider" in out and "reason:" in out
    assert sum(p in out for p in ("alpha", "bravo", "charlie", "delta")) == 4


def test_route_command_with_router_down_is_one_line_exit_1(capsys) -> None:
    args = parse(route_cli, ["llama-3.1-70b"])
    code = route_cli.run(args, Settings(router_url="http://127.0.0.1:9"))
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "router unreachable" in err


def test_router_command_takes_host_and_port() -> None:
    args = parse(router_cli, ["--host", "0.0.0.0", "--port", "9000"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)
