"""One bounded HTTP request from the suite to an implementation under test, and what came back.

Every request has a timeout, a cap on the bytes read and an overall deadline over connect, headers and body
(a per-read timeout restarts on each chunk, so a server that drips bytes would otherwise never trip it);
redirects are never followed and proxies from the environment are ignored. A breaker stops a run from
stalling on a target that keeps timing out.

The requests go over kept-alive sockets, one per origin, written and read by
:mod:`hookproof.plain_http` (the reference sender command's own HTTP/1.1 exchange): a
conformance run sends thousands of small deliveries, and each cost the run's thread more than the reference
receiver spends deciding one, first in httpx's client (about 1.4 ms of CPU more per request than
``http.client``), then in ``http.client``'s two writes per request and its header parsing by the ``email``
package (0.26 ms against 0.10 ms here, docs/performance.md). One request at a time per connection, as a
sender delivers; the request's head and body in one write.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hookproof import plain_http, tls
from hookproof.deadline import Deadline, Sockets

if TYPE_CHECKING:
    from hookproof.conformance.run_budget import RunBudget

ANSWER_CAP = 64 * 1024
STALL_LIMIT = 3
WITH_BODY = ("POST", "PUT", "PATCH")  # methods that always state a Content-Length, even of 0
# Failures of a kept-alive connection before any answer: the peer closed it while it was idle. Sent again
# once on a fresh connection, as a browser or httpcore does for a connection that went stale.
STALE = (plain_http.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

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
    if isinstance(exc, plain_http.RemoteDisconnected):
        return f"closed the connection without answering ({name}; did the handler crash?)"
    if isinstance(exc, plain_http.CutShort):
        return f"closed the connection before its answer was complete ({name}; did the handler crash?)"
    if isinstance(exc, ConnectionError):
        return f"broke the connection ({name}: {exc})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"failed the TLS handshake ({name}: {exc}; {tls.UNTRUSTED_HINT})"
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({name}: {exc})"
    if isinstance(exc, tls.TrustError):
        return f"was not sent the request: {exc}"
    if isinstance(exc, ValueError):  # a header plain_http refuses to send (a CR or LF in a value)
        return f"was not sent the request: it is not valid HTTP ({name}: {exc})"
    if isinstance(exc, plain_http.AnswerError):  # a bad status line, an endless header, too many headers
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
    implementations compare it), a breaker that stops sending after repeated timeouts, and the run's time limit
    (``budget``: past it, :meth:`send` raises :class:`~hookproof.conformance.run_budget.RunOutOfTime`)."""

    timeout: float
    breaker: Breaker = field(default_factory=Breaker)
    # the option that sets ``timeout``, as the command that sends spells it (trigger and replay: --timeout)
    timeout_option: str = "--response-timeout"
    sockets: Sockets = field(default_factory=Sockets)
    budget: RunBudget | None = None
    _idle: dict[tuple[str, str, int], socket.socket] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        while self._idle:
            self._idle.popitem()[1].close()

    def send(
        self, url: str, headers: dict[str, str], body: bytes, method: str = "POST", replay_body: str | None = None
    ) -> Exchange:
        if self.budget is not None:
            self.budget.check()
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
        except (OSError, plain_http.AnswerError, ValueError) as exc:
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
            exchange.error = (f"answered after {exchange.elapsed:.2f} s, more than {self.timeout_option} "
                              f"{self.timeout:g} s")
        return exchange

    def _exchange(self, exchange: Exchange, deadline: Deadline) -> None:
        parts = urlsplit(exchange.url)
        secure = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if secure else 80)
        origin = (parts.scheme, host, port)
        request = _request(exchange, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           plain_http.host_header(host, port, 443 if secure else 80))
        kept = self._idle.pop(origin, None)
        if kept is not None and _went_stale(kept):
            kept.close()
            kept = None
        sock = kept or self._connect(origin, deadline)
        try:
            try:
                reusable = self._round_trip(sock, request, exchange, deadline)
            except STALE:
                if kept is None or deadline.expired or exchange.status is not None:
                    raise
                sock.close()  # the kept connection was closed by the peer while idle: once more, on a new one
                sock = self._connect(origin, deadline)
                reusable = self._round_trip(sock, request, exchange, deadline)
        except BaseException:
            sock.close()
            raise
        if reusable and not deadline.expired:
            self._idle[origin] = sock  # read to its end: the connection can carry the next request
        else:
            sock.close()  # past the cap, or the server closes it: never read the rest of an answer

    def _connect(self, origin: tuple[str, str, int], deadline: Deadline) -> socket.socket:
        deadline.phase = "while connecting"
        scheme, host, port = origin
        wait = max(min(self.timeout, self.timeout - deadline.elapsed), 0.001)
        sock = socket.create_connection((host, port), timeout=wait)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one write per request: send it now
            if scheme == "https":
                sock = tls.client_context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self.sockets.add(sock)
        if deadline.expired:  # its shutdown came before this socket was known
            sock.close()
            raise TimeoutError("the deadline passed while connecting")
        return sock

    @staticmethod
    def _round_trip(sock: socket.socket, request: bytes, exchange: Exchange, deadline: Deadline) -> bool:
        """Send the request, read its answer into ``exchange``; whether the connection can carry another."""
        deadline.phase = "while the request was sent"
        sock.sendall(request)
        deadline.phase = "before its answer's headers were complete"
        chunks: list[bytes] = []
        size = 0

        def on_status(status: int) -> None:
            exchange.status = status
            deadline.phase = "while its answer's body came in"

        def on_fields(fields: dict[bytes, bytes]) -> None:
            location = fields.get(b"location")
            exchange.location = location.decode("latin-1") if location is not None else None

        def on_body(chunk: bytes) -> bool:
            nonlocal size
            chunks.append(chunk[:ANSWER_CAP - size])
            size += len(chunk)
            return size >= ANSWER_CAP

        reusable = plain_http.read_answer(sock, on_status, on_body, lambda: deadline.expired, on_fields=on_fields,
                                          kept=True, bodiless=exchange.method == "HEAD")
        exchange.answer = b"".join(chunks)  # cut short by the deadline, send() says so
        return reusable

    def _timed_out(self, exchange: Exchange, phase: str) -> None:
        self.breaker.timeouts += 1
        exchange.status = None
        exchange.error = f"gave no answer within {self.timeout:g} s ({self.timeout_option}): it stalled {phase}"


def _request(exchange: Exchange, target: str, host: str) -> bytes:
    """The request's bytes: its line, the Host field unless the check gives one, the check's header fields (values
    as UTF-8), a Content-Length unless the check frames the body itself, then the body."""
    given = {name.lower() for name in exchange.headers}
    fields = [(name.encode("ascii", "replace"), value.encode("utf-8")) for name, value in exchange.headers.items()]
    body = exchange.body
    if "content-length" not in given and "transfer-encoding" not in given and (body or exchange.method in WITH_BODY):
        fields.append((b"Content-Length", str(len(body)).encode("ascii")))
    return plain_http.request_head(exchange.method, target, None if "host" in given else host, fields) + body


def _went_stale(sock: socket.socket) -> bool:
    """Whether the peer closed (or wrote to) a kept connection while it was idle: then it is readable."""
    if sock.fileno() < 0:
        return True
    with contextlib.suppress(OSError, ValueError):
        return bool(select.select([sock], [], [], 0)[0])
    return True
