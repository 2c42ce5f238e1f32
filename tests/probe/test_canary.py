"""A provider key never leaks: not in logs, output, exceptions or observations; only to its provider."""

from __future__ import annotations

import argparse
import logging
import traceback
from pathlib import Path

import pytest
from sqlalchemy import text

from signalbox.cli import probe as cli
from signalbox.db import make_engine
from signalbox.probe import runner as probe_runner
from signalbox.probe.runner import Timeouts, make_client, probe_target
from signalbox.settings import Settings
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.scenario import ERROR_KINDS, parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.probe.conftest import make_target
from tests.probe.fleet import DIALECTS, scenario_toml
from tests.probe.scripted_server import DONE, Script, ScriptedServer, openai_chunk

CANARY = "sk-CANARY-7f3a9c1e5b2d4068"


def test_the_canary_key_appears_in_no_log_output_exception_or_row(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given every provider (healthy and failing in each way) keyed with the canary
    scenario = parse_scenario(scenario_toml(canary_key=CANARY))
    failures: list[str] = []
    real_classify = probe_runner.classify

    def spying_classify(failure: BaseException | None = None, **kwargs: object) -> object:
        if failure is not None:
            failures.append(repr(failure) + str(failure))
            failures.append("".join(traceback.format_exception(failure)))
        return real_classify(failure, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(probe_runner, "classify", spying_classify)
    with SimulatorThread(scenario) as sim:
        catalog = tmp_path / "catalog.toml"
        text_ = catalog_toml(scenario, sim.base_url, max_tokens=8)
        catalog.write_text(
            text_.replace("[probe]\n", "[probe]\nttft_timeout_s = 0.5\ntotal_timeout_s = 5.0\n")
        )
        env = api_key_environment(scenario)
        assert set(env.values()) == {CANARY}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings(database_url=sqlite_url, catalog=catalog, data_dir=tmp_path)
        parser = argparse.ArgumentParser()
        cli.add_arguments(parser)
        # when probing everything once, with every logger at DEBUG (httpx and httpcore included)
        with caplog.at_level(logging.DEBUG):
            code = cli.run(parser.parse_args(["--once"]), settings)
    # then the probes did run, succeeded and failed ...
    assert code == 0
    assert len(failures) >= 8
    out, err = capfd.readouterr()
    assert "ok" in out and "stream_error" in out
    # ... and the key is nowhere
    assert CANARY not in out and CANARY not in err
    assert CANARY not in caplog.text
    assert not [f for f in failures if CANARY in f]
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM observation")).all()
    finally:
        engine.dispose()
    assert len(rows) == len(DIALECTS) * (1 + len(ERROR_KINDS))  # every provider, once
    assert CANARY not in repr(rows)
    assert not list(tmp_path.rglob("*.jsonl")) or CANARY not in "".join(
        p.read_text() for p in tmp_path.rglob("*.jsonl")
    )


async def test_a_key_is_sent_only_to_its_own_provider(scripted: ScriptedServer) -> None:
    script = Script([(0, openai_chunk("a")), (0, openai_chunk("b", finish="stop")), (0, DONE)])
    scripted.scripts["mine"] = script
    scripted.scripts["other"] = script
    mine = make_target(scripted.url("mine"), name="mine", api_key=CANARY)
    other = make_target(scripted.url("other"), name="other", endpoint_id=2)
    assert CANARY not in repr(mine)
    async with make_client() as client:
        for target in (mine, other, mine):
            obs = await probe_target(client, target, timeouts=Timeouts())
            assert obs.ok
    by_path = {r.path: r.headers for r in scripted.received}
    assert by_path["/mine/v1/chat/completions"]["Authorization"] == f"Bearer {CANARY}"
    assert CANARY not in repr(by_path["/other/v1/chat/completions"])
