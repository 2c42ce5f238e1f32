"""Scores for selection: the pure scoring lives in the shared core (``signalbox.stats.scoring``)
because replay needs it too; the router uses it from here."""

from signalbox.stats.scoring import (
    BALANCED_WEIGHTS,
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    Objective,
    PriceInfo,
    RequestShape,
    higher_is_better,
    normalise,
    raw_value,
    score_all,
)

__all__ = [
    "BALANCED_WEIGHTS",
    "DEFAULT_OBJECTIVE",
    "OBJECTIVES",
    "Objective",
    "PriceInfo",
    "RequestShape",
    "higher_is_better",
    "normalise",
    "raw_value",
    "score_all",
]
