"""Serve a WSGI app on loopback, in a thread (for the suite and tests) or in the foreground (command line).

The reference apps are plain WSGI so that a user can mount them anywhere; this module is the one place that
knows how to put one on a socket. HTTP/1.1 is parsed by httptools (https://github.com/MagicStack/httptools),
the Python binding of llhttp, the parser of Node.js (https://github.com/nodejs/llhttp): C, and strict by
default. Around it, what the suite needs of a server:

- **Keep-alive**, and pipelined requests answered in order. Every delivery of a conformance run reuses one
  connection.
- **Bounded threads.** One event loop reads every connection and hands only complete requests to at most
  ``WORKERS`` threads, so thousands of stalled bodies cost no thread at all; past ``CONNECTIONS`` open
  connections it stops accepting until some close (the kernel's backlog holds the rest). A worker that has
  answered keeps reading its connection for ``LINGER`` seconds, so that the next request of a kept-alive
  connection is answered without going through the loop again.
- **Stalled clients dropped.** A connection with no complete request for ``READ_TIMEOUT`` seconds is closed;
  an answer the client does not read within ``WRITE_TIMEOUT`` ends the connection.
- **Bounded input.** A request head over ``MAX_HEAD_BYTES`` gets 431; a body over the server's cap gets 413
  before it is read whole.

The parser refuses broken framing with a 400 before the app sees it: a bad chunk or Content-Length, two
Content-Lengths, a Transfer-Encoding that is not chunked, and Content-Length together with Transfer-Encoding,
which RFC 9112 section 6.3 says "ought to be handled as an error" (the root of request smuggling). A client
that ends its side of the connection mid-request (a truncated chunked body) gets a 400 before the close.

Until 2026-12-07 this was waitress's server, with the same bounds. Its event loop hands every request to a
worker thread and every answer back through a pipe, 0.24-0.33 ms of CPU a request on a 2-CPU host, half of
what the reference receiver spent on a delivery and on the critical path of every receiver check; here a
request costs 0.10-0.14 ms (docs/performance.md, docs/decisions.md#reference-server-input).
"""

from __future__ import annotations

import contextlib
import io
import queue
import selectors
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

import httptools

WORKERS = 32
CONNECTIONS = 288  # open connections before the server stops accepting (the kernel's backlog holds the rest)
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 10.0
MAX_HEAD_BYTES = 256 * 1024  # the request line and header fields
DEFAULT_MAX_BODY = 16 * 1024 * 1024  # an app that states no cap (``max_body``) still gets one
LINGER = 0.05  # seconds a worker keeps reading a connection it answered, for the next request
LOOP_WAKE = 0.2  # seconds between the event loop's checks for a stop and for stalled connections
SWEEP_EVERY = 1.0

IDENT = "hookproof"

_NO_BODY = frozenset({204, 304})


class _Request(NamedTuple):
    method: str
    target: str
    version: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; the refusal itself is kept on the connection."""


def _refusal(status: str, reason: str) -> bytes:
    text = (reason + "\n").encode("utf-8", "replace")
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(text)}\r\n"
            f"Server: {IDENT}\r\nConnection: close\r\n\r\n").encode("latin-1") + text


# (Until 2026-12-07 this answer was written out by hand, and its Content-Length said 50 for 51 bytes.)
CUT_SHORT = _refusal("400 Bad Request", "the connection closed before the request was whole")


class _Connection:
    """One client connection: its parser and what the parser has made of the bytes so far.

    The event loop reads and feeds it while no worker holds it; a worker holds it from a complete request
    until it hands it back (after its answers, and the reads of its linger), out of the loop's selector
    meanwhile, so the two never touch it at once."""

    def __init__(self, sock: socket.socket, peer: tuple[Any, ...], max_body: int) -> None:
        self.sock = sock
        self.peer = peer
        self.max_body = max_body
        self.parser = httptools.HttpRequestParser(self)
        self.requests: deque[_Request] = deque()
        self.refusal: bytes | None = None  # an answer that ends the connection, once the requests before it are
        self.since = time.monotonic()  # when it began waiting for its next complete request
        self.busy = False
        self.in_message = False
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._keep_alive = True

    def _refuse(self, status: str, reason: str) -> None:
        self.refusal = _refusal(status, reason)
        raise _Refused

    # -- httptools' callbacks
    def on_message_begin(self) -> None:
        self.in_message = True
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse("414 URI Too Long", f"the request target is longer than {MAX_HEAD_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse("431 Request Header Fields Too Large", f"the request head is over {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._keep_alive = self.parser.should_keep_alive()
        expect = False
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length" and int(value) > self.max_body:
                self._refuse("413 Content Too Large", f"the body is larger than {self.max_body} bytes")
            elif lowered == b"transfer-encoding" and value.strip().lower() != b"chunked":
                # llhttp reads "gzip, chunked" as chunked and would hand on the bytes still compressed
                self._refuse("501 Not Implemented", "Transfer-Encoding other than chunked is not supported")
            elif lowered == b"expect" and value.strip().lower() == b"100-continue":
                expect = True
        if expect:
            with contextlib.suppress(OSError):
                self.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, data: bytes) -> None:
        self._body_bytes += len(data)
        if self._body_bytes > self.max_body:
            self._refuse("413 Content Too Large", f"the body is larger than {self.max_body} bytes")
        self._body.append(data)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.requests.append(_Request(self.parser.get_method().decode("latin-1"), self._url.decode("latin-1"),
                                      self.parser.get_http_version(), self._headers, b"".join(self._body),
                                      self._keep_alive))
        self._reset()

    def feed(self, data: bytes) -> None:
        """Parse ``data``; what cannot be parsed becomes the connection's refusal."""
        if self.refusal is not None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if self.refusal is None:  # not a refusal of ours: a head the callbacks could not read
                self.refusal = _refusal("400 Bad Request", "malformed request head")
        except httptools.HttpParserUpgrade:
            # llhttp stops parsing at the end of the head of a request that asks to change protocols, and hands
            # on what follows as the new protocol's. A request without a body is whole then: it is answered as
            # HTTP/1.1 (RFC 9110 section 7.8 lets a server ignore Upgrade), and the connection closed after it.
            # One with a body would lose it, so it is refused.
            last = self.requests[-1] if self.requests and not self.in_message else None
            if last is None or any(n.lower() in (b"content-length", b"transfer-encoding") and v.strip() != b"0"
                                   for n, v in last.headers):
                if last is not None:
                    self.requests.pop()
                self.refusal = _refusal("400 Bad Request", "Upgrade on a request with a body is not supported")
            else:
                self.requests[-1] = last._replace(keep_alive=False)
                self.refusal = b""  # nothing more is read from this connection
        except httptools.HttpParserError as exc:
            self.refusal = _refusal("400 Bad Request", f"malformed request: {str(exc)[:200]}")


class LoopbackServer:
    """One app on one port until :meth:`stop` (from any thread)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, workers: int = WORKERS) -> None:
        self._app = app
        cap = getattr(app, "max_body", None) or DEFAULT_MAX_BODY
        # Up to twice the app's cap and a MiB more the app sees an oversized body and answers it (413;
        # hookproof listen records it as refused); past that the server answers 413 alone, unread.
        self._max_body = 2 * cap + 1024 * 1024
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self.port: int = int(self._listener.getsockname()[1])
        self.host = host
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._connections: dict[socket.socket, _Connection] = {}
        self._accepting = True
        self._returned: deque[tuple[_Connection, bool]] = deque()  # (connection, keep it) from the workers
        self._jobs: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._max_workers = workers
        self._idle = 0
        self._idle_lock = threading.Lock()
        self._stopping = threading.Event()
        # Held while the loop closes its sockets and while stop() wakes it: a stop that came as the loop saw the
        # flag on its own would write to a closed wake-up socket (EBADF, or a reused descriptor).
        self._closing = threading.Lock()
        self._closed = False
        self._date = (0, "")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- the event loop
    def serve(self) -> None:
        """Serve until :meth:`stop`; then close every connection and end the workers."""
        swept = time.monotonic()
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(timeout=LOOP_WAKE):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_read:
                        self._take_back()
                    else:
                        self._read(self._connections[sock])  # type: ignore[index]
                now = time.monotonic()
                if now - swept >= SWEEP_EVERY:
                    swept = now
                    self._sweep(now)
        finally:
            self._shut_down()

    def _accept(self) -> None:
        while True:
            if len(self._connections) >= CONNECTIONS:  # full: the rest wait in the kernel's backlog
                self._selector.unregister(self._listener)
                self._accepting = False
                return
            try:
                sock, peer = self._listener.accept()
            except OSError:  # none waiting (BlockingIOError), out of descriptors, or the client gave up
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, peer, self._max_body)
            self._connections[sock] = conn
            self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            if conn.in_message and conn.refusal is None:
                conn.refusal = CUT_SHORT
            if not conn.requests and conn.refusal is None:
                self._close(conn)
                return
        else:
            conn.feed(data)
        if conn.requests or conn.refusal is not None:
            self._dispatch(conn)

    def _dispatch(self, conn: _Connection) -> None:
        conn.busy = True
        self._selector.unregister(conn.sock)
        with self._idle_lock:
            grow = self._idle == 0 and len(self._workers) < self._max_workers
            if not grow:
                self._idle -= 1
        if grow:
            worker = threading.Thread(target=self._work, daemon=True, name="hookproof-serving-worker")
            self._workers.append(worker)
            worker.start()
        self._jobs.put(conn)

    def _take_back(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_read.recv(4096):
                pass
        while self._returned:
            conn, keep = self._returned.popleft()
            if not keep or self._stopping.is_set():
                self._close(conn)
                continue
            conn.busy = False
            conn.since = time.monotonic()
            self._selector.register(conn.sock, selectors.EVENT_READ)

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._connections.values() if not c.busy and now - c.since > READ_TIMEOUT]:
            self._close(conn)

    def _close(self, conn: _Connection) -> None:
        if self._connections.pop(conn.sock, None) is None:
            return
        if not conn.busy:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if not self._accepting and not self._stopping.is_set():
            self._selector.register(self._listener, selectors.EVENT_READ)
            self._accepting = True

    def _shut_down(self) -> None:
        for _ in self._workers:
            self._jobs.put(None)
        with self._closing:
            self._closed = True
            for conn in list(self._connections.values()):
                with contextlib.suppress(OSError):
                    conn.sock.close()
            self._connections.clear()
            for sock in (self._listener, self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    sock.close()
            self._selector.close()
        deadline = time.monotonic() + 2
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stopping.set()
        with self._closing:
            if not self._closed:
                with contextlib.suppress(OSError):
                    self._wake_write.send(b"!")  # wake the loop now rather than at its next LOOP_WAKE

    # -- the workers
    def _work(self) -> None:
        while True:
            conn = self._jobs.get()
            if conn is None:
                return
            keep = False
            try:
                keep = self._answer_all(conn)
            except TimeoutError:  # the client reads nothing: end it now, not after the kernel sends what is queued
                with contextlib.suppress(OSError):
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            finally:
                with self._idle_lock:
                    self._idle += 1
            self._returned.append((conn, keep))
            with self._closing:
                if not self._closed:
                    with contextlib.suppress(OSError):
                        self._wake_write.send(b".")

    def _answer_all(self, conn: _Connection) -> bool:
        """Answer the connection's complete requests in order, then keep reading it for up to ``LINGER`` seconds
        (not at all while requests of other connections wait for a worker); whether it stays open for more.

        A client on a kept-alive connection usually sends its next request within a millisecond: reading it
        here answers it without the hand-back to the event loop and the hand-over to a worker again, which
        cost as much CPU as the parsing and the answer together (docs/performance.md). A connection that
        sends nothing whole within ``LINGER`` goes back to the loop, so a slow client holds a worker no longer
        than that, and one that never completes a request never holds one."""
        sock = conn.sock
        try:
            deadline = 0.0
            while True:
                if conn.requests:
                    sock.settimeout(WRITE_TIMEOUT)
                    while conn.requests:
                        answer, keep = self._answer(conn.requests.popleft(), conn.peer)
                        sock.sendall(answer)
                        if not keep or self._stopping.is_set():
                            return False
                    deadline = time.monotonic() + LINGER
                if conn.refusal is not None:
                    if conn.refusal:
                        self._tell_refused(conn.refusal, conn.peer)
                        sock.settimeout(WRITE_TIMEOUT)
                        sock.sendall(conn.refusal)
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._jobs.empty() or self._stopping.is_set():
                    return True
                sock.settimeout(remaining)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    return True
                if not data:  # the client's side ended
                    if conn.in_message:
                        conn.refusal = CUT_SHORT
                        continue
                    return False
                conn.feed(data)
        finally:
            with contextlib.suppress(OSError):
                sock.setblocking(False)

    def _tell_refused(self, refusal: bytes, peer: tuple[Any, ...]) -> None:
        """An app with a ``refused(status, reason)`` method hears of each request the server refused before the
        app could see it (a head the parser cannot read, a body past the server's cap): ``hookproof listen``
        shows them, since nothing of them is kept."""
        tell = getattr(self._app, "refused", None)
        if tell is None:
            return
        head, _, text = refusal.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].partition(b" ")[2].decode("latin-1")
        with contextlib.suppress(Exception):  # the app's report must not keep the refusal from being sent
            tell(status, text.decode("utf-8", "replace").strip())

    def _answer(self, request: _Request, peer: tuple[Any, ...]) -> tuple[bytes, bool]:
        """The bytes of the app's answer to one request, and whether the connection stays open after it."""
        chunks: list[bytes] = []
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if exc_info is not None and started and chunks:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        try:
            result = self._app(self._environ(request, peer), start_response)
            try:
                for chunk in result:
                    if chunk:
                        chunks.append(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the app returned without calling start_response")
        except Exception:  # never a traceback on the wire
            return _refusal("500 Internal Server Error", "internal error"), False
        status, headers = started
        keep = request.keep_alive
        code = int(status[:3])
        head = request.method == "HEAD"
        lines = [f"HTTP/1.1 {status}\r\n"]
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length" and head:  # the length of the body a GET would get
                lines.append(f"{name}: {value}\r\n")
                continue
            if lowered in ("content-length", "date", "server", "transfer-encoding"):
                continue
            if lowered == "connection":
                keep = keep and value.strip().lower() != "close"
                continue
            lines.append(f"{name}: {value}\r\n")
        body = b"".join(chunks)
        if code < 200 or code in _NO_BODY or head:
            body = b""
        else:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append(f"Date: {self._http_date()}\r\nServer: {IDENT}\r\n")
        if not keep:
            lines.append("Connection: close\r\n")
        elif request.version == "1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1") + body, keep

    def _http_date(self) -> str:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, formatdate(second, usegmt=True))
        return self._date[1]

    def _environ(self, request: _Request, peer: tuple[Any, ...]) -> dict[str, Any]:
        target = request.target
        if "://" in target.partition("?")[0]:  # absolute form (RFC 9112 section 3.2.2): keep the path
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method, "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
            "SERVER_NAME": self.host, "SERVER_PORT": str(self.port), "SERVER_PROTOCOL": f"HTTP/{request.version}",
            "SERVER_SOFTWARE": IDENT, "REMOTE_ADDR": str(peer[0]), "REMOTE_PORT": str(peer[1]),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "wsgi.input_terminated": True,
        }
        framed = False
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1").upper()
            value = raw_value.decode("latin-1").strip()
            if name in ("CONTENT-LENGTH", "TRANSFER-ENCODING"):
                framed = True  # the body is read: its length below, whatever the framing was
                continue
            if "_" in name:  # X_Foo would pass for X-Foo in the environ: dropped, as waitress and nginx do
                continue
            if name == "CONTENT-TYPE":
                environ["CONTENT_TYPE"] = value
                continue
            key = "HTTP_" + name.replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if framed:
            environ["CONTENT_LENGTH"] = str(len(request.body))
        return environ


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

