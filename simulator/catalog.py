"""A Signalbox catalog for a scenario: every provider pointed at a running simulator."""

from __future__ import annotations

import re

from signalbox.protocols import protocol
from signalbox.simulator.scenario import Scenario


def api_key_env(provider: str) -> str:
    """The environment variable the catalog names for a provider's key: ``SIM_<PROVIDER>_KEY``."""
    return "SIM_" + re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_KEY"


def api_key_environment(scenario: Scenario) -> dict[str, str]:
    """The environment variables a prober or router needs to authenticate to the fleet."""
    return {api_key_env(p.name): p.api_key for p in scenario.providers if p.api_key is not None}


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def catalog_toml(
    scenario: Scenario,
    base_url: str,
    *,
    probe_interval_s: float = 15.0,
    probe_jitter_s: float = 2.0,
    max_tokens: int = 64,
) -> str:
    """Catalog TOML for ``scenario`` served at ``base_url``; endpoints grouped by canonical model.

    Each provider's ``base_url`` is ``{base_url}/{name}`` plus what its protocol's official SDK
    expects (``/v1`` for OpenAI's, nothing for Anthropic's and Gemini's); the scenario's prices
    become endpoint price overrides.
    """
    base_url = base_url.rstrip("/")
    lines = [f"# Catalog for simulator scenario {_q(scenario.name)} at {base_url}", ""]
    for p in scenario.providers:
        url = f"{base_url}/{p.name}{protocol(p.dialect).base_path}"
        lines += ["[[provider]]", f"name = {_q(p.name)}", f"base_url = {_q(url)}"]
        lines.append(f"api = {_q(p.dialect)}")
        if p.api_key is not None:
            lines.append(f"api_key_env = {_q(api_key_env(p.name))}")
        if p.region:
            lines.append(f"region = {_q(p.region)}")
        lines.append("")
    models: dict[str, list[str]] = {}
    for p in scenario.providers:
        for m in p.models:
            entry = [
                "[[model.endpoint]]",
                f"provider = {_q(p.name)}",
                f"upstream_model = {_q(m.upstream_model)}",
            ]
            if m.price_input_per_mtok is not None:
                entry.append(f"price_input_per_mtok = {m.price_input_per_mtok!r}")
            if m.price_output_per_mtok is not None:
                entry.append(f"price_output_per_mtok = {m.price_output_per_mtok!r}")
            models.setdefault(m.model, []).extend([*entry, ""])
    for name, entries in models.items():
        lines += ["[[model]]", f"name = {_q(name)}", "", *entries]
    lines += [
        "[probe]",
        f"interval_s = {float(probe_interval_s)!r}",
        f"jitter_s = {float(probe_jitter_s)!r}",
        "",
        "[[probe.shape]]",
        'name = "short"',
        f"max_tokens = {int(max_tokens)}",
        "",
    ]
    return "\n".join(lines)
