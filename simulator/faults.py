"""Faults injected at run time through ``POST /admin/fault``: parsed from JSON, kept per instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signalbox.simulator.scenario import ERROR_KINDS

FAULT_KINDS = ("outage", "slow", "error_rate", "hang", "clear")


class FaultError(ValueError):
    """The fault request is invalid; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One active fault on a provider (all its models when ``model`` is None)."""

    provider: str
    model: str | None
    kind: str
    factor: float = 1.0
    rate: float = 1.0
    until_t: float | None = None
    error: str = "http_500"  # for error_rate: which error kind the rate applies to

    def applies(self, provider: str, model: str, t: float) -> bool:
        """Whether the fault concerns this endpoint at time ``t``."""
        if self.until_t is not None and t >= self.until_t:
            return False
        return self.provider == provider and (self.model is None or self.model == model)

    def describe(self) -> str:
        """A short label for /truth."""
        target = self.provider + (f"/{self.model}" if self.model else "")
        detail = {"slow": f" x{self.factor:g}", "error_rate": f" {self.error} {self.rate:g}"}.get(
            self.kind, ""
        )
        if self.kind == "hang" and self.rate < 1:
            detail = f" {self.rate:g}"
        until = f" until {self.until_t:.0f}s" if self.until_t is not None else ""
        return f"fault {self.kind}{detail} {target}{until}"


def _number(payload: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{key}: must be a number")
    if not lo <= float(value) <= hi:
        raise FaultError(f"{key}: must be between {lo:g} and {hi:g}")
    return float(value)


def parse_fault(payload: Any, *, now_t: float, providers: dict[str, set[str]]) -> Fault:
    """Validate an admin payload into a :class:`Fault`; ``providers`` maps name → model names.

    ``error_rate`` takes ``rate`` and optionally ``error`` (an error kind, default ``http_500``);
    ``slow`` takes ``factor``; ``hang`` an optional ``rate``; any kind an optional ``duration_s``.
    For ``kind="clear"`` the provider may be omitted (clear everything).
    """
    if not isinstance(payload, dict):
        raise FaultError("body: must be a JSON object")
    kind = payload.get("kind")
    if kind not in FAULT_KINDS:
        raise FaultError(f"kind: must be one of {', '.join(FAULT_KINDS)}")
    provider = payload.get("provider")
    if provider is None and kind == "clear":
        return Fault(provider="*", model=None, kind="clear")
    if not isinstance(provider, str) or provider not in providers:
        raise FaultError(f"provider: unknown provider {provider!r}")
    model = payload.get("model")
    if model is not None and (not isinstance(model, str) or model not in providers[provider]):
        raise FaultError(f"model: provider '{provider}' does not serve {model!r}")
    until_t = None
    if payload.get("duration_s") is not None:
        until_t = now_t + _number(payload, "duration_s", 0.0, 0.001, 1e7)
    factor = _number(payload, "factor", 3.0 if kind == "slow" else 1.0, 1e-3, 1e4)
    rate = _number(payload, "rate", 0.5 if kind == "error_rate" else 1.0, 0.0, 1.0)
    error = payload.get("error", "http_500")
    if error not in ERROR_KINDS:
        raise FaultError(f"error: must be one of {', '.join(ERROR_KINDS)}")
    return Fault(provider, model, kind, factor=factor, rate=rate, until_t=until_t, error=error)


class FaultBoard:
    """The active faults of one simulator instance."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def apply(self, fault: Fault) -> None:
        """Add a fault, or for ``clear`` remove matching ones (a provider's, a model's or all)."""
        if fault.kind != "clear":
            self._faults.append(fault)
            return
        self._faults = [
            f
            for f in self._faults
            if not (
                fault.provider == "*"
                or (
                    f.provider == fault.provider and (fault.model is None or f.model == fault.model)
                )
            )
        ]

    def active(self, provider: str, model: str, t: float) -> list[Fault]:
        """Faults concerning this endpoint at time ``t``."""
        return [f for f in self._faults if f.applies(provider, model, t)]

    def all(self, t: float) -> list[Fault]:
        """Every fault still in effect at ``t``."""
        return [f for f in self._faults if f.until_t is None or t < f.until_t]
