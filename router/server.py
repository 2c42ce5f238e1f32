"""The router's HTTP server: aiohttp's, with requests its parser refuses answered in OpenAI's
error shape and logged as one rate-limited warning line.

A request line over the limit, a NUL byte in a header or a bad method never reaches a handler or a
middleware: aiohttp answers it with plain text and logs a full traceback at ERROR, so any client
could fill the log (aiohttp has no hook for it: aio-libs/aiohttp#3287). ``RouterRunner`` makes its
server create :class:`_RequestHandler`, whose ``handle_error`` does both jobs properly.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadStatusLine,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from signalbox.router.errors import error_body

log = logging.getLogger(__name__)
WARN_EVERY_S = 10.0


def describe(exc: BaseException) -> str:
    """What was wrong with the request, without echoing any of it (it may be huge or hostile)."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else "the"
        return f"the request line or a header is too long (limit {limit} bytes)"
    if isinstance(exc, InvalidHeader) or "header" in str(exc).lower():
        return "a request header is malformed (e.g. a control character in it)"
    if isinstance(exc, BadStatusLine):
        return "the request line is malformed (method, target or HTTP version)"
    if isinstance(exc, InvalidURLError):
        return "the request target is not a valid URL"
    return "the request is not valid HTTP/1.1"


class _Quota:
    """At most one warning per ``WARN_EVERY_S``; the next one says how many were held back."""

    def __init__(self) -> None:
        self.next_at = 0.0
        self.held = 0

    def warn(self, remote: str | None, what: str) -> None:
        now = time.monotonic()
        if now < self.next_at:
            self.held += 1
            return
        more = f" ({self.held} more since the last warning)" if self.held else ""
        log.warning("refused a malformed request from %s: %s%s", remote or "?", what, more)
        self.next_at, self.held = now + WARN_EVERY_S, 0


_QUOTA = _Quota()


class _RequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Parser errors: an OpenAI-shaped 4xx and one warning line; anything else as aiohttp."""
        if not isinstance(exc, BadHttpMessage) or status >= 500:
            return super().handle_error(request, status, exc, message)
        what = describe(exc)
        _QUOTA.warn(request.remote, what)
        if request.writer.output_size > 0:  # a response is under way: nothing more can be said
            raise ConnectionError("response already started")
        response = web.Response(
            status=status,
            body=error_body(status, f"malformed HTTP request: {what}", "malformed_request"),
            content_type="application/json",
        )
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class RouterRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer parser errors in OpenAI's shape."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app builds a plain Server; this subclass only changes which handler a connection
        # gets, so re-classing the instance keeps everything aiohttp set on it.
        server.__class__ = _Server
        return server


async def serve_app(
    app: web.Application, host: str, port: int, *, reuse_port: bool, stop_on_sigint: bool
) -> None:
    """Serve ``app`` until SIGTERM (and SIGINT when ``stop_on_sigint``), then shut down
    gracefully: what ``web.run_app`` does, with :class:`RouterRunner`."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = [signal.SIGTERM, *([signal.SIGINT] if stop_on_sigint else [])]
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    runner = RouterRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
