"""Replay page: what a routing policy would have delivered over the last day of this store's own
observations, next to the best choice in hindsight and to sending everything to one provider
(``/replay?model=M&objective=balanced&policy=signalbox&step=300&ignore=a,b&max_price=1``). The
numbers are those of ``signalbox replay``: the page calls :mod:`signalbox.replay` with the
dashboard's routing settings (the catalog's ``[routing]``) and the constraints chosen here, never
the router."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import dash
import polars as pl
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.colors import colors_for_endpoints
from signalbox.dashboard.components import model_picker, number_input, providers_picker, radios
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import CHOICES_TITLE, choice_shares_figure, message_figure
from signalbox.dashboard.notices import (
    describe_failure,
    models_or_notice,
    no_model_notice,
    notice,
)
from signalbox.dashboard.replay_tables import CAPTION, gains_table, strategy_table
from signalbox.replay import POLICIES, ReplayEndpoint, ReplayReport, load, replay
from signalbox.rollup import floor_ts
from signalbox.routing.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, Objective
from signalbox.routing.select import Constraints

PATH = "/replay"
NAME = "Replay"

SPAN = timedelta(hours=24)
SPAN_LABEL = "24 hours"
STEPS = {"60": "1 min", "300": "5 min", "900": "15 min"}
DEFAULT_STEP = "300"  # the probe's default interval is 60 s: 1-minute steps often miss a provider
POLICY_LABELS = {
    "signalbox": "signalbox",
    "round-robin": "round-robin",
    "static-best": "static best",
}
SMALL = {"color": "#666", "fontSize": "13px", "marginBottom": "8px"}


@dataclass(frozen=True, slots=True)
class Selection:
    """What the page replays: model, objective, policy and step (seconds, as a string), and the
    constraints an app would send (they shape the signalbox policy's choices)."""

    model: str | None
    objective: str
    policy: str
    step: str
    only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    max_price: float | None = None
    max_error_rate: float | None = None

    def constraints(self) -> Constraints:
        """The router's constraints for this selection."""
        return Constraints(
            only=frozenset(self.only) if self.only else None,
            ignore=frozenset(self.ignore),
            max_price=self.max_price,
            max_error_rate=self.max_error_rate,
        )


def selection(query: Mapping[str, Any], models: list[str]) -> Selection:
    """The selection a URL (or the controls) asks for, with unknown values replaced by defaults
    and values out of range dropped."""
    model = query.get("model")
    if model not in models:
        model = models[0] if models else None
    objective = query.get("objective", "")
    policy = query.get("policy", "")
    step = query.get("step", "")
    return Selection(
        model,
        objective if objective in OBJECTIVES else str(DEFAULT_OBJECTIVE),
        policy if policy in POLICIES else POLICIES[0],
        step if step in STEPS else DEFAULT_STEP,
        _names(query.get("only")),
        _names(query.get("ignore")),
        _number(query.get("max_price")),
        _number(query.get("max_error_rate"), 1.0),
    )


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Provider names from ``a,b`` (a URL) or a list (a dropdown), sorted, without blanks."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(sorted({str(v).strip() for v in items if str(v).strip()}))


def _number(value: object, top: float | None = None) -> float | None:
    """A number at least 0 (and at most ``top``), else None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not 0 <= number <= (math.inf if top is None else top):
        return None
    return number


def search_for(sel: Selection) -> str:
    """The query string that reproduces this selection."""
    values = {k: ",".join(v) if isinstance(v, tuple) else v for k, v in asdict(sel).items()}
    return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """Controls from the URL, then the comparison table, the choice shares and the gains."""
    models, status = models_or_notice(ctx.engine)
    sel = selection(query, models)
    controls = html.Div(
        [
            model_picker(ids.REPLAY_MODEL, models, sel.model, width_px=200),
            radios(ids.REPLAY_OBJECTIVE, "Objective", [(o, o) for o in OBJECTIVES], sel.objective),
            radios(ids.REPLAY_POLICY, "Policy", list(POLICY_LABELS.items()), sel.policy),
            radios(ids.REPLAY_STEP, "Step", list(STEPS.items()), sel.step),
        ],
        className="controls card",
    )
    providers = _providers(ctx) if models else []  # no second wait on a store that is down
    constraints = html.Div(
        [
            html.Label("Constraints", className="head"),
            providers_picker(ids.REPLAY_ONLY, "only these providers", providers, sel.only),
            providers_picker(ids.REPLAY_IGNORE, "ignore providers", providers, sel.ignore),
            number_input(ids.REPLAY_MAX_PRICE, "max $/Mtok", sel.max_price, None),
            number_input(ids.REPLAY_MAX_ERROR_RATE, "max error rate (0-1)", sel.max_error_rate, 1),
        ],
        className="controls card",
    )
    shares = dcc.Graph(
        id=ids.REPLAY_SHARES,
        figure=message_figure("loading…", CHOICES_TITLE, height=220),
        config={"displaylogo": False, "displayModeBar": False},
    )
    return html.Div(
        [
            controls,
            constraints,
            html.Div(status, id=ids.REPLAY_STATUS),
            html.Div(
                html.Div(
                    [
                        html.Div(
                            [
                                html.H3(f"Strategies over the last {SPAN_LABEL}"),
                                html.Div(id=ids.REPLAY_TABLE),
                            ],
                            className="tablebox",
                        ),
                        shares,
                    ],
                    className="model-row",
                ),
                className="card",
            ),
            html.Div(
                [
                    html.H3("What the policy gains"),
                    html.Div(CAPTION, style=SMALL),
                    html.Div(id=ids.REPLAY_GAINS),
                ],
                className="card",
            ),
        ]
    )


def _providers(ctx: DashContext) -> list[str]:
    """Every enabled endpoint's provider name (the constraint choices); none when unreachable."""
    try:
        eps = queries.endpoints(ctx.engine)
    except Exception:  # the status line says why; the controls stay empty
        return []
    return sorted(eps.filter(pl.col("enabled"))["provider"].unique().to_list())


CONTROLS = (
    ids.REPLAY_MODEL,
    ids.REPLAY_OBJECTIVE,
    ids.REPLAY_POLICY,
    ids.REPLAY_STEP,
    ids.REPLAY_ONLY,
    ids.REPLAY_IGNORE,
    ids.REPLAY_MAX_PRICE,
    ids.REPLAY_MAX_ERROR_RATE,
)


def _from_controls(values: Sequence[Any]) -> Selection:
    """The selection the controls hold, checked like a URL's (``Selection`` field order)."""
    fields = ("model", "objective", "policy", "step", "only", "ignore")
    fields += ("max_price", "max_error_rate")
    query = dict(zip(fields, values, strict=True))
    return selection(query, [query["model"]] if query["model"] else [])


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The replay page's callbacks on ``app``."""
    cache = ReplayCache()

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        *[Input(c, "value") for c in CONTROLS],
        prevent_initial_call=True,
    )
    def _to_url(*values: Any) -> str:
        return search_for(_from_controls(values))

    @app.callback(
        Output(ids.REPLAY_STATUS, "children"),
        Output(ids.REPLAY_TABLE, "children"),
        Output(ids.REPLAY_GAINS, "children"),
        Output(ids.REPLAY_SHARES, "figure"),
        *[Input(c, "value") for c in CONTROLS],
        Input(ids.REFRESH, "n_intervals"),
    )
    def _refresh(*values: Any) -> tuple[Any, ...]:
        return refresh(ctx, _from_controls(values[:-1]), cache)


class ReplayCache:
    """The last few reports, keyed by selection, window end and the rows read: a refresh within
    one step (the window ends on a step boundary) reuses the replay instead of redoing it."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._reports: OrderedDict[tuple[Any, ...], ReplayReport] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> ReplayReport | None:
        """The report stored under ``key``, if any."""
        with self._lock:
            report = self._reports.get(key)
            if report is not None:
                self._reports.move_to_end(key)
            return report

    def put(self, key: tuple[Any, ...], report: ReplayReport) -> None:
        """Keep ``report``, dropping the oldest beyond the size."""
        with self._lock:
            self._reports[key] = report
            while len(self._reports) > self._size:
                self._reports.popitem(last=False)


NOTHING = "Nothing to compare: see the message above."


def _blank(text: str) -> tuple[html.Div, html.Div, dict[str, Any]]:
    """Placeholders for both tables and a chart that says why it is empty."""
    return (
        html.Div(NOTHING, style=SMALL),
        html.Div(NOTHING, style=SMALL),
        message_figure(text, CHOICES_TITLE, height=220),
    )


def refresh(ctx: DashContext, sel: Selection, cache: ReplayCache | None = None) -> tuple[Any, ...]:
    """Status, strategy table, gains table and choice-share chart for one selection; messages
    instead of errors."""
    if sel.model is None:
        status = no_model_notice(ctx.engine, "the model list")
        text = "database unreachable" if "unreachable" in str(status.children) else "no model"
        return (status, *_blank(text))
    sel = selection(asdict(sel), [sel.model])  # callback values, checked like a URL's
    step = timedelta(seconds=float(sel.step))
    now = ctx.now()
    until = floor_ts(now, step)  # whole steps only: the last one is complete
    try:
        eps = queries.endpoints(ctx.engine)
        obs, endpoints = load(ctx.engine, sel.model, until - SPAN, until)
        if obs.is_empty():
            # A fresh store (the first minutes of an install) has nothing before the step in
            # progress: replay that step rather than nothing.
            until += step
            obs, endpoints = load(ctx.engine, sel.model, until - SPAN, until)
    except Exception as exc:
        status = notice(describe_failure(exc, f"the replay of {sel.model}"), "error")
        return (status, *_blank("database unreachable"))
    since = until - SPAN
    enabled = set(eps.filter(pl.col("enabled"))["endpoint_id"].to_list())
    seen = set(obs["endpoint_id"].unique().to_list())
    kept = [e for e in endpoints if e.id in enabled and e.id in seen]  # disabled: never routed to
    silent = [e.provider for e in endpoints if e.id in enabled and e.id not in seen]
    parts: list[Any] = []
    if not kept:
        text = f"No observations of {sel.model} in the last {SPAN_LABEL}, so nothing to replay."
        return (notice(text, "warn"), *_blank("no observations"))
    if ctx.routing_note:
        parts.append(notice(f"{ctx.routing_note[0].upper()}{ctx.routing_note[1:]}."))
    if silent:
        parts.append(
            notice(
                f"Left out, no observations in the last {SPAN_LABEL}: {', '.join(silent)}.", "warn"
            )
        )
    if sel.constraints() != Constraints() and sel.policy != "signalbox":
        parts.append(notice("Constraints shape the signalbox policy only: this one ignores them."))
    obs = obs.filter(pl.col("endpoint_id").is_in([e.id for e in kept]))
    report = _replayed(cache, ctx, sel, obs, kept, since)
    total = round(SPAN / step)
    if report.steps == 0:
        names = ", ".join(e.provider for e in kept)
        parts.append(
            notice(
                f"No {STEPS[sel.step]} step in the last {SPAN_LABEL} has observations of every "
                f"provider ({names}); choose a longer step.",
                "warn",
            )
        )
        return (parts, *_blank("not enough overlapping data"))
    if len(kept) == 1:
        parts.append(notice(f"Only {kept[0].provider} has observations: there is no choice."))
    end = "now (the step in progress)" if until > now else f"{until:%H:%M} UTC"
    carried = (
        f", {report.carried} with a provider's outcome from up to"
        f" {ctx.routing.stale_after_s:g} s before"
        if report.carried
        else ""
    )
    unserved = (
        f" · {report.policy.unserved} step(s) where no provider met the constraints"
        if report.policy.unserved
        else ""
    )
    wanted = sel.constraints().describe()
    parts.append(
        html.Div(
            f"{sel.model} · policy {sel.policy} · objective {sel.objective} · last {SPAN_LABEL} "
            f"to {end} in steps of {STEPS[sel.step]}: {report.steps} of {total} "
            f"had observations of every provider{carried}{unserved} · updated {now:%H:%M:%S} UTC",
            style=SMALL,
        )
    )
    parts.append(
        html.Div(
            f"Ranked as the router ranks: {ctx.routing.summary()}"
            + (f" · constraints: {wanted}" if wanted else ""),
            style=SMALL,
        )
    )
    colors = colors_for_endpoints(zip(eps["provider_id"], eps["provider"], strict=True))
    shares = {sel.policy: report.policy.choices, "hindsight": report.hindsight.choices}
    return (
        parts,
        strategy_table(report, colors),
        gains_table(report, colors),
        choice_shares_figure(shares, colors),
    )


def _replayed(
    cache: ReplayCache | None,
    ctx: DashContext,
    sel: Selection,
    obs: pl.DataFrame,
    endpoints: list[ReplayEndpoint],
    since: datetime,
) -> ReplayReport:
    key = (sel, since, tuple(e.id for e in endpoints), obs.height)
    report = cache.get(key) if cache is not None else None
    if report is None:
        report = replay(
            obs,
            endpoints,
            model=sel.model or "",
            since=since,
            until=since + SPAN,
            objective=Objective(sel.objective),
            policy=sel.policy,
            step_s=float(sel.step),
            settings=ctx.routing,
            constraints=sel.constraints(),
        )
        if cache is not None:
            cache.put(key, report)
    return report
