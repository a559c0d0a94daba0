"""The loopback HTTP/1.1 server the sender harness answers on: it reads what a sender sends within bounds.

A sender under test is a peer that may be hostile or broken: it may send a body of gigabytes, chunked or not,
never finish a request, or open connections without end. This server reads at most ``MAX_READ`` bytes of a
request (answering 413 and closing past it), keeps at most ``MAX_BODY`` bytes of it, and at most ``MAX_KEPT``
bytes for the whole run (past that, the first ``EXCERPT`` bytes of each body); a socket that stalls for
``READ_TIMEOUT`` seconds is dropped, and connections are served by a bounded pool. pytest-httpserver, which it
replaces, reads every body whole before any handler runs and keeps every request for the session.

The server judges nothing and knows no case: each request is handed, as a :class:`Received`, to the one
function given as ``answer``, which returns the status, headers and body to send back.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

MAX_BODY = 1024 * 1024  # bytes of one request body kept
MAX_READ = 16 * 1024 * 1024  # bytes of one request body read (the rest is refused with 413)
MAX_KEPT = 64 * 1024 * 1024  # bytes of bodies kept over the whole run
EXCERPT = 4096  # what is kept of a body once MAX_KEPT is spent
READ_TIMEOUT = 15.0
WORKERS = 32
CHUNK_LINE = 1024


@dataclass(frozen=True)
class Received:
    """One request as read: ``at`` is ``time.monotonic()`` once its body was read; ``size`` what it declared
    or sent, ``body`` what was kept of it."""

    at: float
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    size: int
    truncated: bool = False
    refused: str | None = None  # why the server answered it 413/400 itself


Answer = tuple[int, dict[str, str], bytes]


class _TooLarge(Exception):
    pass


class _Malformed(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # a report shows the tries; no log per request
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True

    def _serve(self) -> None:
        size, truncated, refused, body = 0, False, None, b""
        try:
            body, size, truncated = self._read_body()
        except _TooLarge:
            refused, self.close_connection = f"body larger than {MAX_READ} bytes", True
        except _Malformed as exc:
            refused, self.close_connection = f"malformed body framing: {exc}", True
        received = Received(time.monotonic(), self.command, self.path, tuple(self.headers.items()), body, size,
                            truncated, refused)
        if refused:
            status, answer = (413 if refused.startswith("body larger") else 400), refused.encode()
            headers: dict[str, str] = {}
            self.server.answer(received)  # still shown to the case: the sender did send it
        else:
            status, headers, answer = self.server.answer(received)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(answer)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(answer)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> tuple[bytes, int, bool]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b"", 0, False
        try:
            length = int(length_text)
        except ValueError:
            raise _Malformed(f"Content-Length {length_text[:40]!r}") from None
        if length < 0:
            raise _Malformed("a negative Content-Length")
        if length > MAX_READ:
            raise _TooLarge
        return self._keep(self._read_exactly(length)), length, length > MAX_BODY

    def _read_exactly(self, length: int) -> Iterator[bytes]:
        left = length
        while left:
            block = self.rfile.read(min(left, 65536))
            if not block:
                raise _Malformed("the connection closed before the body was complete")
            left -= len(block)
            yield block

    def _read_chunked(self) -> tuple[bytes, int, bool]:
        total = 0

        def chunks() -> Iterator[bytes]:
            nonlocal total
            while True:
                line = self.rfile.readline(CHUNK_LINE)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _Malformed(f"chunk size {line[:40]!r}") from None
                if size == 0:
                    break
                total += size
                if total > MAX_READ:
                    raise _TooLarge
                yield from self._read_exactly(size)
                self.rfile.readline(CHUNK_LINE)
            while self.rfile.readline(CHUNK_LINE) not in (b"\r\n", b"\n", b""):  # trailers
                pass

        body = self._keep(chunks())
        return body, total, total > MAX_BODY

    def _keep(self, blocks: Iterator[bytes]) -> bytes:
        """Read every block; keep what the bounds allow."""
        kept = bytearray()
        for block in blocks:
            room = min(MAX_BODY, self.server.room()) - len(kept)
            if room > 0:
                kept += block[:room]
        self.server.spend(len(kept))
        return bytes(kept)


class _Server(socketserver.TCPServer):
    allow_reuse_address = True

    def __init__(self, answer: Callable[[Received], Answer]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hookproof-scripted")
        self._kept = 0
        self._lock = threading.Lock()

    def room(self) -> int:
        with self._lock:
            return max(EXCERPT, MAX_KEPT - self._kept)

    def spend(self, size: int) -> None:
        with self._lock:
            self._kept += size

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._work, request, client_address)

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:  # a broken peer is not our error
        pass

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class ScriptedServer:
    """The running server: its base URL, and the function every request is handed to."""

    def __init__(self, answer: Callable[[Received], Answer]) -> None:
        self._server = _Server(answer)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hookproof-scripted-server", daemon=True)

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serving(answer: Callable[[Received], Answer]) -> Iterator[ScriptedServer]:
    server = ScriptedServer(answer)
    server.start()
    try:
        yield server
    finally:
        server.stop()
