"""From catalog to targets: enabled endpoints x shapes, ids, prices, and each provider's own key."""

from __future__ import annotations

import logging

import pytest

from signalbox.catalog import parse_catalog
from signalbox.probe.targets import build_targets

CATALOG = """
[[provider]]
name = "a"
base_url = "http://127.0.0.1:1/v1"
api_key_env = "A_KEY"
[[provider]]
name = "b"
base_url = "http://127.0.0.1:1"
api = "anthropic"
api_key_env = "B_KEY"
[[model]]
name = "m"
[[model.endpoint]]
provider = "a"
upstream_model = "m-a"
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0
[[model.endpoint]]
provider = "b"
upstream_model = "m-b"
price_input_per_mtok = 3.0
price_output_per_mtok = 4.0
[[model]]
name = "n"
[[model.endpoint]]
provider = "a"
upstream_model = "off"
enabled = false
[probe]
[[probe.shape]]
name = "short"
[[probe.shape]]
name = "long"
prompt_tokens = 512
"""


def test_every_enabled_endpoint_gets_a_target_per_shape_with_its_own_key() -> None:
    catalog = parse_catalog(CATALOG)
    ids = {("a", "m"): 10, ("b", "m"): 20, ("a", "n"): 30}  # ("a", "n") is disabled
    targets = build_targets(catalog, ids, {"A_KEY": "key-a", "B_KEY": "key-b"})
    assert [(t.endpoint_id, t.shape.name, t.api_key) for t in targets] == [
        (10, "short", "key-a"),
        (10, "long", "key-a"),
        (20, "short", "key-b"),
        (20, "long", "key-b"),
    ]
    assert targets[2].prices is not None and targets[2].prices.input_per_mtok == 3.0
    assert "key-a" not in repr(targets[0])


def test_a_missing_key_variable_is_named_in_the_log_and_the_probe_goes_keyless(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalog = parse_catalog(CATALOG)
    with caplog.at_level(logging.WARNING, logger="signalbox.probe.targets"):
        targets = build_targets(catalog, {("a", "m"): 1, ("b", "m"): 2}, {"A_KEY": "key-a"})
    assert {t.endpoint_id: t.api_key for t in targets} == {1: "key-a", 2: None}
    assert "B_KEY is not set" in caplog.text


def test_endpoints_without_a_store_id_are_skipped() -> None:
    targets = build_targets(parse_catalog(CATALOG), {("a", "m"): 1}, {})
    assert {t.endpoint_id for t in targets} == {1}
