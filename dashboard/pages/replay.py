"""Replay page: what a routing policy would have delivered over the last day of this store's own
observations, next to the best choice in hindsight and to sending everything to one provider
(``/replay?model=M&objective=balanced&policy=signalbox&step=300``). The numbers are those of
``signalbox replay``: the page calls :mod:`signalbox.replay`, never the router."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import dash
import polars as pl
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.colors import color_for, colors_for_endpoints
from signalbox.dashboard.components import fmt, model_picker, radios, table
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import CHOICES_TITLE, choice_shares_figure, message_figure
from signalbox.dashboard.notices import (
    describe_failure,
    models_or_notice,
    no_model_notice,
    notice,
)
from signalbox.replay import POLICIES, ReplayEndpoint, ReplayReport, load, replay
from signalbox.rollup import floor_ts
from signalbox.routing.objectives import OBJECTIVES, Objective

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
HEADERS = ["strategy", "steps", "TTFT ms", "tok/s", "error rate", "$/Mtok (blended)"]
GAIN_HEADERS = ["compared with", "TTFT", "tok/s", "error rate", "$/Mtok"]
# summary key, higher is better, difference in points (rates) rather than percent
GAIN_METRICS = (
    ("ttft_ms", False, False),
    ("tps", True, False),
    ("error_rate", False, True),
    ("cost_per_mtok", False, False),
)
CAPTION = (
    "Change of the policy's mean against each alternative over the same steps; green is better "
    "for the policy (lower TTFT, error rate and cost, higher tok/s). Error rate in points."
)
GOOD, BAD = "#1b5e20", "#b71c1c"
SMALL = {"color": "#666", "fontSize": "13px", "marginBottom": "8px"}


@dataclass(frozen=True, slots=True)
class Selection:
    """What the page replays: model, objective, policy and step (seconds, as a string)."""

    model: str | None
    objective: str
    policy: str
    step: str


def selection(query: dict[str, str], models: list[str]) -> Selection:
    """The selection a URL asks for, with unknown values replaced by defaults."""
    model = query.get("model")
    if model not in models:
        model = models[0] if models else None
    objective = query.get("objective", "")
    policy = query.get("policy", "")
    step = query.get("step", "")
    return Selection(
        model,
        objective if objective in OBJECTIVES else Objective.BALANCED.value,
        policy if policy in POLICIES else POLICIES[0],
        step if step in STEPS else DEFAULT_STEP,
    )


def search_for(sel: Selection) -> str:
    """The query string that reproduces this selection."""
    return "?" + urlencode({k: v for k, v in asdict(sel).items() if v})


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
    shares = dcc.Graph(
        id=ids.REPLAY_SHARES,
        figure=message_figure("loading…", CHOICES_TITLE, height=220),
        config={"displaylogo": False, "displayModeBar": False},
    )
    return html.Div(
        [
            controls,
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


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The replay page's callbacks on ``app``."""
    cache = ReplayCache()
    controls = (ids.REPLAY_MODEL, ids.REPLAY_OBJECTIVE, ids.REPLAY_POLICY, ids.REPLAY_STEP)

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        *[Input(c, "value") for c in controls],
        prevent_initial_call=True,
    )
    def _to_url(model: str | None, objective: str, policy: str, step: str) -> str:
        return search_for(Selection(model, objective, policy, step))

    @app.callback(
        Output(ids.REPLAY_STATUS, "children"),
        Output(ids.REPLAY_TABLE, "children"),
        Output(ids.REPLAY_GAINS, "children"),
        Output(ids.REPLAY_SHARES, "figure"),
        *[Input(c, "value") for c in controls],
        Input(ids.REFRESH, "n_intervals"),
    )
    def _refresh(
        model: str | None, objective: str, policy: str, step: str, _n: int
    ) -> tuple[Any, ...]:
        return refresh(ctx, Selection(model, objective, policy, step), cache)


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
    step_s = float(sel.step)
    now = ctx.now()
    until = floor_ts(now, timedelta(seconds=step_s))  # whole steps only: the last one is complete
    since = until - SPAN
    try:
        eps = queries.endpoints(ctx.engine)
        obs, endpoints = load(ctx.engine, sel.model, since, until)
    except Exception as exc:
        status = notice(describe_failure(exc, f"the replay of {sel.model}"), "error")
        return (status, *_blank("database unreachable"))
    enabled = set(eps.filter(pl.col("enabled"))["endpoint_id"].to_list())
    seen = set(obs["endpoint_id"].unique().to_list())
    kept = [e for e in endpoints if e.id in enabled and e.id in seen]  # disabled: never routed to
    silent = [e.provider for e in endpoints if e.id in enabled and e.id not in seen]
    parts: list[Any] = []
    if not kept:
        text = f"No observations of {sel.model} in the last {SPAN_LABEL}, so nothing to replay."
        return (notice(text, "warn"), *_blank("no observations"))
    if silent:
        parts.append(
            notice(
                f"Left out, no observations in the last {SPAN_LABEL}: {', '.join(silent)}.", "warn"
            )
        )
    obs = obs.filter(pl.col("endpoint_id").is_in([e.id for e in kept]))
    report = _replayed(cache, sel, obs, kept, since)
    total = round(SPAN.total_seconds() / step_s)
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
    parts.append(
        html.Div(
            f"{sel.model} · policy {sel.policy} · objective {sel.objective} · last {SPAN_LABEL} "
            f"to {until:%H:%M} UTC in steps of {STEPS[sel.step]}: {report.steps} of {total} "
            f"had observations of every provider · updated {now:%H:%M:%S} UTC",
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
        )
        if cache is not None:
            cache.put(key, report)
    return report


def _single_label(name: str, colors: dict[str, str]) -> html.Span:
    """``only alpha`` behind alpha's chart colour."""
    provider = name.removeprefix("only ")
    swatch = html.Span(className="swatch", style={"background": color_for(colors, provider)})
    return html.Span([swatch, f"only {provider}"])


def strategy_table(report: ReplayReport, colors: dict[str, str]) -> html.Table:
    """One row per strategy: the policy, hindsight, then each single provider."""
    labels: list[Any] = [html.B(f"{report.policy.name} (policy)"), "hindsight (best each step)"]
    labels += [_single_label(s.name, colors) for s in report.singles]
    rows = [
        [
            label,
            str(row["steps"]),
            fmt(row["ttft_ms"], "{:.0f}"),  # type: ignore[arg-type]
            fmt(row["tps"], "{:.1f}"),  # type: ignore[arg-type]
            fmt(row["error_rate"], "{:.1%}"),  # type: ignore[arg-type]
            fmt(row["cost_per_mtok"], "${:.3f}"),  # type: ignore[arg-type]
        ]
        for label, row in zip(labels, report.rows(), strict=True)
    ]
    return table(HEADERS, rows, numeric=(1, 2, 3, 4, 5))


@dataclass(frozen=True, slots=True)
class Change:
    """The policy's mean against another's, as printed, and whether it is better for the policy
    (``None``: equal or not comparable)."""

    text: str
    better: bool | None


def change(
    mine: float | None, other: float | None, *, higher_is_better: bool, points: bool = False
) -> Change:
    """Relative change in percent, or the difference in percentage points for rates."""
    if mine is None or other is None:
        return Change("—", None)
    if points:
        diff = (mine - other) * 100
        unit = " pp"
    elif other == 0:
        return Change("—", None)
    else:
        diff = (mine - other) / abs(other) * 100
        unit = " %"
    if round(diff, 1) == 0:
        return Change("±0" + unit, None)
    text = f"{diff:+.1f}{unit}".replace("-", "\u2212")  # a real minus sign, as wide as the plus
    return Change(text, (diff > 0) == higher_is_better)


def gains(report: ReplayReport) -> list[tuple[str, list[Change]]]:
    """For each single provider, then hindsight: the policy's TTFT, tok/s, error-rate and cost
    change against it."""
    mine = report.policy.summary()
    others = [(s.name, s.summary()) for s in report.singles]
    others.append(("hindsight (the gap)", report.hindsight.summary()))
    return [
        (
            label,
            [
                change(mine[key], other[key], higher_is_better=higher, points=points)  # type: ignore[arg-type]
                for key, higher, points in GAIN_METRICS
            ],
        )
        for label, other in others
    ]


def _change_cell(c: Change) -> html.Span:
    color = None if c.better is None else (GOOD if c.better else BAD)
    return html.Span(c.text, style={"color": color, "fontWeight": 600} if color else None)


def gains_table(report: ReplayReport, colors: dict[str, str]) -> html.Div:
    """The policy against each single provider and against hindsight, coloured better/worse."""
    rows = [
        [
            _single_label(label, colors) if label.startswith("only ") else label,
            *[_change_cell(c) for c in changes],
        ]
        for label, changes in gains(report)
    ]
    return html.Div(table(GAIN_HEADERS, rows, numeric=(1, 2, 3, 4)), style={"maxWidth": "760px"})
