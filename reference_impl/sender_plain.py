"""The reference sender over a plain socket: what the command line delivers with.

The sender checks start the command once per delivery, so its start-up is most of what a check costs:
importing httpx (with httpcore, h11, anyio and a TLS context built for every client) took more time than the
delivery it was used for (docs/performance.md). One POST to one URL needs none of that. This sender shares
everything but the exchange with :class:`~hookproof.reference_impl.sender.Sender`
(:mod:`hookproof.reference_impl.sender_core`: the request of every try, authentication, the schedule of
tries and when to stop), and bounds each try the same three ways: a connect and a per-read timeout, one
deadline over the whole try (:class:`~hookproof.deadline.Deadline` shuts the socket down, so a peer that
drips its answer cannot hold the try), and a cap on the bytes of the answer read. It never follows a
redirect (it reads one answer and has no notion of another URL) and opens one connection per try, as
``Sender`` does. The request and the answer are :mod:`hookproof.reference_impl.plain_http`'s: ``http.client``
would bring ``email`` and ``ssl`` into every command's start-up.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from urllib.parse import unquote, urlsplit

from hookproof import tls
from hookproof.deadline import Deadline
from hookproof.plain_http import AnswerError, host_bytes, host_header, read_answer, request_head
from hookproof.reference_impl.backoff import Uniform
from hookproof.reference_impl.sender_core import (
    USER_AGENT,
    Attempt,
    Outgoing,
    SendOptions,
    _Outcome,
    _SyncSender,
    describe,
    new_delivery_id,
    utc_now,
)


class PlainSender(_SyncSender):
    """Delivers events one at a time over a socket; the rules are :class:`_SenderBase`'s."""

    def __init__(self, options: SendOptions | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utc_now,
                 new_id: Callable[[], str] = new_delivery_id, rng: Uniform | None = None) -> None:
        super().__init__(options, clock=clock, now=now, new_id=new_id, rng=rng)
        self._sleep = sleep

    def _try(self, out: Outgoing, number: int, first: float) -> Attempt:
        started_at, began = self._now().isoformat(), self._clock()
        outcome = _Outcome()
        with Deadline(self.options.attempt_deadline) as watchdog:
            try:
                self._exchange(out, outcome, watchdog)
            except (OSError, AnswerError, ValueError) as exc:
                outcome.error = describe(exc)
        if watchdog.expired:
            outcome.error = f"attempt deadline of {self.options.attempt_deadline:g} s passed"
        return self._attempt(number, started_at, first, began, outcome)

    def _exchange(self, out: Outgoing, outcome: _Outcome, watchdog: Deadline) -> None:
        url = urlsplit(out.url)
        secure = url.scheme == "https"
        host, port = url.hostname or "", url.port or (443 if secure else 80)
        options = self.options
        # create_connection hands the host to getaddrinfo, which reads bytes as they are (typeshed's
        # create_connection allows only str)
        sock = socket.create_connection((host_bytes(host), port),  # type: ignore[arg-type]
                                        timeout=min(options.connect_timeout, options.attempt_deadline))
        watchdog.sockets.add(sock)
        if watchdog.expired:  # the deadline passed while connecting: its shutdown missed this socket
            sock.close()
            return
        try:
            sock.settimeout(min(options.read_timeout, options.attempt_deadline))
            if secure:  # only an https URL pays for ssl's import (hookproof.tls)
                sock = tls.client_context().wrap_socket(sock, server_hostname=host)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            headers = out.wire_headers
            names = {name.lower() for name in headers}
            fields: list[tuple[bytes, bytes]] = []
            if b"user-agent" not in names:
                fields.append((b"User-Agent", USER_AGENT.encode("ascii")))
            if url.username is not None and b"authorization" not in names:  # as httpx does with URL credentials
                import base64  # only for a URL with credentials: not at each start of the command

                pair = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
                fields.append((b"Authorization", b"Basic " + base64.b64encode(pair)))
            fields += headers.items()
            fields += [(b"Content-Length", str(len(out.content)).encode("ascii")), (b"Connection", b"close")]
            head = request_head(out.method, path, host_header(host, port, 443 if secure else 80), fields)
            sock.sendall(head + out.content)
            read_answer(sock, partial(setattr, outcome, "status"),
                        lambda chunk: outcome.count(chunk, options.max_response_bytes), lambda: watchdog.expired)
        finally:
            sock.close()
