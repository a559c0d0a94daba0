"""Serve a WSGI app on loopback, in a thread (for the suite and tests) or in the foreground (command line).

The reference apps are plain WSGI so that a user can mount them anywhere; this module is the one place
that knows how to put one on a socket.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request would drown test output
        pass


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` on a free loopback port for the duration of the block; yields its base URL."""
    server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
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
    server = make_server(host, port, app, threaded=True)
    print(f"{banner} listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
