"""Scenarios: the seeded description of a provider fleet, read from TOML and validated as a whole.

A scenario lists providers (name, dialect, optional API key, capacity) and, per provider, the models
it serves with their behaviour (TTFT, tokens/s, prices, error mix, daily cycle), plus scheduled
events (outages, degradations, error bursts). A ``[defaults]`` table is merged into every model entry
so files stay short. Time ``t`` is seconds since the simulator started.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from signalbox.simulator.capability import CapabilitySpec
from signalbox.simulator.dialects import DIALECTS

SCENARIO_DIR = Path(__file__).parent / "scenarios"
Prob = Annotated[float, Field(ge=0, le=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]

# Error kinds a request can be sampled into, in the fixed order used for sampling.
ERROR_KINDS: tuple[str, ...] = (
    "http_500",
    "http_503",
    "rate_limit_429",
    "hang",
    "cut_stream",
    "malformed_event",
    "empty_answer",
    "stream_error",
)


class ScenarioError(Exception):
    """The scenario cannot be used; ``problems`` lists every reason with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid scenario: " + "; ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ErrorMix(_Strict):
    """Per-request probabilities of each failure; the rest succeed."""

    http_500: Prob = 0.0
    http_503: Prob = 0.0
    rate_limit_429: Prob = 0.0
    retry_after_s: PositiveFloat = 1.0
    hang: Prob = 0.0
    cut_stream: Prob = 0.0
    malformed_event: Prob = 0.0
    empty_answer: Prob = 0.0
    stream_error: Prob = 0.0

    @model_validator(mode="after")
    def _sum_at_most_one(self) -> ErrorMix:
        if sum(self.probabilities().values()) > 1.0 + 1e-9:
            raise ValueError("error probabilities sum to more than 1")
        return self

    def probabilities(self) -> dict[str, float]:
        """The probability of each error kind, in sampling order."""
        return {kind: float(getattr(self, kind)) for kind in ERROR_KINDS}


class Cycle(_Strict):
    """A daily cycle: TTFT is multiplied and tps divided by ``1 + amplitude*sin(2π(t/period+phase))``."""

    period_s: PositiveFloat = 600.0
    amplitude: Annotated[float, Field(ge=0, le=0.95)] = 0.0
    phase: float = 0.0

    def factor(self, t: float) -> float:
        """The slowness factor at time ``t`` (1 = nominal, above 1 = slower)."""
        return 1.0 + self.amplitude * math.sin(2 * math.pi * (t / self.period_s + self.phase))


class Noise(_Strict):
    """How one request departs from the endpoint's expected figures, as real providers do.

    A request's tokens/s is lognormal around the truth's mean with coefficient of variation
    ``tps_cv`` times the load factor (spread grows under load); each chunk's gap is multiplied by
    a lognormal of mean 1 and CV ``jitter_cv``; with probability ``stall_prob`` per chunk the
    stream stalls for a lognormal time of median ``stall_ms``. On by default: no provider is clean.
    """

    tps_cv: Annotated[float, Field(ge=0, le=2)] = 0.10
    jitter_cv: Annotated[float, Field(ge=0, le=3)] = 0.30
    stall_prob: Prob = 0.002
    stall_ms: NonNegFloat = 250.0


class Background(_Strict):
    """Other tenants' in-flight requests on a provider, unseen by any client: a fraction of
    ``capacity`` (lognormal around ``mean``, sigma ``spread``) redrawn every ``change_s`` scenario
    seconds and eased between draws. It adds to the provider's load, so above capacity it slows
    TTFT and tokens/s like one's own traffic does. No effect on a provider without a capacity."""

    mean: Annotated[float, Field(ge=0, le=10)] = 0.5
    spread: Annotated[float, Field(ge=0, le=3)] = 0.5
    change_s: PositiveFloat = 120.0


class ModelSpec(_Strict):
    """One model served by one provider and how it behaves there."""

    model: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")]
    upstream: str | None = None
    ttft_median_ms: PositiveFloat = 300.0
    ttft_sigma: Annotated[float, Field(ge=0, le=3)] = 0.25
    tps: PositiveFloat = 60.0
    output_tokens_median: Annotated[int, Field(ge=1, le=100_000)] = 200
    output_tokens_sigma: Annotated[float, Field(ge=0, le=3)] = 0.4
    price_input_per_mtok: NonNegFloat | None = None
    price_output_per_mtok: NonNegFloat | None = None
    errors: ErrorMix = Field(default_factory=ErrorMix)
    cycle: Cycle | None = None
    capability: CapabilitySpec | None = None  # flawed answers by difficulty (capability.py)
    noise: Noise = Field(default_factory=Noise)

    @property
    def upstream_model(self) -> str:
        """The id the provider serves the model under (defaults to the canonical name)."""
        return self.upstream or self.model


class ProviderSpec(_Strict):
    """A virtual provider: its dialect, key, capacity and the models it serves."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    dialect: str = "openai"  # a wire protocol the simulator speaks (``dialects``)
    api_key: Annotated[str, Field(min_length=1)] | None = None
    region: str | None = None
    capacity: Annotated[int, Field(ge=1)] | None = None
    overload_slope: NonNegFloat = 1.0
    chunk_tokens_min: Annotated[int, Field(ge=1, le=64)] = 1
    chunk_tokens_max: Annotated[int, Field(ge=1, le=64)] = 4
    cycle: Cycle | None = None
    background: Background = Field(default_factory=Background)
    models: list[ModelSpec] = Field(default_factory=list, alias="model")

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        if value not in DIALECTS:
            raise ValueError(f"unknown dialect '{value}'; one of {', '.join(sorted(DIALECTS))}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ProviderSpec:
        if self.chunk_tokens_max < self.chunk_tokens_min:
            raise ValueError("chunk_tokens_max must be at least chunk_tokens_min")
        names = [m.model for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError("a model is listed twice")
        return self

    def find_model(self, name: str) -> ModelSpec | None:
        """The model served under upstream id ``name`` (or its canonical name)."""
        for spec in self.models:
            if spec.upstream_model == name:
                return spec
        for spec in self.models:
            if spec.model == name:
                return spec
        return None

    def cycle_for(self, spec: ModelSpec) -> Cycle | None:
        """The model's own cycle, else the provider's."""
        return spec.cycle or self.cycle


class Event(_Strict):
    """A scheduled event on a provider (all its models, or one)."""

    kind: Literal["outage", "degrade", "error_burst"]
    provider: str
    model: str | None = None
    start_s: NonNegFloat
    end_s: PositiveFloat
    ramp_s: NonNegFloat = 0.0
    ttft_factor: PositiveFloat = 1.0
    tps_factor: PositiveFloat = 1.0
    rate: Prob = 0.5
    error: Literal[
        "http_500", "http_503", "rate_limit_429", "hang", "cut_stream", "malformed_event",
        "empty_answer", "stream_error",
    ] = "http_503"  # fmt: skip

    @model_validator(mode="after")
    def _order(self) -> Event:
        if self.end_s <= self.start_s:
            raise ValueError("end_s must be after start_s")
        return self

    def applies(self, provider: str, model: str) -> bool:
        """Whether the event concerns this provider and canonical model."""
        return self.provider == provider and (self.model is None or self.model == model)

    def progress(self, t: float) -> float:
        """0 outside the event; inside, the ramp's progress in (0, 1]."""
        if not self.start_s <= t < self.end_s:
            return 0.0
        if self.ramp_s <= 0:
            return 1.0
        return max(1e-9, min(1.0, (t - self.start_s) / self.ramp_s))

    def describe(self) -> str:
        """A short label for /truth."""
        target = self.provider + (f"/{self.model}" if self.model else "")
        return f"{self.kind} {target} {self.start_s:g}-{self.end_s:g}s"


class Scenario(_Strict):
    """A whole scenario file."""

    name: str = "scenario"
    description: str = ""
    seed: int = 0
    time_scale: PositiveFloat = 1.0
    # scenario time when the simulator starts; negative: a lead-in before t = 0 (a benchmark's
    # warm-up, so that its measured stream begins at the scenario's start)
    start_offset_s: float = 0.0
    providers: list[ProviderSpec] = Field(default_factory=list, alias="provider")
    events: list[Event] = Field(default_factory=list, alias="event")

    def provider(self, name: str) -> ProviderSpec | None:
        """The provider of that name, or None."""
        for spec in self.providers:
            if spec.name == name:
                return spec
        return None

    def with_seed(self, seed: int) -> Scenario:
        """A copy with another seed."""
        return self.model_copy(update={"seed": seed})


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(root)"


def _apply_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    defaults = raw.pop("defaults", None)
    scenario = raw.pop("scenario", None)  # a [scenario] table may hold the top-level keys
    if isinstance(scenario, dict):
        raw = {**scenario, **raw}
    if not isinstance(defaults, dict):
        return raw
    for provider in raw.get("provider", []) or []:
        if not isinstance(provider, dict):
            continue
        for model in provider.get("model", []) or []:
            if not isinstance(model, dict):
                continue
            for key, value in defaults.items():
                if isinstance(value, dict) and isinstance(model.get(key), dict):
                    model[key] = {**value, **model[key]}
                else:
                    model.setdefault(key, value)
    return raw


def _cross_check(scenario: Scenario) -> list[str]:
    problems: list[str] = []
    names = [p.name for p in scenario.providers]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(f"provider[{i}].name: duplicate name '{name}'")
    for i, event in enumerate(scenario.events):
        provider = scenario.provider(event.provider)
        if provider is None:
            problems.append(f"event[{i}].provider: unknown provider '{event.provider}'")
        elif event.model is not None and all(m.model != event.model for m in provider.models):
            problems.append(f"event[{i}].model: '{event.provider}' does not serve '{event.model}'")
    return problems


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML; raise :class:`ScenarioError` listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [f"(toml): {exc}"]) from None
    try:
        scenario = Scenario.model_validate(_apply_defaults(raw))
    except ValidationError as exc:
        problems = [
            f"{_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise ScenarioError(source, problems) from None
    if problems := _cross_check(scenario):
        raise ScenarioError(source, problems)
    return scenario


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in ``simulator/scenarios``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (``demo``, ``drift``, ...) or a scenario TOML file by path."""
    text_name = str(name_or_path)
    if text_name in builtin_names():
        text = (SCENARIO_DIR / f"{text_name}.toml").read_text(encoding="utf-8")
        return parse_scenario(text, f"{text_name}.toml")
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        known = ", ".join(builtin_names())
        raise ScenarioError(text_name, [f"(name): unknown scenario; built-in ones are {known}"])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(text_name, ["(file): not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(text_name, [f"(file): cannot read: {exc}"]) from None
    return parse_scenario(text, text_name)
