"""What every page needs from its app instance: the engine, the clock and a few knobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from signalbox.catalog import RoutingSettings
from signalbox.records import utcnow


@dataclass(frozen=True, slots=True)
class DashContext:
    """Owned by one app; tests build several side by side with their own engines and clocks."""

    engine: Engine
    now: Callable[[], datetime] = field(default=utcnow)
    refresh_s: float = 30.0
    # the catalog's [routing]: staleness, breaker thresholds and ranking, as the router has them
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    routing_note: str | None = None  # why the defaults stand in, when no catalog was read
    recent_s: float = 900.0  # the window the overview ranks providers over
    simulator_url: str | None = None  # demo only: enables the "break a provider" control
