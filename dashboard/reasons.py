"""Pure: a routing decision's reason text → the kind of rule that made it.

Reasons carry their figures (``northwind: best for latency (ttft p50 212 ms, …)``), so counting
them by text gives every bar a count of one. The kinds follow the selection rules that write the
reasons; ``tests/dashboard/test_reasons.py`` makes each rule write one and checks its kind, so a
change of wording there fails here rather than drifting into "other".
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^no endpoint qualifies"), "nothing qualified"),
    (re.compile(r": best for (\w+)"), "best for {0}"),
    (re.compile(r": within (\d+%) of best for (\w+), shares"), "shares within {0} of best"),
    (re.compile(r": first qualifying in provider order"), "the app's provider order"),
    (re.compile(r": every allowed endpoint's circuit is open"), "panic: every circuit open"),
    (re.compile(r": half-open trial"), "half-open trial"),
    (re.compile(r": exploring, stale"), "exploring a stale endpoint"),
    (re.compile(r": exploring, few samples"), "exploring: few samples"),
    (re.compile(r": no (\w+) data yet, shared evenly"), "no data yet: shared evenly"),
)
OTHER = "other"


def reason_kind(reason: str) -> str:
    """The kind of a reason: e.g. ``best for latency``, ``shares within 5% of best``."""
    for pattern, kind in _RULES:
        match = pattern.search(reason)
        if match:
            return kind.format(*match.groups())
    return OTHER
