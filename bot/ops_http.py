"""GET /metrics and /healthz on a port of their own, for the one-process bot (`METRICS_PORT`).

PTB's `run_polling` has no web server and `run_webhook` builds its own, with no way to add routes;
rather than fight it, the one-process bot serves these two on a second port from a small
standard-library server in a daemon thread. (`python -m bot run --workers N` serves both on the
webhook port itself.) /healthz answers 200 once the index is loaded, 503 before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import metrics

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: OpsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/metrics":
            body, content_type = metrics.exposition()
            self._send(200, body, content_type)
        elif path == "/healthz":
            ready = self.server.ready()
            self._send(200 if ready else 503, b"ok\n" if ready else b"loading\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # a scrape every 15 s is not news
        pass


class OpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, ready: Callable[[], bool]) -> None:
        super().__init__((host, port), _Handler)
        self.ready = ready
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> OpsServer:
        self._thread = threading.Thread(target=self.serve_forever, name="ops-http", daemon=True)
        self._thread.start()
        log.info("metrics and health on port %d (/metrics, /healthz)", self.port)
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
