"""Small HTML building blocks shared by pages: tables, provider swatches, state badges, radios."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dash import dcc, html

from signalbox.dashboard.colors import STATE_COLORS, color_for


def provider_cell(name: str, colors: dict[str, str]) -> html.Span:
    """The provider's name behind its chart colour."""
    return html.Span(
        [html.Span(className="swatch", style={"background": color_for(colors, name)}), name]
    )


def state_badge(state: str) -> html.Span:
    """A coloured pill with the health state."""
    return html.Span(
        state, className="badge", style={"background": STATE_COLORS.get(state, "#757575")}
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
) -> html.Table:
    """A plain grid; columns whose index is in ``numeric`` are right-aligned."""
    head = html.Thead(
        html.Tr(
            [html.Th(h, className="num" if i in numeric else None) for i, h in enumerate(headers)]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(cell, className=_cell_class(cell, i in numeric))
                    for i, cell in enumerate(row)
                ]
            )
            for row in rows
        ]
    )
    return html.Table([head, body], className="grid")


def _cell_class(cell: object, numeric: bool) -> str | None:
    if isinstance(cell, Best):
        return "num best"
    return "num" if numeric else None


class Best(str):
    """A cell value to emphasise (the #1 of a ranking column)."""

    __slots__ = ()


def model_picker(
    id_: str, models: Sequence[str], value: str | None, width_px: int = 280
) -> html.Div:
    """The labelled model dropdown every page with a model selection shows."""
    return html.Div(
        [
            html.Label("Model", className="head"),
            dcc.Dropdown(
                id=id_,
                options=[{"label": m, "value": m} for m in models],
                value=value,
                clearable=False,
                style={
                    "width": f"{width_px}px",
                    "display": "inline-block",
                    "verticalAlign": "middle",
                },
            ),
        ]
    )


def radios(id_: str, label: str, options: Sequence[tuple[str, str]], value: str) -> html.Div:
    """A labelled inline radio group of (value, label) options."""
    return html.Div(
        [
            html.Label(label, className="head"),
            dcc.RadioItems(
                id=id_,
                options=[{"value": v, "label": text} for v, text in options],
                value=value,
                inline=True,
                className="radio",
            ),
        ]
    )


def providers_picker(
    id_: str, placeholder: str, providers: list[str], value: tuple[str, ...]
) -> dcc.Dropdown:
    """A multi-select of provider names (the chosen ones kept even when no longer offered)."""
    return dcc.Dropdown(
        id=id_,
        options=[{"label": p, "value": p} for p in sorted({*providers, *value})],
        value=list(value),
        multi=True,
        placeholder=placeholder,
        style={"minWidth": "220px"},
    )


def number_input(id_: str, placeholder: str, value: float | None, top: float | None) -> dcc.Input:
    """A number box (0 up to ``top``) that reports on Enter or leaving the box."""
    return dcc.Input(
        id=id_,
        type="number",
        min=0,
        max=top,
        step="any",
        value=value,
        placeholder=placeholder,
        debounce=True,
        style={"width": "170px"},
    )


def fmt(value: float | None, pattern: str, missing: str = "—") -> str:
    """``pattern.format(value)`` or ``missing`` for None/NaN."""
    if value is None or value != value:
        return missing
    return pattern.format(value)


def fmt_ts(ts: datetime | None) -> str:
    """UTC time as ``2026-11-25 14:03``."""
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts else "—"
