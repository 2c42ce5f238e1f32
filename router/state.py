"""The router's state, owned by one aiohttp app (nothing global)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from signalbox.catalog import Catalog, RoutingSettings
from signalbox.router.decisions import DecisionLog
from signalbox.router.follow import StoreFollower
from signalbox.router.live import LiveState
from signalbox.router.metrics import Metrics, SharedMetrics
from signalbox.router.params import RouteRequest
from signalbox.router.proxy import Forwarder
from signalbox.routing.select import Decision, Ranking
from signalbox.writer import ObservationWriter, RouteDecisionWriter


@dataclass
class RouterState:
    """Everything handlers need."""

    catalog: Catalog
    live: LiveState
    routing: RoutingSettings  # the catalog's [routing], read on every decision
    metrics: Metrics
    decisions: DecisionLog
    clock: Callable[[], float]
    rng: Callable[[], float]
    forwarder: Forwarder = field(init=False)
    follower: StoreFollower | None = None
    writer: ObservationWriter | None = None
    route_log: RouteDecisionWriter | None = None  # one record per routed request
    sync_problem: str | None = None
    shared_metrics: SharedMetrics | None = None  # a multi-worker router's other workers' counts
    rank_cache: dict[tuple, RankEntry] = field(default_factory=dict)
    query_cache: dict[str, RouteRequest] = field(default_factory=dict)


@dataclass(slots=True)
class RankEntry:
    """A cached ranking (valid while the live version is unchanged, for a few milliseconds), the
    decisions built on it so far (by rule and pick) and their ``/v1/route`` bodies, each built
    once."""

    version: int
    ts: float
    ranking: Ranking
    decisions: dict[tuple[str, str], Decision] = field(default_factory=dict)
    bodies: dict[int, bytes] = field(default_factory=dict)


STATE = web.AppKey("signalbox_router_state", RouterState)
