"""Run a dashboard app on a free loopback port in a thread, for tests."""

from __future__ import annotations

import threading
import time

import httpx
from werkzeug.serving import make_server


class DashboardThread:
    """Serve ``app.server`` (a Flask app) on 127.0.0.1 until the context exits."""

    def __init__(self, app: object, auth: tuple[str, str] | None = None) -> None:
        self._server = make_server("127.0.0.1", 0, app.server, threaded=True)  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._auth = auth

    def __enter__(self) -> DashboardThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while True:  # poll until the app answers
            try:
                httpx.get(self.base_url + "/_dash-layout", auth=self._auth, timeout=2)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dashboard did not start within 15 s") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
