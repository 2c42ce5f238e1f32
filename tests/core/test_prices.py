"""Prices come from the catalog's override, else genai-prices, else null with one warning."""

from __future__ import annotations

import logging

import pytest

from signalbox.catalog import parse_catalog
from signalbox.prices import Prices, resolve_prices

TEMPLATE = """
[[provider]]
name = "{provider}"
base_url = "http://127.0.0.1:9/v1"
[[model]]
name = "m"
[[model.endpoint]]
provider = "{provider}"
upstream_model = "{upstream}"
{extra}
"""


def _ref(provider: str, upstream: str, extra: str = ""):  # type: ignore[no-untyped-def]
    text = TEMPLATE.format(provider=provider, upstream=upstream, extra=extra)
    return next(parse_catalog(text).endpoints())


def test_catalog_override_wins() -> None:
    ref = _ref(
        "groq", "llama-3.3-70b-versatile", "price_input_per_mtok = 1\nprice_output_per_mtok = 2"
    )
    assert resolve_prices(ref) == Prices(1.0, 2.0, "catalog")


def test_genai_prices_fill_in_when_catalog_is_silent() -> None:
    prices = resolve_prices(_ref("groq", "llama-3.3-70b-versatile"))
    assert prices.source == "genai-prices"
    assert prices.input_per_mtok and prices.input_per_mtok > 0
    assert prices.output_per_mtok and prices.output_per_mtok > 0


def test_unknown_price_gives_null_cost_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="signalbox.prices")
    ref = _ref("nobody-hosts-this", "made-up-model-xyz")
    first, second = resolve_prices(ref), resolve_prices(ref)
    assert first.source == "unknown" and first.cost_usd(100, 100) is None
    assert second == first
    assert sum("no price known" in r.message for r in caplog.records) == 1


def test_cost_is_tokens_times_prices() -> None:
    prices = Prices(0.5, 1.5, "catalog")
    assert prices.cost_usd(1_000_000, 2_000_000) == pytest.approx(3.5)
    assert prices.cost_usd(None, 10) is None
    assert prices.blended_per_mtok(1_000_000, 1_000_000) == pytest.approx(1.0)
