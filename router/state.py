"""The router's state, owned by one aiohttp app (nothing global)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from router.decisions import DecisionLog
from router.follow import StoreFollower
from router.live import LiveState
from router.metrics import Metrics
from router.proxy import Forwarder
from router.select import Ranking, SelectionSettings
from signalbox.catalog import Catalog
from signalbox.writer import ObservationWriter


@dataclass
class RouterState:
    """Everything handlers need."""

    catalog: Catalog
    live: LiveState
    selection: SelectionSettings
    metrics: Metrics
    decisions: DecisionLog
    clock: Callable[[], float]
    rng: Callable[[], float]
    forwarder: Forwarder = field(init=False)
    follower: StoreFollower | None = None
    writer: ObservationWriter | None = None
    sync_problem: str | None = None
    rank_cache: dict[tuple, RankEntry] = field(default_factory=dict)


@dataclass(slots=True)
class RankEntry:
    """A cached ranking (valid while the live version is unchanged, for a few milliseconds) and
    the JSON records of its endpoints, built once."""

    version: int
    ts: float
    ranking: Ranking
    records: dict[str, dict] = field(default_factory=dict)


STATE = web.AppKey("signalbox_router_state", RouterState)
