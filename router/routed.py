"""Routing across models, the I/O (issue #18): run a routed request's steps, each the normal
provider routing of one model (decide, then forward with provider fallback), moving on when a
trigger fires; answer with the route headers; record the decision (batched, off the request path).

Streaming semantics (README "Routing across models"): a step whose answer may still be escalated
is held whole when the request is not streamed, or when the route sets ``buffer_for_validation``;
otherwise it streams through as any request, and only the pre-call and failure triggers apply
(a failure happens before the first byte reaches the app: after it, the model never changes).
The last step is never held: there is nowhere left to escalate to.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from signalbox.records import ErrorClass
from signalbox.route_record import RouteDecisionRecord
from signalbox.router.answers import inspect
from signalbox.router.errors import ApiError, error_response, from_api_error
from signalbox.router.escalate import Escalation, RoutePlan, pre_call
from signalbox.router.events import Marks
from signalbox.router.fallback import ProvidersExhausted, UpstreamClientError
from signalbox.router.params import RouteRequest
from signalbox.router.proxy import HeldAnswer
from signalbox.router.state import RankEntry, RouterState
from signalbox.routing.objectives import DEFAULT_OBJECTIVE, Objective
from signalbox.routing.select import Decision
from signalbox.routing.triggers import NONE, POST_CALL

Decide = Callable[[RouterState, RouteRequest, bool], tuple[Decision, RankEntry]]
perf_ns = time.perf_counter_ns


@dataclass(slots=True)
class _Run:
    """What one routed request did so far."""

    plan: RoutePlan
    received_ns: int
    wall: float
    stream: bool
    escalations: list[Escalation]
    tried: list[str] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    marks: list[Marks] = field(default_factory=list)
    buffered: bool = False
    first_byte_ns: int | None = None

    def headers(self) -> dict[str, str]:
        """The route headers as they stand."""
        return {
            "x-signalbox-route": self.plan.name,
            "x-signalbox-path": ",".join(self.tried),
            "x-signalbox-trigger": self.escalations[0].trigger if self.escalations else NONE,
        }

    def add(self, model: str, trace: list[tuple[str, Marks]]) -> None:
        """Keep one step's attempts."""
        for provider, marks in trace:
            obs = marks.observation
            self.marks.append(marks)
            self.attempts.append(
                {
                    "model": model,
                    "provider": provider,
                    "outcome": "ok" if obs is not None and obs.ok else _failed_as(obs),
                    "ttft_ms": None
                    if obs is None or obs.ttft_ms is None
                    else round(obs.ttft_ms, 1),
                    "input_tokens": None if obs is None else obs.input_tokens,
                    "output_tokens": None if obs is None else obs.output_tokens,
                    "cost_usd": None if obs is None else obs.cost_usd,
                }
            )


def _failed_as(obs: Any) -> str:
    if obs is None or obs.error_class is None:
        return "cancelled"
    return str(obs.error_class)


def _step_deadline_ms(app_ms: float | None, route_ms: float | None) -> float | None:
    """A step's first-token deadline: the app's or the route's, whichever is shorter. The last
    step has no route deadline (passed as None): a slow answer beats no answer."""
    given = [ms for ms in (app_ms, route_ms) if ms is not None]
    return min(given) if given else None


def _exhausted_trigger(plan: RoutePlan, errors: list[ErrorClass]) -> str | None:
    """The failure trigger of a step whose providers all failed: ``deadline`` when the route's
    first-token deadline cut one, ``empty`` when all answered nothing, else ``failure``."""
    if plan.on("deadline") and ErrorClass.TIMEOUT_TTFT in errors:
        return "deadline"
    if plan.on("empty") and errors and all(e is ErrorClass.EMPTY for e in errors):
        return "empty"
    return "failure" if plan.on("failure") else None


async def run_route(
    state: RouterState,
    decide: Decide,
    request: web.Request,
    body: dict[str, Any],
    rr: RouteRequest,
    plan: RoutePlan,
    received_ns: int,
) -> web.StreamResponse:
    """Run the steps of a routed request; the response of the one that answers, or the error of
    the last; one decision recorded whatever happens."""
    start = pre_call(plan, state.catalog, body, request.headers, rr.shape.input_tokens)
    route = plan.route
    objective = route.objective_for(rr.objective) if route is not None else rr.objective
    run = _Run(plan, received_ns, state.clock(), bool(body.get("stream")), start.escalations)
    deadline_ms = (
        route.first_token_deadline_ms if route is not None and plan.on("deadline") else None
    )
    post = any(plan.on(t) for t in POST_CALL)
    final: tuple[str, str] | None = None
    response: web.StreamResponse | None = None
    try:
        if not start.steps:
            why = "; ".join(e.detail for e in start.escalations)
            response = error_response(
                400,
                f"no model of route '{plan.name}' can take this request: {why}",
                "no_model_fits",
                param="messages",
                headers=run.headers(),
            )
            return response
        for i, model in enumerate(start.steps):
            last = i == len(start.steps) - 1
            run.tried.append(model)
            hold = post and not last and (not run.stream or plan.buffered)
            run.buffered |= hold and run.stream
            trace: list[tuple[str, Marks]] = []
            step = replace(rr, model=model, objective=objective)
            try:
                decision, _ = decide(state, step, True)
                result = await state.forwarder.forward(
                    request,
                    body,
                    decision,
                    rr.allow_fallbacks,
                    _step_deadline_ms(rr.constraints.max_ttft_ms, None if last else deadline_ms),
                    received_ns,
                    hold=hold,
                    headers=run.headers(),
                    trace=trace,
                )
            except ProvidersExhausted as exc:
                run.add(model, trace)
                trigger = _exhausted_trigger(plan, [e.error_class for e in exc.errors])
                if trigger is None or last:
                    response = error_response(
                        502,
                        f"route '{plan.name}': {exc}",
                        "providers_exhausted",
                        headers={**run.headers(), "x-signalbox-attempts": str(len(exc.errors))},
                    )
                    return response
                why = "; ".join(e.describe() for e in exc.errors)
                run.escalations.append(Escalation(trigger, model, f"{model}: {why}"))
                continue
            except ApiError as exc:  # no endpoint of the model qualifies (503)
                run.add(model, trace)
                if exc.status != 503 or not plan.on("failure") or last:
                    response = from_api_error(exc)
                    response.headers.update(run.headers())
                    return response
                run.escalations.append(Escalation("failure", model, f"{model}: {exc.message}"))
                continue
            except UpstreamClientError as exc:  # the app's request is wrong: no model will take it
                run.add(model, trace)
                response = error_response(
                    exc.status,
                    f"the provider refused the request: {exc.message}",
                    "upstream_rejected",
                    "invalid_request_error",
                    headers=run.headers(),
                )
                return response
            run.add(model, trace)
            if isinstance(result, HeldAnswer):
                found = inspect(result.completion, body, plan.on)
                if found is not None and not last:
                    run.escalations.append(Escalation(found[0], model, f"{model}: {found[1]}"))
                    continue
                final = (model, result.provider)
                response = await _send_held(request, run, result)
                return response
            final = (model, result.headers.get("x-signalbox-provider", ""))
            response = result
            return response
        raise AssertionError("unreachable: the last step always returns")  # pragma: no cover
    finally:
        _log(state, run, objective, final, response)


async def _send_held(request: web.Request, run: _Run, held: HeldAnswer) -> web.StreamResponse:
    """Send an answer that passed: whole, or as the stream it was (then ``[DONE]`` included)."""
    headers = {**held.headers, **run.headers()}
    if held.sse is None:
        run.first_byte_ns = perf_ns()
        return web.Response(
            body=orjson.dumps(held.completion), content_type="application/json", headers=headers
        )
    response = web.StreamResponse(
        headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    # The app may have gone while its answer was held for validation (aiohttp's
    # ClientConnectionResetError is a ConnectionResetError): nothing to send to, and nothing wrong
    # with the provider, whose answer was measured when it came; the decision is still recorded.
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        run.first_byte_ns = perf_ns()
        await response.write(held.sse)
        await response.write_eof()
    return response


def _log(
    state: RouterState,
    run: _Run,
    objective: Objective | None,
    final: tuple[str, str] | None,
    response: web.StreamResponse | None,
) -> None:
    """Count and record the routed request."""
    plan = run.plan
    served = final is not None and response is not None and response.status == 200
    # a stream that broke after its first byte was served in part: it failed all the same
    whole = served and bool(run.attempts) and run.attempts[-1]["outcome"] == "ok"
    outcome = "failed" if not whole else ("escalated" if run.escalations else "ok")
    metrics = state.metrics
    metrics.route_requests[(plan.name, ",".join(run.tried), outcome)] += 1
    for e in run.escalations:
        metrics.route_escalations[(plan.name, e.trigger)] += 1
    if state.route_log is None:
        return
    now_ns = perf_ns()
    ttft_ms = None
    if served:
        if run.first_byte_ns is None and run.stream and run.marks and run.marks[-1].first_ns:
            run.first_byte_ns = run.marks[-1].first_ns  # streamed through: its first content
        first = run.first_byte_ns or now_ns
        ttft_ms = round((first - run.received_ns) / 1e6, 1)
    costs = [a["cost_usd"] for a in run.attempts if a["cost_usd"] is not None]
    state.route_log.submit(
        RouteDecisionRecord(
            ts=datetime.fromtimestamp(run.wall, UTC),
            route=plan.name,
            objective=str(objective or DEFAULT_OBJECTIVE),
            path=list(run.tried),
            trigger=run.escalations[0].trigger if run.escalations else None,
            trigger_detail="; ".join(f"{e.trigger}: {e.detail}" for e in run.escalations) or None,
            attempts=run.attempts,
            final_model=final[0] if served and final else None,
            final_provider=final[1] if served and final else None,
            outcome=outcome,
            input_tokens=sum(a["input_tokens"] or 0 for a in run.attempts),
            output_tokens=sum(a["output_tokens"] or 0 for a in run.attempts),
            cost_usd=sum(costs) if costs else None,
            latency_ms=round((now_ns - run.received_ns) / 1e6, 1),
            ttft_ms=ttft_ms,
            stream=run.stream,
            buffered=run.buffered,
            prompt_tokens_estimated=True,
        )
    )
