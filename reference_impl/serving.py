"""Serve a WSGI app on loopback, in a thread (for the suite and tests) or in the foreground (command line).

The reference apps are plain WSGI so that a user can mount them anywhere; this module is the one place that
knows how to put one on a socket. Werkzeug's development server spends a thread per connection and waits for
a slow client for ever; this one serves connections from a bounded pool (``WORKERS``, with at most ``BACKLOG``
more waiting: past that a connection is closed at once), and a socket that stalls for ``READ_TIMEOUT`` seconds
is dropped, so that thousands of stalled bodies cost a bounded number of threads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

WORKERS = 32
BACKLOG = 256
READ_TIMEOUT = 10.0


class _Handler(WSGIRequestHandler):
    timeout = READ_TIMEOUT  # per socket operation: a client that stops sending is dropped
    protocol_version = "HTTP/1.1"  # keep-alive, as werkzeug gives its threaded server


class _QuietHandler(_Handler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request would drown test output
        pass

    def log_error(self, *args: Any) -> None:
        pass


class BoundedWSGIServer(BaseWSGIServer):
    """Werkzeug's server with a bounded pool of workers instead of a thread per connection."""

    multithread = True  # tells the app (wsgi.multithread) that requests run concurrently

    def __init__(self, host: str, port: int, app: Any, handler: type[WSGIRequestHandler] = _Handler) -> None:
        # Made before binding: werkzeug calls server_close() when the bind fails (a busy port).
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hookproof-wsgi")
        self._slots = threading.BoundedSemaphore(WORKERS + BACKLOG)
        super().__init__(host, port, app, handler=handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # every worker busy and the backlog full: refuse at once
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RDWR)
            self.shutdown_request(request)
            return
        self._pool.submit(self._work, request, client_address)

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` on a free loopback port for the duration of the block; yields its base URL."""
    server = BoundedWSGIServer(host, port, app, handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_forever(app: Any, host: str, port: int, banner: str) -> None:
    """Serve ``app`` until interrupted (Ctrl-C ends it quietly)."""
    server = BoundedWSGIServer(host, port, app)
    print(f"{banner} listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
