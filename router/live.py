"""The router's live view: a book per endpoint (decayed stats and a breaker, ``signalbox.routing``),
fed by observations from the store and by its own traffic; cached snapshots for the hot path, the
router's own in-flight load; which endpoints want probing."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from signalbox.catalog import Catalog, EndpointRef
from signalbox.prices import resolve_prices
from signalbox.records import Sample
from signalbox.routing.book import EndpointBook
from signalbox.routing.breaker import BreakerState
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo
from signalbox.routing.select import Candidate
from signalbox.stats import EndpointSnapshot
from signalbox.stats.load import LoadCurve, level_of

Clock = Callable[[], float]
SNAPSHOT_MAX_AGE_S = 1.0  # decay is slow (minutes): a snapshot a second old is exact enough
SNAPSHOT_DIRTY_AGE_S = 0.05  # after new data, refresh at most this often


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """A catalog endpoint as the router knows it."""

    ref: EndpointRef
    key: str
    price: PriceInfo

    @property
    def provider(self) -> str:
        """The provider's name."""
        return self.ref.provider.name


class LiveState:
    """Every endpoint's book (statistics and breaker), in memory, owned by one router; the
    settings are the catalog's ``[routing]``."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock = time.time,
        resolve_price: Callable[[EndpointRef], PriceInfo] | None = None,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.routing = routing = catalog.routing
        self.half_life_s = routing.half_life_s
        self.half_lives = routing.half_lives()
        self.endpoints: dict[str, EndpointInfo] = {}
        self.by_model: dict[str, list[EndpointInfo]] = {}
        self.ids: dict[str, int] = {}  # key -> endpoint id in the store
        self.keys_by_id: dict[int, str] = {}
        price_of = resolve_price or _catalog_price
        for ref in catalog.endpoints():
            if not ref.spec.enabled:
                continue
            info = EndpointInfo(ref, ref.key, price_of(ref))
            self.endpoints[info.key] = info
            self.by_model.setdefault(ref.model, []).append(info)
        self.books = {
            key: EndpointBook(key, info.provider, info.ref.provider.region, info.price, routing)
            for key, info in self.endpoints.items()
        }
        # the books' breakers by key (the proxy takes half-open trial slots from them)
        self.breakers = {key: book.breaker for key, book in self.books.items()}
        # This router's requests in flight per endpoint, and how each endpoint slowed down with
        # them: predicts the next request at the load it would join (no herding onto a provider
        # that saturates).
        self.in_flight = dict.fromkeys(self.endpoints, 0)
        self.load = {key: LoadCurve(self.half_life_s) for key in self.endpoints}
        self._cache: dict[tuple[float, str], tuple[float, EndpointSnapshot]] = {}
        self._dirty: set[str] = set()
        self.degraded: str | None = None  # why the router serves from what it has, if it does
        self.observed = 0
        self.version = 0  # bumps on every observation: cached rankings compare it

    # --- identity -------------------------------------------------------------------------
    def set_endpoint_ids(self, ids: dict[tuple[str, str], int]) -> None:
        """Learn store ids, keyed by (provider, model) as ``sync_catalog`` reports them."""
        for (provider, model), endpoint_id in ids.items():
            key = f"{provider}/{model}"
            if key in self.endpoints:
                self.ids[key] = endpoint_id
                self.keys_by_id[endpoint_id] = key

    # --- feeding --------------------------------------------------------------------------
    def observe(
        self,
        key: str,
        sample: Sample,
        *,
        now: float | None = None,
        load_level: int | None = None,
    ) -> None:
        """Fold one sample into every half-life's stats and the endpoint's breaker (``now``: when
        the router learns it, for the breaker, default the sample's time; ``load_level``: the
        router's own load it started at, when it is this router's)."""
        book = self.books.get(key)
        if book is None:
            return
        self.observed += 1
        self.version += 1
        load = (1.0, 1.0)
        if load_level is not None and sample.ok:
            load = self.load[key].factors(load_level, sample.ts)
        book.add(sample, now=now, load=load)
        self._dirty.add(key)

    def begin(self, key: str) -> int:
        """A request to ``key`` starts; returns the load level it joins (for ``observe_load``)."""
        n = self.in_flight[key]
        self.in_flight[key] = n + 1
        if level_of(n + 1) != level_of(n):
            self.version += 1  # rankings read the load level: cached ones are out of date
        return level_of(n)

    def end(self, key: str) -> None:
        """A request to ``key`` is over (whatever its outcome)."""
        n = self.in_flight[key]
        self.in_flight[key] = max(n - 1, 0)
        if level_of(n - 1) != level_of(n):
            self.version += 1

    def observe_load(
        self, key: str, level: int, ts: float, ttft_ms: float | None, tps: float | None
    ) -> None:
        """A successful request of this router's that started at load ``level``."""
        curve = self.load.get(key)
        if curve is not None:
            curve.add(ts, level, ttft_ms, tps)

    def at_load(self, key: str, snap: EndpointSnapshot, now: float) -> EndpointSnapshot:
        """``snap`` as a request joining the current in-flight load would see it: its geometric
        mean scaled by the load curve's factor at that load becomes the p50, and the other
        quantiles move with it (unchanged until the router has enough requests of its own)."""
        curve = self.load[key]
        if curve.count == 0:
            return snap
        ttft_f, tps_f = curve.factors(level_of(self.in_flight[key]), now)
        if ttft_f == 1.0 and tps_f == 1.0:
            return snap
        ttft_f = _move(snap.ttft_p50_ms, snap.ttft_geomean_ms, ttft_f)
        tps_f = _move(snap.tps_p50, snap.tps_geomean, tps_f)
        return dataclasses.replace(
            snap,
            ttft_p50_ms=_times(snap.ttft_p50_ms, ttft_f),
            ttft_p90_ms=_times(snap.ttft_p90_ms, ttft_f),
            ttft_p99_ms=_times(snap.ttft_p99_ms, ttft_f),
            tps_p50=_times(snap.tps_p50, tps_f),
            tps_p90=_times(snap.tps_p90, tps_f),
            tps_p99=_times(snap.tps_p99, tps_f),
        )

    # --- reading --------------------------------------------------------------------------
    def snapshot(
        self, key: str, now: float | None = None, half_life_s: float | None = None
    ) -> EndpointSnapshot:
        """The endpoint's snapshot (cached; refreshed after new data or every second)."""
        now = self.clock() if now is None else now
        hl = self.half_life_s if half_life_s is None else half_life_s
        cached = self._cache.get((hl, key))
        if cached is not None:
            age = now - cached[0]
            if 0 <= age < SNAPSHOT_MAX_AGE_S and (
                key not in self._dirty or age < SNAPSHOT_DIRTY_AGE_S
            ):
                return cached[1]
        snap = self.books[key].stats[hl].snapshot(now, with_uptime=False)
        self._cache[(hl, key)] = (now, snap)
        if hl == self.half_life_s:
            self._dirty.discard(key)
        return snap

    def full_snapshot(self, key: str, now: float | None = None) -> EndpointSnapshot:
        """The snapshot with uptime windows (for ``/v1/endpoints``; not cached)."""
        now = self.clock() if now is None else now
        return self.books[key].main.snapshot(now, with_uptime=True)

    def state(self, key: str, now: float | None = None) -> str:
        """healthy, stale, open or half-open."""
        now = self.clock() if now is None else now
        b = self.breakers[key].state(now)
        if b is BreakerState.OPEN:
            return "open"
        if b is BreakerState.HALF_OPEN:
            return "half-open"
        return "stale" if self.snapshot(key, now).stale else "healthy"

    def candidates(
        self, model: str, objective: Objective, now: float | None = None
    ) -> list[Candidate]:
        """Selection's input for ``model`` (KeyError when unknown)."""
        now = self.clock() if now is None else now
        hl = self.routing.half_life_for(objective)
        books = self.books
        return [
            books[info.key].candidate(
                now, self.at_load(info.key, self.snapshot(info.key, now, hl).projected(), now)
            )
            for info in self.by_model[model]
        ]

    def wanted_probes(self, now: float | None = None) -> list[str]:
        """Endpoint keys the prober should probe sooner (``EndpointBook.unsure``: stale, fewer
        samples than the routing settings' ``min_samples``, a step waiting for its second
        observation, or a circuit not closed); most needed first (no data, then oldest)."""
        now = self.clock() if now is None else now
        wanted: list[tuple[float, str]] = []
        for key, book in self.books.items():
            snap = self.snapshot(key, now)
            if book.unsure(snap, now):
                wanted.append((-(snap.age_s if snap.age_s is not None else float("inf")), key))
        return [key for _, key in sorted(wanted)]

    def models(self) -> Iterable[str]:
        """Canonical model names with at least one enabled endpoint."""
        return self.by_model.keys()


def _move(p50: float | None, geomean: float | None, factor: float) -> float:
    """What to multiply the quantiles by so that the p50 becomes ``geomean * factor`` (a load
    factor is a ratio of geometric means); the plain factor when either figure is missing."""
    if factor == 1.0 or not p50 or not geomean:
        return factor
    return geomean * factor / p50


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _catalog_price(ref: EndpointRef) -> PriceInfo:
    prices = resolve_prices(ref)
    return PriceInfo(prices.input_per_mtok, prices.output_per_mtok)
