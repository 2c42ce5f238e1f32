"""Small builders for test records."""

from __future__ import annotations

from datetime import timedelta

from signalbox.records import Observation, Source, utcnow

CATALOG_TOML = """
[[provider]]
name = "alpha"
base_url = "http://127.0.0.1:9/alpha/v1"

[[provider]]
name = "beta"
base_url = "http://127.0.0.1:9/beta"
api = "anthropic"
api_key_env = "BETA_KEY"

[[model]]
name = "llama-3.1-70b"

[[model.endpoint]]
provider = "alpha"
upstream_model = "meta-llama/Llama-3.1-70B"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.5

[[model.endpoint]]
provider = "beta"
upstream_model = "llama-70b"
price_input_per_mtok = 0.2
price_output_per_mtok = 0.6
"""


def observation(endpoint_id: int, seq: int = 0, ok: bool = True) -> Observation:
    """An observation whose ``input_tokens`` carries a sequence number for order checks."""
    return Observation(
        endpoint_id=endpoint_id,
        ts=utcnow() - timedelta(milliseconds=1),
        source=Source.PROBE,
        ok=ok,
        ttft_ms=120.0 + seq % 7,
        tps=80.0,
        e2e_ms=900.0,
        input_tokens=seq,
        output_tokens=64,
    )
