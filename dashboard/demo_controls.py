"""Demo only: a "break a provider" card on the overview that asks the simulator for a fault
(``POST {simulator_url}/admin/fault``), so a viewer can watch the ranking and alerts react. Shown
only when ``settings.simulator_url`` is set (``signalbox demo`` sets it)."""

from __future__ import annotations

from typing import Any

import dash
import httpx
from dash import Input, Output, State, dcc, html

from signalbox.dashboard.context import DashContext
from signalbox.dashboard.notices import notice

PROVIDER = "demo-provider"
RESULT = "demo-result"
# button id -> (label, fault payload without the provider)
FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "demo-outage": ("outage for 3 min", {"kind": "outage", "duration_s": 180}),
    "demo-slow": ("3x slower for 5 min", {"kind": "slow", "factor": 3.0, "duration_s": 300}),
    "demo-errors": ("50% errors for 5 min", {"kind": "error_rate", "rate": 0.5, "duration_s": 300}),
    "demo-clear": ("clear faults", {"kind": "clear"}),
}


def card(providers: list[str]) -> html.Div:
    """The control: a provider, one button per fault, and the simulator's answer."""
    buttons = [
        html.Button(label, id=bid, n_clicks=0, style={"marginRight": "8px"})
        for bid, (label, _) in FAULTS.items()
    ]
    return html.Div(
        [
            html.H3("Demo: break a provider (simulator)"),
            html.Div(
                [
                    dcc.Dropdown(
                        id=PROVIDER,
                        options=[{"label": p, "value": p} for p in providers],
                        value=providers[0] if providers else None,
                        clearable=False,
                        style={
                            "width": "220px",
                            "display": "inline-block",
                            "verticalAlign": "middle",
                            "marginRight": "12px",
                        },
                    ),
                    *buttons,
                ]
            ),
            html.Div(id=RESULT, style={"marginTop": "8px"}),
        ],
        className="card",
    )


def send_fault(simulator_url: str, provider: str, payload: dict[str, Any]) -> str:
    """Post one fault; returns a sentence for the page (the simulator's own words on success)."""
    body = {**payload, "provider": provider}
    try:
        response = httpx.post(f"{simulator_url.rstrip('/')}/admin/fault", json=body, timeout=3.0)
    except httpx.HTTPError as exc:
        return f"The simulator did not answer ({type(exc).__name__})."
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        return f"The simulator refused: {message}"
    return f"Applied: {response.json().get('applied', payload['kind'])}"


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The control's callback (only when the app knows a simulator)."""
    if not ctx.simulator_url:
        return

    @app.callback(
        Output(RESULT, "children"),
        *[Input(bid, "n_clicks") for bid in FAULTS],
        State(PROVIDER, "value"),
        prevent_initial_call=True,
    )
    def _break(*args: Any) -> Any:
        provider = args[-1]
        clicked = dash.ctx.triggered_id
        if not provider or clicked not in FAULTS:
            return dash.no_update
        text = send_fault(str(ctx.simulator_url), provider, FAULTS[clicked][1])
        return notice(text, "info" if text.startswith("Applied") else "error")
