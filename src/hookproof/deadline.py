"""One overall deadline for a whole sync HTTP exchange - connect, request, answer headers and body.

httpx's timeouts apply per network operation and restart on every chunk, so a peer that drips its answer one
byte a second never trips them, and an endless header line keeps a request open for hours. A sync call cannot
be cancelled, but a socket shut down from another thread makes the blocked read return at once: a
:class:`Deadline` learns the sockets of its client from httpcore's ``trace`` extension and, when its time is
up, shuts them down. It also records which phase of the exchange was under way, so that a report can say
what stalled. The reference sender and the suite's own requests both use it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from typing import Any

PHASES = {
    "connection.connect_tcp": "while connecting",
    "connection.start_tls": "during the TLS handshake",
    "http11.send_request_headers": "while the request's headers were sent",
    "http11.send_request_body": "while the request's body was sent",
    "http11.receive_response_headers": "before its answer's headers were complete",
    "http11.receive_response_body": "while its answer's body came in",
}


class Sockets:
    """The sockets one client opened (a keep-alive pool reuses them), so a deadline can interrupt any of them."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def shut_down(self) -> None:
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):  # already closed: nothing left to interrupt
                sock.shutdown(socket.SHUT_RDWR)


class Deadline:
    """Ends the exchange made inside ``with`` after ``seconds``; pass :meth:`trace` as httpx's ``trace``
    extension. ``sockets`` are shared with the client's other requests where its connections are kept alive."""

    def __init__(self, seconds: float, sockets: Sockets | None = None) -> None:
        self.seconds = seconds
        self.sockets = sockets or Sockets()
        self.expired = False
        self.phase = "before the request was sent"
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, name: str, info: dict[str, Any]) -> None:
        step, _, stage = name.rpartition(".")
        if stage == "started" and step in PHASES:
            self.phase = PHASES[step]
        if name == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                self.sockets.add(sock)
                with self._lock:
                    if self.expired:
                        self.sockets.shut_down()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
        self.sockets.shut_down()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __enter__(self) -> Deadline:
        self.started = time.monotonic()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
