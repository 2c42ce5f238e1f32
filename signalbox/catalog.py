"""The catalog: providers, models and their endpoints, probe settings, alert rules, webhooks.

Loaded from TOML and validated as a whole: a bad catalog is refused with every problem listed,
each as ``key.path: reason`` (docs/architecture.md §6).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from signalbox.alerts.rules import ALERT_KINDS
from signalbox.protocols import PROTOCOLS
from signalbox.routes import Route, route_problems
from signalbox.routing.objectives import OBJECTIVES


class CatalogError(Exception):
    """The catalog cannot be used; ``problems`` lists every reason with its key path."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: invalid catalog: " + "; ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


def one_of(value: str, names: Iterable[str]) -> str:
    """``value`` if it is one of ``names`` (a registry's keys), else the error a Literal gives."""
    names = list(names)
    if value in names:
        return value
    quoted = [f"'{n}'" for n in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    raise ValueError(f"Input should be {listed}")


class Provider(_Strict):
    """A hosting provider and how to talk to it."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    base_url: str
    api: str = "openai"  # a wire protocol of signalbox.protocols
    api_key_env: str | None = None
    region: str | None = None

    @field_validator("api")
    @classmethod
    def _known_api(cls, value: str) -> str:
        if value not in PROTOCOLS:
            raise ValueError(f"unknown api '{value}'; one of {', '.join(sorted(PROTOCOLS))}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class EndpointSpec(_Strict):
    """One provider serving one model under its own upstream id."""

    provider: str
    upstream_model: Annotated[str, Field(min_length=1)]
    price_input_per_mtok: NonNegFloat | None = None
    price_output_per_mtok: NonNegFloat | None = None
    enabled: bool = True


class Model(_Strict):
    """A canonical model name that apps use, and its equivalent endpoints. ``context_window``
    (tokens, prompt plus output) and ``supports_tools`` are what routes' pre-call triggers read."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")]
    endpoints: list[EndpointSpec] = Field(default_factory=list, alias="endpoint")
    context_window: Annotated[int, Field(ge=1)] | None = None
    supports_tools: StrictBool = True


class ProbeShape(_Strict):
    """A probe request: its prompt size and output length."""

    name: Annotated[str, Field(min_length=1)]
    prompt: str | None = None
    prompt_tokens: Annotated[int, Field(ge=1, le=200_000)] = 32
    max_tokens: Annotated[int, Field(ge=1, le=32_768)] = 64

    def prompt_text(self) -> str:
        """The prompt sent: the given one, or a neutral filler of about ``prompt_tokens``."""
        if self.prompt:
            return self.prompt
        words = ["Count", "slowly", "and", "describe", "each", "number", "in", "words."]
        filler = " ".join(words[i % len(words)] for i in range(self.prompt_tokens))
        return f"{filler}\nNow write a long story."


class ProbeSettings(_Strict):
    """How often and how hard to probe."""

    interval_s: PositiveFloat = 60.0
    jitter_s: NonNegFloat = 5.0
    connect_timeout_s: PositiveFloat = 5.0
    ttft_timeout_s: PositiveFloat = 20.0
    total_timeout_s: PositiveFloat = 60.0
    concurrency: Annotated[int, Field(ge=1, le=10_000)] = 32
    daily_budget_usd: NonNegFloat | None = None
    # skip a scheduled probe of an endpoint that served successful traffic within the last
    # interval: the traffic measured it (probe.coverage)
    skip_with_traffic: bool = True
    shapes: list[ProbeShape] = Field(
        default_factory=lambda: [ProbeShape(name="short")], alias="shape"
    )


class BreakerSettings(_Strict):
    """``[routing.breaker]``: when an endpoint's circuit opens and how it comes back.

    It opens after ``failure_threshold`` consecutive failures, or when the decayed error rate
    (at ``routing.half_life_s``) exceeds ``error_rate_threshold`` over at least ``min_samples``
    effective samples. It stays open ``cooldown_s``, then lets one half-open trial through (another
    after ``trial_timeout_s`` if that one never reports); a failed trial reopens it with the
    cooldown doubled, up to ``max_cooldown_s``. A probe's success closes it at once. Replay's
    breakers and the dashboard's "circuit open" state apply these same thresholds.
    """

    failure_threshold: Annotated[int, Field(ge=1)] = 5
    error_rate_threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    min_samples: NonNegFloat = 10.0
    cooldown_s: PositiveFloat = 15.0
    max_cooldown_s: PositiveFloat = 300.0
    trial_timeout_s: PositiveFloat = 60.0


class RoutingSettings(_Strict):
    """``[routing]``: how endpoints are measured and chosen; the one routing-settings object the
    router, replay and the dashboard all take from the catalog.

    - ``half_life_s``: half-life of the decayed statistics; ``half_life_by_objective_s`` overrides
      it per objective (keys: the objectives of ``signalbox.routing.objectives``).
    - ``stale_after_s``: an endpoint whose newest observation is older is stale (scored on its
      pessimistic quantile; the dashboard shows it stale).
    - ``share_buffer``: endpoints scoring within this fraction of the best share the traffic.
    - ``explore_share``: the share of decisions that explores an unsure endpoint, one that is stale
      or has fewer than ``min_samples`` effective samples (the router also asks the prober to
      probe those sooner).
    - ``decision_sample_rate``: the share of decisions written to the store.
    - ``breaker``: the circuit breaker's thresholds and cooldowns (:class:`BreakerSettings`).

    Alert rules keep their own half-lives (``[[alert]] half_life_s``), shown on each rule.
    """

    half_life_s: PositiveFloat = 900.0
    half_life_by_objective_s: dict[str, PositiveFloat] = Field(default_factory=dict)
    stale_after_s: PositiveFloat = 300.0
    share_buffer: Annotated[float, Field(ge=0, le=1)] = 0.05
    explore_share: Annotated[float, Field(ge=0, le=0.5)] = 0.02
    min_samples: NonNegFloat = 3.0
    decision_sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.1
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    def half_life_for(self, objective: str) -> float:
        """The half-life ``objective`` reads (its override, else ``half_life_s``)."""
        return self.half_life_by_objective_s.get(str(objective), self.half_life_s)

    def half_lives(self) -> list[float]:
        """Every distinct half-life some objective reads, ascending."""
        return sorted({self.half_life_s, *self.half_life_by_objective_s.values()})

    def summary(self) -> str:
        """The settings ranking depends on, in one line (for replay's and the dashboard's notes)."""
        b = self.breaker
        overrides = "".join(
            f", {name} {hl:g} s" for name, hl in sorted(self.half_life_by_objective_s.items())
        )
        return (
            f"half-life {self.half_life_s:g} s{overrides}, stale after {self.stale_after_s:g} s,"
            f" sharing within {self.share_buffer:.0%}, exploring {self.explore_share:.0%} below"
            f" {self.min_samples:g} samples; circuit opens after {b.failure_threshold} failures"
            f" or an error rate over {b.error_rate_threshold:.0%} on {b.min_samples:g} samples"
        )


class AlertRule(_Strict):
    """A degradation rule evaluated per endpoint (docs/architecture.md §7).

    ``kind`` is a key of ``signalbox.alerts.rules.ALERT_KINDS``. The rule reads the endpoint's
    decayed statistics at its own ``half_life_s`` (default 300 s: a change shows within minutes,
    whatever ``[routing] half_life_s`` the router ranks with); a baseline kind compares them with
    the endpoint's own history at ``baseline_half_life_s``, fed only observations older than four
    ``half_life_s``. It breaches when its value exceeds ``threshold`` over at least ``min_samples``
    effective samples, and fires after ``for_s`` of breach.
    """

    name: Annotated[str, Field(min_length=1)]
    kind: str
    threshold: PositiveFloat
    for_s: NonNegFloat = 60.0
    min_samples: NonNegFloat = 5.0
    half_life_s: PositiveFloat = 300.0
    baseline_half_life_s: PositiveFloat = 6 * 3600.0
    severity: Literal["info", "warning", "critical"] = "warning"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return one_of(value, ALERT_KINDS)


class Webhook(_Strict):
    """Where alert notifications go. The URL is a secret: read from the environment if named so."""

    name: Annotated[str, Field(min_length=1)]
    url: str | None = None
    url_env: str | None = None
    format: Literal["alertmanager", "slack"] = "alertmanager"


class Catalog(_Strict):
    """The whole catalog file."""

    providers: list[Provider] = Field(default_factory=list, alias="provider")
    models: list[Model] = Field(default_factory=list, alias="model")
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    alerts: list[AlertRule] = Field(default_factory=list, alias="alert")
    webhooks: list[Webhook] = Field(default_factory=list, alias="webhook")
    routes: list[Route] = Field(default_factory=list, alias="route")

    def route(self, name: str) -> Route | None:
        """The route of that name, or None."""
        for route in self.routes:
            if route.name == name:
                return route
        return None

    def provider(self, name: str) -> Provider:
        """The provider of that name (KeyError when unknown)."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise KeyError(name)

    def model(self, name: str) -> Model:
        """The model of that canonical name (KeyError when unknown)."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def endpoints(self) -> Iterator[EndpointRef]:
        """Every (model, endpoint, provider) triple, in catalog order."""
        for model in self.models:
            for spec in model.endpoints:
                yield EndpointRef(
                    model=model.name, spec=spec, provider=self.provider(spec.provider)
                )


@dataclass(frozen=True, slots=True)
class EndpointRef:
    """An endpoint with its provider resolved; the store assigns it an id at sync."""

    model: str
    spec: EndpointSpec
    provider: Provider

    @property
    def key(self) -> str:
        """``provider/model``: a stable human name for the endpoint."""
        return f"{self.provider.name}/{self.model}"


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _msg(message: str) -> str:
    return message.removeprefix("Value error, ")


def _cross_check(catalog: Catalog) -> list[str]:
    problems: list[str] = []

    def dupes(kind: str, names: list[str]) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append(f"{kind}[{i}].name: duplicate name '{name}'")
            seen.add(name)

    dupes("provider", [p.name for p in catalog.providers])
    dupes("model", [m.name for m in catalog.models])
    dupes("alert", [a.name for a in catalog.alerts])
    dupes("webhook", [w.name for w in catalog.webhooks])
    dupes("probe.shape", [s.name for s in catalog.probe.shapes])
    known = {p.name for p in catalog.providers}
    for i, model in enumerate(catalog.models):
        seen_providers: set[str] = set()
        for j, spec in enumerate(model.endpoints):
            where = f"model[{i}].endpoint[{j}].provider"
            if spec.provider not in known:
                problems.append(f"{where}: unknown provider '{spec.provider}'")
            elif spec.provider in seen_providers:
                problems.append(f"{where}: provider '{spec.provider}' listed twice for this model")
            seen_providers.add(spec.provider)
    for i, hook in enumerate(catalog.webhooks):
        if (hook.url is None) == (hook.url_env is None):
            problems.append(f"webhook[{i}]: give exactly one of url or url_env")
    if catalog.probe.ttft_timeout_s > catalog.probe.total_timeout_s:
        problems.append("probe.ttft_timeout_s: must not exceed probe.total_timeout_s")
    for objective in catalog.routing.half_life_by_objective_s:
        if objective not in OBJECTIVES:
            problems.append(
                f"routing.half_life_by_objective_s.{objective}: unknown objective;"
                f" use one of {', '.join(OBJECTIVES)}"
            )
    breaker = catalog.routing.breaker
    if breaker.cooldown_s > breaker.max_cooldown_s:
        problems.append(
            "routing.breaker.cooldown_s: must not exceed routing.breaker.max_cooldown_s"
        )
    problems += route_problems(catalog.routes, [m.name for m in catalog.models])
    return problems


def parse_catalog(text: str, path: Path | str = "<catalog>") -> Catalog:
    """Parse and validate catalog TOML text; raise :class:`CatalogError` listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(path, [f"(toml): {exc}"]) from None
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_loc(err['loc'])}: {_msg(err['msg'])}" for err in exc.errors()]
        raise CatalogError(path, problems) from None
    problems = _cross_check(catalog)
    if problems:
        raise CatalogError(path, problems)
    return catalog


def routing_settings(path: Path | str) -> tuple[RoutingSettings, str | None]:
    """The catalog's ``[routing]``; or, when the catalog cannot be read, the defaults and a line
    saying so (readers of a bare store, such as replay and the dashboard, still work)."""
    try:
        return load_catalog(path).routing, None
    except CatalogError as exc:
        why = "; ".join(exc.problems)
        return RoutingSettings(), (
            f"catalog {exc.path} not readable ({why}): ranking with the default routing settings"
        )


def load_catalog(path: Path | str) -> Catalog:
    """Read and validate the catalog file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(
            path, ["(file): not found; set SIGNALBOX_CATALOG or --catalog"]
        ) from None
    except OSError as exc:
        raise CatalogError(path, [f"(file): cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise CatalogError(path, ["(file): not UTF-8 text"]) from None
    return parse_catalog(text, path)
