"""Serve a WSGI app on loopback, in a thread (for the suite and tests) or in the foreground (command line).

The reference apps are plain WSGI so that a user can mount them anywhere; this module is the one place that
knows how to put one on a socket. It uses waitress (https://docs.pylonsproject.org/projects/waitress/), a
production WSGI server, rather than werkzeug's development server, for three reasons the suite needs:

- **Keep-alive.** Werkzeug's server answers every request with ``Connection: close`` (its handler cannot
  drain a request body before the next request line), so each delivery of a conformance run paid a TCP
  connect and close; waitress keeps HTTP/1.1 connections open (docs/performance.md).
- **Bounded threads.** Waitress reads requests in one event loop and hands only complete requests to a fixed
  pool of ``WORKERS`` threads, so thousands of stalled bodies cost no thread at all; past ``CONNECTIONS``
  open connections it stops accepting until some close.
- **Stalled clients dropped.** A connection with no complete request for ``READ_TIMEOUT`` seconds is closed.

Waitress refuses broken framing itself (a bad chunk, a bad Content-Length, an unknown Transfer-Encoding) with
a 4XX before the app sees it. A request with both ``Content-Length`` and ``Transfer-Encoding`` it would read by
the Transfer-Encoding alone, which RFC 9112 section 6.3 allows; the reference servers refuse it instead (the
other choice the RFC gives: such a message "ought to be handled as an error", the root of request smuggling).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer, create_server

WORKERS = 32
CONNECTIONS = 288  # open connections before the server stops accepting (the kernel's backlog holds the rest)
READ_TIMEOUT = 10.0
DEFAULT_MAX_BODY = 16 * 1024 * 1024  # an app that states no cap (``max_body``) still gets one
LOOP_WAKE = 0.2  # seconds between the event loop's checks for a stop (a stop also wakes it at once)

# "Task queue depth is N" is waitress telling an operator its pool is busy: for a test server under a burst of
# deliveries that is expected, not news.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class _StrictParser(HTTPRequestParser):
    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.chunked and "CONTENT_LENGTH" in self.headers:  # waitress has taken Transfer-Encoding out by now
            raise ParsingError("both Content-Length and Transfer-Encoding: the body's framing is ambiguous")


CUT_SHORT = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n"
             b"Connection: close\r\n\r\nthe connection closed before the request was whole\n")


class _StrictChannel(HTTPChannel):
    """Waitress's channel with the strict parser, and a 400 to a client that ends its side of the connection
    mid-request (a truncated chunked body): waitress would close without a word, leaving the client to guess."""

    parser_class = _StrictParser
    _ended_mid_request = False

    def recv(self, buffer_size: int) -> bytes:
        self._ended_mid_request = self.request is not None and not self.request.completed
        data: bytes = super().recv(buffer_size)  # on end of input this calls handle_close before returning
        self._ended_mid_request = False
        return data

    def handle_close(self) -> None:
        if self._ended_mid_request and self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.send(CUT_SHORT)
        super().handle_close()


class LoopbackServer:
    """One app on one port, served by waitress until :meth:`stop` (from any thread)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, workers: int = WORKERS) -> None:
        self._map: dict[int, Any] = {}
        cap = getattr(app, "max_body", None) or DEFAULT_MAX_BODY
        # Waitress reads a body whole before calling the app (spilling to a temporary file past 512 KiB), so it
        # needs a cap of its own: twice the app's and a MiB more. Up to it the app sees an oversized body and
        # answers it (413; hookproof listen records it as refused); past it waitress answers 413 alone.
        server = create_server(
            app, map=self._map, host=host, port=port, threads=workers, channel_timeout=READ_TIMEOUT,
            cleanup_interval=1, connection_limit=CONNECTIONS, max_request_body_size=2 * cap + 1024 * 1024,
            ident="hookproof", expose_tracebacks=False, asyncore_use_poll=True, clear_untrusted_proxy_headers=True)
        assert isinstance(server, TcpWSGIServer)  # one host and port: one TCP server, not a multi-socket one
        server.channel_class = _StrictChannel
        self._server = server
        self.port: int = int(server.getsockname()[1])
        self.host = host
        self._stopping = threading.Event()
        # Held while the loop closes its sockets and while stop() wakes it: a stop that came as the loop saw the
        # flag on its own would write to the wake-up pipe after it closed (EBADF, or a reused descriptor).
        self._closing = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve(self) -> None:
        """Serve until :meth:`stop`; then close every connection and end the workers."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_WAKE, map=self._map, use_poll=True, count=1)
        finally:
            self._server.task_dispatcher.shutdown(timeout=2)
            with self._closing:
                self._closed = True
                wasyncore.close_all(self._map, ignore_all=True)

    def stop(self) -> None:
        self._stopping.set()
        with self._closing:
            if not self._closed:
                self._server.pull_trigger()  # wake the loop now rather than at its next LOOP_WAKE


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` on a free loopback port for the duration of the block; yields its base URL."""
    server = LoopbackServer(app, host, port)
    thread = threading.Thread(target=server.serve, daemon=True, name="hookproof-serving")
    thread.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=5)


def serve_forever(app: Any, host: str, port: int, banner: str, *, until_stdin_closes: bool = False) -> None:
    """Serve ``app`` until interrupted (Ctrl-C ends it quietly) or, with ``until_stdin_closes``, until standard
    input reaches its end: a parent that starts the server with a pipe there ends it by closing the pipe, and
    by dying too, however it dies, so the server never outlives the run that started it."""
    server = LoopbackServer(app, host, port)
    if until_stdin_closes:
        def watch() -> None:
            with contextlib.suppress(OSError, ValueError):
                while sys.stdin.buffer.read(65536):
                    pass
            server.stop()

        threading.Thread(target=watch, daemon=True, name="hookproof-stdin").start()
    print(f"{banner} listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve()
