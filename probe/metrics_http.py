"""An optional HTTP endpoint on the prober: ``GET /metrics`` (Prometheus text) and ``GET /healthz``.

Served from the main loop, never the probe loop. The metrics include ``budget_paused`` (1 while
the daily budget stops probing), ``budget_spent_usd``, probe counts by outcome, observations
dropped for loop lag and the largest loop lag seen.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web


class MetricsServer:
    """Serves ``render()`` at ``/metrics`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, render: Callable[[], str], host: str = "127.0.0.1", port: int = 0) -> None:
        self._render = render
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(text=self._render(), content_type="text/plain", charset="utf-8")

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
