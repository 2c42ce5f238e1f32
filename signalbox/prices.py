"""Endpoint prices: the catalog's override, else the genai-prices package, else unknown (null cost)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from signalbox.catalog import EndpointRef

log = logging.getLogger(__name__)

# genai-prices names some providers differently from the hosts' own names.
_PROVIDER_IDS = {"together": "together", "togetherai": "together", "fireworks": "fireworks"}


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million input and output tokens, and where the figures came from."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    source: str  # "catalog", "genai-prices" or "unknown"

    @property
    def known(self) -> bool:
        """Both prices are known."""
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def cost_usd(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """The cost of one request, or None when a price or a token count is unknown."""
        if not self.known or input_tokens is None or output_tokens is None:
            return None
        assert self.input_per_mtok is not None and self.output_per_mtok is not None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6

    def blended_per_mtok(self, input_tokens: int, output_tokens: int) -> float | None:
        """The price per million tokens of a request with this token mix."""
        total = input_tokens + output_tokens
        cost = self.cost_usd(input_tokens, output_tokens)
        return None if cost is None or total == 0 else cost * 1e6 / total


def resolve_prices(ref: EndpointRef) -> Prices:
    """The endpoint's prices: catalog override first, then genai-prices; unknown warns once."""
    spec = ref.spec
    if spec.price_input_per_mtok is not None and spec.price_output_per_mtok is not None:
        return Prices(spec.price_input_per_mtok, spec.price_output_per_mtok, "catalog")
    looked_up = lookup_genai_prices(spec.upstream_model, ref.provider.name)
    if looked_up is not None:
        inp, out = looked_up
        # A partial override wins over the package for the side it gives.
        return Prices(
            spec.price_input_per_mtok if spec.price_input_per_mtok is not None else inp,
            spec.price_output_per_mtok if spec.price_output_per_mtok is not None else out,
            "genai-prices",
        )
    _warn_unknown(ref.key)
    return Prices(spec.price_input_per_mtok, spec.price_output_per_mtok, "unknown")


@lru_cache(maxsize=1024)
def _warn_unknown(key: str) -> None:
    log.warning("no price known for endpoint %s: its cost will be null", key)


@lru_cache(maxsize=1024)
def lookup_genai_prices(upstream_model: str, provider: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens from genai-prices' bundled data, or None."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover - a dependency, but never fatal
        return None
    provider_id = _PROVIDER_IDS.get(provider.lower(), provider.lower())
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    for kwargs in ({"provider_id": provider_id}, {}):
        try:
            calc = calc_price(usage, upstream_model, **kwargs)
        except Exception:  # LookupError for unknown models/providers; data quirks otherwise
            continue
        return float(calc.input_price), float(calc.output_price)
    return None
