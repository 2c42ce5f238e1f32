"""One endpoint's book: its decayed statistics (one per half-life the objectives read) and its circuit
breaker, fed Samples, producing the :class:`Candidate` that selection ranks.

The router's live state keeps one per endpoint (adding its snapshot cache, in-flight load and
store ids), and replay keeps one per endpoint over the replayed history, so both fold outcomes into
breakers and statistics the same way: probe outcomes are out of band (a probe's success closes an
open breaker at once), an app's own 4xx never counts against the endpoint, and a recovery forgives
the failures of the episode that opened the breaker.
"""

from __future__ import annotations

from signalbox.catalog import RoutingSettings
from signalbox.records import ErrorClass, Sample, Source
from signalbox.routing.breaker import BreakerState, CircuitBreaker
from signalbox.routing.scoring import PriceInfo
from signalbox.routing.select import Candidate
from signalbox.stats import EndpointSnapshot, EndpointStats


class EndpointBook:
    """Statistics per half-life and the breaker of one endpoint (``key`` is ``provider/model``)."""

    __slots__ = ("breaker", "key", "main", "price", "provider", "region", "settings", "stats")

    def __init__(
        self,
        key: str,
        provider: str,
        region: str | None,
        price: PriceInfo,
        settings: RoutingSettings,
    ) -> None:
        self.key = key
        self.provider = provider
        self.region = region
        self.price = price
        self.settings = settings
        self.stats = {hl: EndpointStats(hl, settings.stale_after_s) for hl in settings.half_lives()}
        self.main = self.stats[settings.half_life_s]  # what the breaker's error rate reads
        self.breaker = CircuitBreaker(settings.breaker)

    def add(
        self, sample: Sample, *, now: float | None = None, load: tuple[float, float] = (1.0, 1.0)
    ) -> None:
        """Fold one sample into every half-life's statistics and the breaker. ``now`` is when the
        outcome is learnt (the breaker's clock; default the sample's time); ``load`` as in
        :meth:`EndpointStats.add`."""
        for stats in self.stats.values():
            stats.add(sample, load)
        if sample.source == Source.TRAFFIC and sample.error_class == ErrorClass.HTTP_4XX:
            return  # the app's fault, not the endpoint's
        main = self.main
        at = sample.ts if now is None else now
        f = main.decay.factor(at)
        recovered = self.breaker.record(
            sample.ok,
            at,
            main.errors.rate(f),
            main.errors.total * f,
            out_of_band=sample.source == Source.PROBE,
            started=sample.ts,
        )
        if recovered:
            # The failures that opened the breaker describe an episode that is now over; left
            # in, they would hold a recovered endpoint's success-adjusted score down for several
            # half-lives (the routing benchmark's outages: traffic came back 10 s after recovery
            # instead of within one probe interval). If failures resume, the breaker opens again
            # on consecutive failures.
            for stats in self.stats.values():
                stats.errors.forgive()

    def estimate(self, now: float, half_life_s: float) -> EndpointSnapshot:
        """What ranking reads: the decayed figures at ``now``, moved along a recent step."""
        return self.stats[half_life_s].snapshot(now, with_uptime=False).projected()

    def candidate(self, now: float, snapshot: EndpointSnapshot) -> Candidate:
        """Selection's view of this endpoint at ``now``, with ``snapshot`` as its estimate."""
        breaker = self.breaker
        return Candidate(
            key=self.key,
            provider=self.provider,
            region=self.region,
            price=self.price,
            snapshot=snapshot,
            breaker=breaker.state(now),
            retry_in_s=breaker.retry_in_s(now),
            trial_available=breaker.trial_available(now),
        )

    def unsure(self, snapshot: EndpointSnapshot, now: float) -> bool:
        """Whether the prober should look sooner: stale, too few samples, a step waiting for more
        evidence, or a circuit not closed (open: a probe's success closes it at once;
        half-open: it waits for a trial). A pending step is asked for because an endpoint that
        lost its traffic to a slowdown hears only from probes, and would wait out a whole probe
        interval for each further fast answer that shows it has recovered. An open circuit asks
        again once its newest outcome is :func:`recheck_gap_s` old: soon after it opened (most
        outages are short, and the cooldown's live trial is 15 s away), then less often the
        longer it stays down."""
        if snapshot.stale or snapshot.samples < self.settings.min_samples or snapshot.step_pending:
            return True
        breaker = self.breaker
        open_for = breaker.open_for_s(now)
        if open_for is None:
            return False
        if breaker.state(now) is BreakerState.HALF_OPEN:
            return True
        return snapshot.age_s is None or snapshot.age_s >= recheck_gap_s(open_for)


RECHECK_MIN_S = 2.0
RECHECK_MAX_S = 30.0


def recheck_gap_s(open_for_s: float) -> float:
    """How old an open circuit's newest outcome may get before the prober is asked to look:
    a quarter of the time it has been open, from 2 s up to 30 s (a provider down for an hour is
    asked after 120 times, not 1,800)."""
    return min(max(open_for_s / 4.0, RECHECK_MIN_S), RECHECK_MAX_S)
