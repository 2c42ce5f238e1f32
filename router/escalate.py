"""Routing across models, the pure part (issue #18): which models a request may go through, in
what order, and where it starts (the pre-call triggers of ``signalbox.routing.triggers``).

A request is routed across models when its ``model`` names a catalog ``[[route]]`` or when it
carries an OpenRouter-style ``models`` list (pure model fallback, route ``(request)``). Post-call
checks of the answer live in ``signalbox.router.answers``; the I/O in ``signalbox.router.routed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signalbox.catalog import Catalog
from signalbox.router.errors import ApiError
from signalbox.router.fields import echo
from signalbox.router.params import bad
from signalbox.routes import Route

REQUEST_ROUTE = "(request)"  # the route name of a per-request ``models`` list
MAX_REQUEST_MODELS = 8
TIER_HEADER = "x-signalbox-tier"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A routed request: the route's name, the models in order and the route's switches
    (``route`` is None for a ``models`` list, where only the failure triggers apply)."""

    name: str
    path: tuple[str, ...]
    route: Route | None = None

    def on(self, trigger: str) -> bool:
        """Whether the trigger applies to this request's route."""
        if self.route is None:
            return trigger == "failure"
        return self.route.on(trigger)

    @property
    def buffered(self) -> bool:
        """Whether a stream is held until its answer validates."""
        return self.route is not None and self.route.buffer_for_validation


@dataclass(frozen=True, slots=True)
class Escalation:
    """One trigger that moved the request past a model, and why."""

    trigger: str
    model: str
    detail: str


@dataclass(slots=True)
class Start:
    """Where a routed request starts: the models it may still go through, in order, and the
    pre-call escalations that removed the others."""

    steps: list[str]
    escalations: list[Escalation] = field(default_factory=list)


def request_models(body: Mapping[str, Any], model: str) -> list[str] | None:
    """The models of an OpenRouter-style ``models`` list, ``model`` first (it takes priority, as
    on OpenRouter), each once; None when the body has none. 400 on a malformed list."""
    value = body.get("models")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(m, str) and m.strip() for m in value)
    ):
        raise bad("models", "must be a non-empty list of model names")
    if len(value) > MAX_REQUEST_MODELS:
        raise bad("models", f"at most {MAX_REQUEST_MODELS} models, got {len(value)}")
    out = [model] if model else []
    out += [m.strip() for m in value if m.strip() not in out]
    return out


def plan_for(catalog: Catalog, body: Mapping[str, Any], model: str) -> RoutePlan | None:
    """The plan of a routed request, or None for a plain one. A ``models`` list must name
    catalog models (404 naming the first that is not)."""
    listed = request_models(body, model)
    if listed is not None:
        known = {m.name for m in catalog.models}
        for name in listed:
            if name not in known:
                raise ApiError(
                    404,
                    f"model '{echo(name)}' is not in the catalog (see GET /v1/models)",
                    "model_not_found",
                    param="models",
                )
        return RoutePlan(REQUEST_ROUTE, tuple(listed))
    route = catalog.route(model)
    if route is None:
        return None
    return RoutePlan(route.name, tuple(route.path), route)


def hinted(body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """Where the app asked for the stronger model (header or ``metadata.tier``), or None."""
    if headers.get(TIER_HEADER, "").strip().lower() == "high":
        return f"header {TIER_HEADER}: high"
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and str(metadata.get("tier", "")).lower() == "high":
        return "metadata.tier = high"
    return None


def _requested_output(body: Mapping[str, Any]) -> int:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def pre_call(
    plan: RoutePlan,
    catalog: Catalog,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    prompt_tokens: int,
) -> Start:
    """Apply the pre-call triggers: drop the models that cannot take the request (context window,
    tools), then the default when the request is big or hinted. No step left: none fits."""
    start = Start(list(plan.path))
    needed = prompt_tokens + _requested_output(body)
    wants_tools = bool(body.get("tools"))
    skipped: list[Escalation] = []
    for model in plan.path:
        spec = catalog.model(model)
        window = spec.context_window
        if plan.on("context_window") and window is not None and needed > window:
            skipped.append(
                Escalation(
                    "context_window",
                    model,
                    f"{model}: ~{needed} tokens (prompt, estimated, plus max_tokens) exceed its"
                    f" context window of {window}",
                )
            )
        elif plan.on("tools") and wants_tools and not spec.supports_tools:
            skipped.append(
                Escalation("tools", model, f"{model}: the request has tools; it has none")
            )
    gone = {e.model for e in skipped}
    start.steps = [m for m in plan.path if m not in gone]
    start.escalations = skipped
    if not start.steps:
        return start  # the caller answers 400, naming each model's reason
    default = plan.path[0]
    if start.steps[0] == default and len(start.steps) > 1:
        limit = plan.route.prompt_tokens_above if plan.route is not None else None
        why = hinted(body, headers) if plan.on("hint") else None
        if plan.on("prompt_tokens") and limit is not None and prompt_tokens > limit:
            start.escalations.append(
                Escalation(
                    "prompt_tokens",
                    default,
                    f"{default}: ~{prompt_tokens} prompt tokens (estimated, characters / 4) >"
                    f" {limit}",
                )
            )
            start.steps.pop(0)
        elif why is not None:
            start.escalations.append(Escalation("hint", default, f"{default}: {why}"))
            start.steps.pop(0)
    return start
