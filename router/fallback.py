"""Fallback bookkeeping: each failed attempt's error, the exhaustion error carrying all of them,
which failures allow trying the next endpoint, and the first-token deadline."""

from __future__ import annotations

from dataclasses import dataclass

from signalbox.records import ErrorClass
from signalbox.stats import EndpointSnapshot

TTFT_DEADLINE_MULTIPLE = 4.0  # times the endpoint's decayed TTFT p99
TTFT_DEADLINE_FLOOR_S = 1.0
CLIENT_FAULT_STATUSES = frozenset({400, 413, 422})  # the app's request is wrong: do not retry it


@dataclass(frozen=True, slots=True)
class AttemptError:
    """Why one attempt failed (never holds a key or a header)."""

    provider: str
    error_class: ErrorClass
    http_status: int | None
    message: str

    def describe(self) -> str:
        """``provider: class (status): message``."""
        status = f" ({self.http_status})" if self.http_status else ""
        return f"{self.provider}: {self.error_class}{status}: {self.message}"


class ProvidersExhausted(Exception):
    """Every attempt failed; ``errors`` holds each attempt's error in order."""

    def __init__(self, errors: list[AttemptError]) -> None:
        self.errors = errors
        super().__init__("all upstream attempts failed: " + "; ".join(e.describe() for e in errors))


class UpstreamClientError(Exception):
    """The upstream refused the app's request itself (400/413/422): passed on, not retried."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def classify_status(status: int) -> ErrorClass:
    """The error class of a non-200 upstream status."""
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status >= 500:
        return ErrorClass.HTTP_5XX
    return ErrorClass.HTTP_4XX


def first_token_deadline_s(
    snap: EndpointSnapshot, cap_s: float, max_ttft_ms: float | None
) -> float:
    """How long to wait for the first content before abandoning the endpoint: the app's
    ``max_ttft_ms`` if given, else a multiple of the decayed TTFT p99, floored and capped."""
    if max_ttft_ms is not None:
        return max(max_ttft_ms / 1000.0, 0.001)
    if snap.ttft_p99_ms is None:
        return cap_s
    return min(
        max(TTFT_DEADLINE_MULTIPLE * snap.ttft_p99_ms / 1000.0, TTFT_DEADLINE_FLOOR_S), cap_s
    )
