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
import heapq
import itertools
import socket
import threading
import time
import weakref
from collections.abc import Callable
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


class _Watchdog:
    """One thread that fires every deadline when its time comes. A ``threading.Timer`` per request started a
    thread per request, about 0.2 ms each: a tenth of what a receiver check spends on one delivery."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._sleeping_until = float("inf")  # when the thread wakes next by itself

    def schedule(self, at: float, action: Callable[[], None]) -> int:
        with self._wake:
            number = next(self._ids)
            heapq.heappush(self._due, (at, number, action))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="hookproof-deadlines")
                self._thread.start()
            elif at < self._sleeping_until:  # sooner than the thread would wake by itself
                self._wake.notify()
        return number

    def cancel(self, number: int) -> None:
        # No wake-up: the thread finds the cancelled entries when it wakes by itself. Waking it for every
        # request (one new deadline, one cancelled) handed the interpreter lock to it and back each time.
        with self._wake:
            self._cancelled.add(number)
            while self._due and self._due[0][1] in self._cancelled:  # keep the heap and the set small
                self._cancelled.discard(heapq.heappop(self._due)[1])

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._sleeping_until = self._due[0][0] if self._due else float("inf")
                    self._wake.wait(self._sleeping_until - time.monotonic() if self._due else None)
                self._sleeping_until = float("-inf")  # busy: a new deadline is seen on the next pass
                _at, number, action = heapq.heappop(self._due)
                if number in self._cancelled:
                    self._cancelled.discard(number)
                    continue
            action()


_WATCHDOG = _Watchdog()


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
        self._timer: int | None = None

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
        self._timer = _WATCHDOG.schedule(self.started + self.seconds, self._expire)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            _WATCHDOG.cancel(self._timer)
