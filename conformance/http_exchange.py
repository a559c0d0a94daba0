"""One bounded HTTP request from the suite to an implementation under test, and what came back.

Every request has a timeout, a cap on the bytes read and an overall deadline over connect, headers and body
(httpx timeouts reset on each chunk, so a server that drips bytes would otherwise never trip them); redirects
are never followed and proxies from the environment are ignored. A breaker stops a run from stalling on a
target that keeps timing out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from hookproof.deadline import Deadline, Sockets

ANSWER_CAP = 64 * 1024
STALL_LIMIT = 3


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


def describe_transport_error(exc: httpx.HTTPError | OSError) -> str:
    """A transport failure as a phrase about the target ("the target refused the connection (...)")."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"refused the connection ({name}: {exc})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"closed the connection without answering ({name}; did the handler crash?)"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"broke the connection ({name}: {exc})"
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
    client: httpx.Client = field(init=False)
    breaker: Breaker = field(default_factory=Breaker)
    sockets: Sockets = field(default_factory=Sockets)

    def __post_init__(self) -> None:
        self.client = httpx.Client(timeout=httpx.Timeout(self.timeout), trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

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
        wire = [(name.encode("ascii", "replace"), value.encode("utf-8")) for name, value in headers.items()]
        deadline = Deadline(self.timeout, self.sockets)
        try:
            with deadline:
                request = self.client.build_request(method, url, headers=wire, content=body or None,
                                                    extensions={"trace": deadline.trace})
                response = self.client.send(request, stream=True)
                try:
                    exchange.status = response.status_code
                    exchange.location = response.headers.get("location")
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= ANSWER_CAP or deadline.expired:
                            break
                    exchange.answer = b"".join(chunks)[:ANSWER_CAP]
                finally:
                    response.close()
        except httpx.TimeoutException:
            self._timed_out(exchange, deadline.phase)
        except (httpx.HTTPError, OSError) as exc:
            if deadline.expired:
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

    def _timed_out(self, exchange: Exchange, phase: str) -> None:
        self.breaker.timeouts += 1
        exchange.status = None
        exchange.error = f"gave no answer within {self.timeout:g} s (--response-timeout): it stalled {phase}"
