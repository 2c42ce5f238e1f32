"""Time-decayed statistics shared by the router, alerts and the dashboard (docs/architecture.md §4).

Pure code, no I/O: forward-decayed moments (``decay``), log-spaced decayed histograms for quantiles
(``histogram``), a decayed Beta error rate (``beta``), windowed uptime (``uptime``) and the
per-endpoint aggregate of all of them (``endpoint_stats``). Time is always passed in (seconds since
the epoch), so callers inject their clock and tests need no sleeps.
"""

from signalbox.stats.beta import DecayedBeta
from signalbox.stats.decay import DecayedMoments, DecayedSeries, ForwardDecay
from signalbox.stats.endpoint_stats import EndpointSnapshot, EndpointStats
from signalbox.stats.histogram import BucketSpec, DecayedHistogram
from signalbox.stats.uptime import UptimeWindows

__all__ = [
    "BucketSpec",
    "DecayedBeta",
    "DecayedHistogram",
    "DecayedMoments",
    "DecayedSeries",
    "EndpointSnapshot",
    "EndpointStats",
    "ForwardDecay",
    "UptimeWindows",
]
