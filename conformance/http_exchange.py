"""One bounded HTTP request from the suite to an implementation under test, and what came back.

Every request has a timeout, a cap on the bytes read and an overall deadline over connect, headers and body
(a per-read timeout restarts on each chunk, so a server that drips bytes would otherwise never trip it);
redirects are never followed and proxies from the environment are ignored. A breaker stops a run from
stalling on a target that keeps timing out.

The requests go over the standard library's ``http.client`` on kept-alive connections, one per origin: a
conformance run sends thousands of small deliveries, and httpx's client cost about 1.4 ms of CPU more per
request than ``http.client`` on the same loopback server, more than the reference receiver spends deciding
one (docs/performance.md). One request at a time per connection, as a sender delivers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hookproof.deadline import Deadline, Sockets

ANSWER_CAP = 64 * 1024
STALL_LIMIT = 3
CHUNK = 16 * 1024
WITH_BODY = ("POST", "PUT", "PATCH")  # methods that always state a Content-Length, even of 0
# Failures of a kept-alive connection before any answer: the peer closed it while it was idle. Sent again
# once on a fresh connection, as a browser or httpcore does for a connection that went stale.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

@dataclass
class Exchange:
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    answer: bytes = b""
    elapsed: float = 0.0
    error: str | None = None
    location: str | None = None  # where a 3XX answer pointed
    replay_body: str | None = None  # a shell command printing the body, when curl cannot carry it literally

    def json(self) -> Any:
        """The answer as JSON; raises ValueError when it is not."""
        return json.loads(self.answer.decode("utf-8"))

    def outcome(self) -> str:
        """What the target did, in words for a failure message."""
        if self.error is not None:  # every error is a phrase about the target: "gave no answer within 10 s"
            return self.error
        text = f"answered {self.status}"
        if self.status is not None and 300 <= self.status < 400:
            text += f" (a redirect{' to ' + self.location if self.location else ''}; redirects are not followed)"
        return text


def describe_transport_error(exc: BaseException) -> str:
    """A transport failure as a phrase about the target ("the target refused the connection (...)")."""
    name = type(exc).__name__
    if isinstance(exc, ConnectionRefusedError | socket.gaierror):
        return f"refused the connection ({name}: {exc})"
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"closed the connection without answering ({name}; did the handler crash?)"
    if isinstance(exc, http.client.IncompleteRead):
        return f"closed the connection before its answer was complete ({name}; did the handler crash?)"
    if isinstance(exc, ConnectionError):
        return f"broke the connection ({name}: {exc})"
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({name}: {exc})"
    if isinstance(exc, ValueError):  # http.client refuses a header it cannot send (a CR or LF in a value)
        return f"was not sent the request: it is not valid HTTP ({name}: {exc})"
    if isinstance(exc, http.client.HTTPException):  # a bad status line, an endless header, too many headers
        return f"sent what is not an HTTP answer ({name}: {str(exc)[:80]}), so hookproof closed the connection"
    return f"failed at the HTTP level ({name}: {exc})"


@dataclass
class Breaker:
    """Counts timeouts; once ``limit`` is reached, later requests are refused without being sent."""

    limit: int = STALL_LIMIT
    timeouts: int = 0

    @property
    def open(self) -> bool:
        return self.timeouts >= self.limit


@dataclass
class HttpSession:
    """Bounded requests to one implementation under test: one overall deadline per request (connect, headers
    and body alike: :class:`hookproof.deadline.Deadline`), a byte cap on the answer, no redirects followed, no
    proxy from the environment, header values sent as UTF-8 bytes (a non-ASCII secret travels as the reference
    implementations compare it), and a breaker that stops sending after repeated timeouts."""

    timeout: float
    breaker: Breaker = field(default_factory=Breaker)
    sockets: Sockets = field(default_factory=Sockets)
    _idle: dict[tuple[str, str, int], http.client.HTTPConnection] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        while self._idle:
            self._idle.popitem()[1].close()

    def send(
        self, url: str, headers: dict[str, str], body: bytes, method: str = "POST", replay_body: str | None = None
    ) -> Exchange:
        exchange = Exchange(url, method, dict(headers), body, replay_body=replay_body)
        if self.breaker.open:
            exchange.error = (
                f"was not sent this request: it already failed to answer within {self.timeout:g} s "
                f"{self.breaker.timeouts} times in this run"
            )
            return exchange
        deadline = Deadline(self.timeout, self.sockets)
        try:
            with deadline:
                self._exchange(exchange, deadline)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if deadline.expired or isinstance(exc, TimeoutError):
                self._timed_out(exchange, deadline.phase)
            else:
                exchange.status = None
                exchange.error = describe_transport_error(exc)
        if deadline.expired and exchange.error is None:
            self._timed_out(exchange, deadline.phase)
        exchange.elapsed = deadline.elapsed
        if exchange.error is not None and exchange.error.startswith("gave no answer"):
            exchange.error += f"; stopped after {exchange.elapsed:.2f} s"
        elif exchange.error is None and exchange.elapsed > self.timeout:
            exchange.error = f"answered after {exchange.elapsed:.2f} s, more than --response-timeout {self.timeout:g} s"
        return exchange

    def _exchange(self, exchange: Exchange, deadline: Deadline) -> None:
        parts = urlsplit(exchange.url)
        secure = parts.scheme == "https"
        origin = (parts.scheme, parts.hostname or "", parts.port or (443 if secure else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = self._idle.pop(origin, None)
        if kept is not None and _went_stale(kept):
            kept.close()
            kept = None
        conn = kept or self._connect(origin, deadline)
        try:
            try:
                response = self._request(conn, exchange, target, deadline)
            except STALE:
                if kept is None or deadline.expired:
                    raise
                conn.close()  # the kept connection was closed by the peer while idle: once more, on a new one
                conn = self._connect(origin, deadline)
                response = self._request(conn, exchange, target, deadline)
            self._read(response, exchange, deadline)
        except BaseException:
            conn.close()
            raise
        whole = response.isclosed() or response.length == 0
        if whole:
            response.close()  # read1 leaves a finished sized answer open, and the connection then refuses another
        if whole and not response.will_close and not deadline.expired:
            self._idle[origin] = conn  # read to its end: the connection can carry the next request
        else:
            conn.close()  # past the cap, or the server closes it: never read the rest of an answer

    def _connect(self, origin: tuple[str, str, int], deadline: Deadline) -> http.client.HTTPConnection:
        deadline.phase = "while connecting"
        scheme, host, port = origin
        wait = max(min(self.timeout, self.timeout - deadline.elapsed), 0.001)
        conn: http.client.HTTPConnection
        if scheme == "https":
            import certifi  # the CA bundle httpx verifies with: the same servers are trusted as before

            context = ssl.create_default_context(cafile=certifi.where())
            conn = http.client.HTTPSConnection(host, port, timeout=wait, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=wait)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        self.sockets.add(conn.sock)
        if deadline.expired:  # its shutdown came before this socket was known
            conn.close()
            raise TimeoutError("the deadline passed while connecting")
        return conn

    def _request(self, conn: http.client.HTTPConnection, exchange: Exchange, target: str,
                 deadline: Deadline) -> http.client.HTTPResponse:
        deadline.phase = "while the request's headers were sent"
        given = {name.lower() for name in exchange.headers}
        conn.putrequest(exchange.method, target, skip_host="host" in given, skip_accept_encoding=True)
        for name, value in exchange.headers.items():
            conn.putheader(name.encode("ascii", "replace"), value.encode("utf-8"))
        body = exchange.body
        framed = "content-length" in given or "transfer-encoding" in given
        if not framed and (body or exchange.method in WITH_BODY):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            deadline.phase = "while the request's body was sent"
            conn.send(body)
        deadline.phase = "before its answer's headers were complete"
        response = conn.getresponse()
        if deadline.expired:  # the shutdown ended the headers early: http.client reads that as their end
            raise TimeoutError("the deadline passed before the answer's headers were complete")
        return response

    @staticmethod
    def _read(response: http.client.HTTPResponse, exchange: Exchange, deadline: Deadline) -> None:
        exchange.status = response.status
        exchange.location = response.getheader("location")
        deadline.phase = "while its answer's body came in"
        chunks, size = [], 0
        while size < ANSWER_CAP and not deadline.expired and not response.isclosed():
            chunk = response.read1(min(CHUNK, ANSWER_CAP - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        exchange.answer = b"".join(chunks)

    def _timed_out(self, exchange: Exchange, phase: str) -> None:
        self.breaker.timeouts += 1
        exchange.status = None
        exchange.error = f"gave no answer within {self.timeout:g} s (--response-timeout): it stalled {phase}"


def _went_stale(conn: http.client.HTTPConnection) -> bool:
    """Whether the peer closed (or wrote to) a kept connection while it was idle: then it is readable."""
    sock = conn.sock
    if sock is None:
        return True
    with contextlib.suppress(OSError, ValueError):
        return bool(select.select([sock], [], [], 0)[0])
    return True
