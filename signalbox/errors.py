"""Errors every command may raise (in their own module: ``python -m signalbox.cli`` runs the CLI
as ``__main__``, and a class defined there would not be the one other modules import)."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
