"""The catalog loader accepts good catalogs and refuses bad ones with every problem and its path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signalbox.catalog import CatalogError, EndpointRef, load_catalog, parse_catalog
from signalbox.protocols import protocol
from tests.core.factories import CATALOG_TOML

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests" / "catalogs").glob("invalid-*.toml"))


def _expected(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect:").strip()
        for line in path.read_text().splitlines()
        if line.startswith("# expect:")
    ]


def test_example_catalog_is_valid() -> None:
    catalog = load_catalog(ROOT / "signalbox.example.toml")
    assert len(catalog.models[0].endpoints) >= 4
    assert {p.api for p in catalog.providers} == {"openai", "anthropic", "gemini"}
    assert all(p.api_key_env for p in catalog.providers)


def _url(ref: EndpointRef) -> str:
    wire = protocol(ref.provider.api)
    return wire.url(ref.provider.base_url, ref.spec.upstream_model, stream=True)


def test_endpoint_refs_resolve_providers_and_urls() -> None:
    catalog = parse_catalog(CATALOG_TOML)
    refs = list(catalog.endpoints())
    assert [r.key for r in refs] == ["alpha/llama-3.1-70b", "beta/llama-3.1-70b"]
    assert _url(refs[0]) == "http://127.0.0.1:9/alpha/v1/chat/completions"
    assert _url(refs[1]) == "http://127.0.0.1:9/beta/v1/messages"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_catalog_is_refused_with_each_problem(path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    for expected in _expected(path):
        assert any(problem.startswith(expected) for problem in info.value.problems), (
            expected,
            info.value.problems,
        )
    assert len(info.value.problems) >= len(_expected(path))


def test_missing_catalog_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "absent.toml")
    assert "SIGNALBOX_CATALOG" in info.value.problems[0]


def test_cli_refuses_bad_catalog_with_exit_2_and_no_traceback() -> None:
    path = ROOT / "tests" / "catalogs" / "invalid-many-problems.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "signalbox.cli", "check", "--catalog", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "provider[0].base_url" in proc.stderr and "probe.concurrency" in proc.stderr
