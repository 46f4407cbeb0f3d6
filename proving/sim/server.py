"""HTTP/1.1 keep-alive loopback server exposing the simulator (Bybit /v5 paths plus /sim control)."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .host import RouteResult, SimHost


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BybitSim/1.0"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in separate sends: no Nagle + delayed-ACK 40 ms stall
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        try:
            out = self.server.sim.router.dispatch(self.command, path, query, dict(self.headers.items()), body)
        except Exception as e:  # a simulator bug must not kill the connection silently
            text = json.dumps({"retCode": 10016, "retMsg": f"simulator internal error: {e!r}", "result": {},
                               "retExtInfo": {}, "time": 0}).encode()
            out = RouteResult(500, {"Content-Type": "application/json"}, text)
        if out.delay_s:
            time.sleep(out.delay_s)
        if out.action in ("drop", "lost"):
            sleep_s = float(out.extra.get("lost_sleep_s", 0.0)) if out.action == "lost" else 0.0
            if sleep_s:
                time.sleep(sleep_s)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(out.status)
        for k, v in out.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out.body)))
        self.end_headers()
        self.wfile.write(out.body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, sim: SimHost, addr: tuple[str, int], verbose: bool) -> None:
        self.sim, self.verbose = sim, verbose
        super().__init__(addr, _Handler)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: object) -> None:
        """A client that gave up (timeout, shutdown) makes the late write fail: expected, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SimServer:
    """A running server: ``.url``, ``.host``, ``.port``, ``.close()`` (also a context manager)."""

    def __init__(self, sim: SimHost, host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> None:
        self.sim = sim
        self._httpd = _Server(sim, (host, port), verbose)
        self.host, self.port = host, self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sim-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
