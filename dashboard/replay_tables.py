"""The replay page's two tables, pure from a :class:`ReplayReport`: every strategy's means, and
what the policy gains against each single provider and against hindsight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash import html

from signalbox.dashboard.colors import color_for
from signalbox.dashboard.components import fmt, table
from signalbox.replay import ReplayReport

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
