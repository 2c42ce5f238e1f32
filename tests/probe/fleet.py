"""A simulator scenario for probe tests: one healthy provider and one per error kind, in every
dialect (one per registered wire protocol)."""

from __future__ import annotations

from signalbox.protocols import PROTOCOLS
from signalbox.simulator.scenario import ERROR_KINDS

DIALECTS = tuple(PROTOCOLS)


def provider_name(dialect: str, kind: str) -> str:
    """``op-ok``, ``an-http-500``, ``ge-hang``...: the provider failing with ``kind`` in ``dialect``."""
    return dialect[:2] + "-" + kind.replace("_", "-")


def scenario_toml(canary_key: str | None = None) -> str:
    """Every provider serves model ``m``; ``*-ok`` ones succeed, the others always fail their way.

    With ``canary_key``, the ``*-ok`` providers and the error ones all require that key.
    """
    lines = [
        'name = "probe-tests"',
        "seed = 3",
        "[defaults]",
        "ttft_median_ms = 5.0",
        "ttft_sigma = 0.1",
        "tps = 2000.0",
        "output_tokens_median = 12",
        "output_tokens_sigma = 0.0",
        "price_input_per_mtok = 1.0",
        "price_output_per_mtok = 2.0",
    ]
    for dialect in DIALECTS:
        for kind in ("ok", *ERROR_KINDS):
            lines += [
                "[[provider]]",
                f'name = "{provider_name(dialect, kind)}"',
                f'dialect = "{dialect}"',
            ]
            key = canary_key or f"sk-test-{provider_name(dialect, kind)}"
            lines.append(f'api_key = "{key}"')
            lines += ["[[provider.model]]", 'model = "m"']
            if kind != "ok":
                lines.append(f"errors = {{ {kind} = 1.0 }}")
    return "\n".join(lines) + "\n"
