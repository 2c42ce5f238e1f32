"""A catalog whose providers live on a closed port, for tests that never reach a provider (the
statistics are fed by hand or from a seeded store)."""

from __future__ import annotations


def closed_catalog_toml(providers: int, *, model: str = "m", half_life_s: float = 60) -> str:
    """Providers ``p1``..``pN`` on 127.0.0.1:9, each serving ``model`` as ``m-i``."""
    names = [f"p{i}" for i in range(1, providers + 1)]
    lines = []
    for name in names:
        lines += ["[[provider]]", f'name = "{name}"', f'base_url = "http://127.0.0.1:9/{name}/v1"']
    lines += ["[[model]]", f'name = "{model}"']
    for i, name in enumerate(names, start=1):
        lines += ["[[model.endpoint]]", f'provider = "{name}"', f'upstream_model = "m-{i}"']
    lines += ["[routing]", f"half_life_s = {half_life_s:g}"]
    return "\n".join(lines) + "\n"
