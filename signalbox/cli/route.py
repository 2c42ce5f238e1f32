"""``signalbox route MODEL [--sort S]``: ask the running router and print its ranking as a table."""

from __future__ import annotations

import argparse

from signalbox.routing.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, describe_objectives
from signalbox.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox route``."""
    parser.add_argument("model", help="canonical model name")
    parser.add_argument(
        "--sort",
        choices=list(OBJECTIVES),
        help=f"objective (default {DEFAULT_OBJECTIVE}): {describe_objectives('; ')}",
    )
    parser.add_argument("--router-url", help="router base URL (default SIGNALBOX_ROUTER_URL)")


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_ranking(body: dict) -> str:
    """The decision as a text table, then its reason."""
    header = (
        "",
        "provider",
        "score",
        "ttft_ms",
        "tps",
        "err",
        "price",
        "samples",
        "age_s",
        "state",
    )
    rows = [header]
    for i, r in enumerate(body.get("ranking", [])):
        rows.append(
            (
                "*" if i == 0 else "",
                r["provider"],
                _fmt(r["score"], 3),
                _fmt(r["ttft_ms"], 0),
                _fmt(r["tps"], 0),
                f"{r['error_rate']:.1%}",
                _fmt(r["price"], 3),
                _fmt(r["samples"], 1),
                _fmt(r["age_s"], 0),
                r["state"],
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [f"{body['model']} · {body['objective']} → {body['provider']}"]
    if body.get("route"):  # a route's name was asked: its first step, then where it escalates
        route = body["route"]
        lines.insert(0, f"route {route['name']}: {' → '.join(route['path'])} (first step below)")
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for ex in body.get("excluded", []):
        lines.append(f"  excluded {ex['provider']}: {ex['why']}")
    lines.append(f"reason: {body['reason']}")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the ranking; one line and exit 1 when the router cannot answer."""
    import sys

    import httpx

    base = (args.router_url or settings.router_url).rstrip("/")
    params = {"model": args.model}
    if args.sort:
        params["sort"] = args.sort
    headers = {}
    if settings.router_api_keys:
        headers["Authorization"] = f"Bearer {settings.router_api_keys[0]}"
    try:
        resp = httpx.get(f"{base}/v1/route", params=params, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        print(
            f"signalbox: router unreachable at {base} ({type(exc).__name__}); start it with: signalbox router",
            file=sys.stderr,
        )
        return 1
    try:
        body = resp.json()
    except ValueError:
        print(
            f"signalbox: router at {base} answered HTTP {resp.status_code} without JSON",
            file=sys.stderr,
        )
        return 1
    if resp.status_code != 200:
        message = (
            (body.get("error") or {}).get("message", resp.text)
            if isinstance(body, dict)
            else resp.text
        )
        print(f"signalbox: {message}", file=sys.stderr)
        return 1
    print(format_ranking(body))
    return 0
