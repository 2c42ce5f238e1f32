"""Clear messages instead of stack traces: what to show when the store is empty, a view has no
data, or the database does not answer. Details go to the server log, never to the page."""

from __future__ import annotations

import logging

from dash import html
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("dashboard")

EMPTY_STORE = (
    "The store has no endpoints yet. Sync the catalog (signalbox db sync) or start the probe "
    "(signalbox probe); this page fills in on its own."
)


def notice(text: str, kind: str = "info") -> html.Div:
    """A one-line banner; ``kind`` is ``info``, ``warn`` or ``error``."""
    return html.Div(text, className=f"notice notice-{kind}", role="status")


def describe_failure(exc: BaseException, what: str) -> str:
    """A sentence for the page about why ``what`` could not be loaded; the traceback is logged."""
    if isinstance(exc, (OperationalError, DBAPIError)):
        log.warning("database unreachable while loading %s: %s", what, type(exc.orig).__name__)
        return (
            f"The database is unreachable, so {what} cannot be shown right now. "
            "The page retries on its own."
        )
    log.exception("failed to load %s", what)
    return f"Could not load {what} ({type(exc).__name__}); details are in the server log."


def models_or_notice(engine: Engine) -> tuple[list[str], html.Div | None]:
    """The model names for a page's picker, and the banner to show when there are none or the
    store cannot be read (None when all is well)."""
    from signalbox.dashboard import queries

    try:
        models = queries.model_names(queries.endpoints(engine))
    except Exception as exc:
        return [], notice(describe_failure(exc, "the model list"), "error")
    return models, None if models else notice(EMPTY_STORE)


def no_model_notice(engine: Engine, what: str) -> html.Div:
    """Why no model is selected: the store is down, empty, or the user has yet to choose."""
    from signalbox.dashboard import queries

    try:
        empty = queries.endpoints(engine).is_empty()
    except Exception as exc:
        return notice(describe_failure(exc, what), "error")
    return notice(EMPTY_STORE) if empty else notice("Choose a model above.")
