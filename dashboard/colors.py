"""One colour per provider, the same on every chart: assigned in provider-id order (ids are stable,
providers are disabled, never deleted), falling back to a hash of the name for unknown ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# Tableau 10, then a few more distinct hues: readable on white, distinguishable side by side.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#8c564b",
)

STATE_COLORS = {
    "healthy": "#2e7d32",
    "degraded": "#ef6c00",
    "circuit open": "#c62828",
    "stale": "#757575",
    "no data": "#9e9e9e",
}


def hashed_color(name: str) -> str:
    """A colour from the name alone (stable across processes, unlike ``hash()``)."""
    digest = hashlib.sha256(name.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def provider_colors(names_in_id_order: Iterable[str]) -> dict[str, str]:
    """Provider name → colour: the palette in provider-id order, so a store keeps its colours."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names_in_id_order)}


def color_for(colors: dict[str, str], name: str) -> str:
    """The provider's colour from the mapping, or its hashed colour when it is not in it."""
    return colors.get(name) or hashed_color(name)


def colors_for_endpoints(provider_names_by_id: Iterable[tuple[int, str]]) -> dict[str, str]:
    """The mapping from (provider id, name) pairs, in any order and with repeats."""
    names = dict(sorted(set(provider_names_by_id)))
    return provider_colors(names.values())
