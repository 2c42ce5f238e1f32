"""A circuit breaker per endpoint: open on consecutive failures or a high error rate, cool down,
then let one half-open trial decide (time injected, so tests need no sleeps). The thresholds are
the catalog's ``[routing.breaker]``; :func:`trip_reason` is the one place that says whether figures
open a circuit, for the live breaker and for the dashboard's window figures alike."""

from __future__ import annotations

from enum import StrEnum

from signalbox.catalog import BreakerSettings


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


def trip_reason(
    settings: BreakerSettings, consecutive_failures: int, error_rate: float, samples: float
) -> str | None:
    """Why a closed circuit with these figures opens, or None when it stays closed."""
    if consecutive_failures >= settings.failure_threshold:
        return f"{consecutive_failures} consecutive failures"
    if samples >= settings.min_samples and error_rate > settings.error_rate_threshold:
        return f"error rate {error_rate:.0%}"
    return None


class CircuitBreaker:
    """State of one endpoint's breaker."""

    __slots__ = (
        "_cooldown_s",
        "_failed_started",
        "_opened_at",
        "_trial_at",
        "consecutive_failures",
        "opened_count",
        "reason",
        "settings",
    )

    def __init__(self, settings: BreakerSettings | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self.consecutive_failures = 0
        self.opened_count = 0
        self.reason = ""
        self._opened_at: float | None = None
        self._cooldown_s = self.settings.cooldown_s
        self._trial_at: float | None = None
        self._failed_started: float | None = None  # when the newest failed request started

    def state(self, now: float) -> BreakerState:
        """CLOSED, OPEN (cooling down) or HALF_OPEN (cooldown over, a trial may go)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now < self._opened_at + self._cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def open_for_s(self, now: float) -> float | None:
        """Seconds since the circuit last opened (None when closed)."""
        return None if self._opened_at is None else max(now - self._opened_at, 0.0)

    def retry_in_s(self, now: float) -> float:
        """Seconds until the cooldown ends (0 when not open)."""
        if self._opened_at is None:
            return 0.0
        return max(self._opened_at + self._cooldown_s - now, 0.0)

    def trial_available(self, now: float) -> bool:
        """Whether a half-open trial may be sent now."""
        if self.state(now) is not BreakerState.HALF_OPEN:
            return False
        return self._trial_at is None or now - self._trial_at > self.settings.trial_timeout_s

    def acquire_trial(self, now: float) -> bool:
        """Take the half-open trial slot; False when it is not available."""
        if not self.trial_available(now):
            return False
        self._trial_at = now
        return True

    def record(
        self,
        ok: bool,
        now: float,
        error_rate: float = 0.0,
        samples: float = 0.0,
        *,
        out_of_band: bool = False,
        started: float | None = None,
    ) -> bool:
        """Fold one outcome in; ``error_rate`` and ``samples`` are the decayed figures after it.
        Returns whether this outcome closed an open or half-open breaker (a recovery).

        ``out_of_band`` marks an outcome the router did not send (a probe): its success while the
        breaker cools down is a trial that cost no app request, so the breaker closes at once
        rather than waiting out the cooldown.

        ``started`` is when the outcome's request started (default ``now``). A success of a
        request that started before the newest failure started is older news than that failure:
        it neither resets the count of consecutive failures nor closes the circuit. Without this,
        the streams that began just before an outage, finishing during it, kept resetting the
        count, and the router went on sending requests to a dead provider for twice as long.
        """
        state = self.state(now)
        started = now if started is None else started
        if ok:
            if self._failed_started is not None and started < self._failed_started:
                return False  # older news than the newest failure
            self.consecutive_failures = 0
            if state is BreakerState.HALF_OPEN or (state is BreakerState.OPEN and out_of_band):
                self._close()
                return True
            return False
        self.consecutive_failures += 1
        if self._failed_started is None or started > self._failed_started:
            self._failed_started = started  # outcomes may arrive out of order
        if state is BreakerState.HALF_OPEN:
            self._open(now, "half-open trial failed", backoff=True)
        elif state is BreakerState.CLOSED:
            reason = trip_reason(self.settings, self.consecutive_failures, error_rate, samples)
            if reason is not None:
                self._open(now, reason, backoff=False)
        return False

    def _open(self, now: float, reason: str, backoff: bool) -> None:
        if backoff:
            self._cooldown_s = min(self._cooldown_s * 2, self.settings.max_cooldown_s)
        self._opened_at = now
        self._trial_at = None
        self.opened_count += 1
        self.reason = reason

    def _close(self) -> None:
        self._opened_at = None
        self._trial_at = None
        self._cooldown_s = self.settings.cooldown_s
        self.reason = ""
