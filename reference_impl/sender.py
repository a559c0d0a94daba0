"""The reference webhook sender: delivers one event to one URL the way the platform's contract says.

What goes on the wire comes from the contract (:mod:`hookproof.contract`): the method, the Content-Type,
the documented headers (Codewars' ``User-Agent: Codewars Hookbot``, the ``X-Webhook-Event`` part of the
event name), authentication over the exact bytes sent (:mod:`hookproof.auth`), and the per-delivery metadata a
sender sets once and keeps on every retry (DoSelect ``meta.delivery_id``/``meta.timestamp``, viasto
``endpoint``/``time``). How often and how patiently it retries is the contract's :class:`RetryPolicy`: which
answers are retried, how many tries, the shape of the backoff (:mod:`hookproof.reference_impl.backoff`);
3XX is never followed.

Every try is bounded three ways: connect/read timeouts, an overall per-try deadline (read timeouts
restart on every chunk, so a server that drips bytes would otherwise hold a try forever), and a byte cap
on the answer, which is streamed and never read whole.

The network, the sleep and the clocks are injectable (an httpx transport, e.g. respx's, and plain
callables) so the retry logic can be unit-tested without sockets or waiting.

What the senders share without an HTTP client (options, records, :func:`prepare`, the schedule) is
:mod:`hookproof.reference_impl.sender_core`, re-exported here. Use :class:`Sender` (sync, ``httpx.Client``)
or :class:`AsyncSender` (kept-alive HTTP/1.1 over asyncio, :mod:`hookproof.reference_impl.sender_async`,
with :meth:`AsyncSender.deliver_many` for many deliveries at bounded concurrency). The command line,
``python -m hookproof.reference_impl.sender_cli``, delivers with the same core over ``http.client``
(:mod:`hookproof.reference_impl.sender_plain`), which starts in a fraction of httpx's import time.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import httpx

from hookproof import tls
from hookproof.deadline import Deadline
from hookproof.reference_impl.backoff import Uniform
from hookproof.reference_impl.sender_async import Pool
from hookproof.reference_impl.sender_core import (
    MAX_TIME_SCALE,
    USER_AGENT,
    Attempt,
    DeliveryRecord,
    Job,
    Outgoing,
    Prepared,
    SenderError,
    SendOptions,
    _Outcome,
    _SenderBase,
    _SyncSender,
    describe,
    new_delivery_id,
    prepare,
    utc_now,
    webhook_contract,
)

__all__ = ["MAX_TIME_SCALE", "USER_AGENT", "AsyncSender", "Attempt", "DeliveryRecord", "Job", "Outgoing", "Prepared",
           "SendOptions", "Sender", "SenderError", "describe", "new_delivery_id", "prepare", "utc_now",
           "webhook_contract"]


class Sender(_SyncSender):
    """Delivers events one at a time (``httpx.Client``); see the module docstring for the rules.

    httpx builds the client's TLS context with the client. Where ``$SSL_CERT_FILE`` names no CA, that context
    cannot be built: an http URL is still delivered to, and each try to an https one fails with the reason, as
    in the other senders (:class:`hookproof.tls.TrustError`)."""

    def __init__(self, options: SendOptions | None = None, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now, new_id: Callable[[], str] = new_delivery_id,
                 rng: Uniform | None = None) -> None:
        super().__init__(options, clock=clock, now=now, new_id=new_id, rng=rng)
        self._sleep = sleep
        self._untrusted: tls.TrustError | None = None
        verify: ssl.SSLContext | bool = True
        if transport is None:
            try:
                verify = tls.client_context()
            except tls.TrustError as exc:  # certifi's context for the client; no https try is sent with it
                self._untrusted = exc
        self._client = httpx.Client(
            transport=transport, trust_env=False, follow_redirects=False, timeout=self.options.timeout(),
            verify=verify,
            headers={"User-Agent": USER_AGENT}, limits=httpx.Limits(max_keepalive_connections=0))

    def _try(self, out: Outgoing, number: int, first: float) -> Attempt:
        started_at, began = self._now().isoformat(), self._clock()
        outcome = _Outcome()
        if self._untrusted is not None and out.url.lower().startswith("https:"):
            outcome.error = describe(self._untrusted)
            return self._attempt(number, started_at, first, began, outcome)
        cap = self.options.max_response_bytes
        try:
            with Deadline(self.options.attempt_deadline) as watchdog:
                request = self._client.build_request(out.method, out.url, headers=out.wire_headers,
                                                     content=out.content, extensions={"trace": watchdog.trace})
                response = self._client.send(request, stream=True)
                outcome.status = response.status_code
                try:
                    chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
                    for chunk in chunks:
                        if outcome.count(chunk, cap) or watchdog.expired:
                            break
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            outcome.error = describe(exc)
        if watchdog.expired:
            outcome.error = f"attempt deadline of {self.options.attempt_deadline:g} s passed"
        return self._attempt(number, started_at, first, began, outcome)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSender(_SenderBase):
    """Delivers events over kept-alive HTTP/1.1 connections; :meth:`deliver_many` bounds how many run at once.

    The exchange is :mod:`hookproof.reference_impl.sender_async` (HTTP/1.1 on an asyncio protocol, the request
    httpx would send, byte for byte), unless a ``transport`` is given: then it is ``httpx.AsyncClient`` over
    that transport (a mock's, respx's), so that tests can answer without sockets.
    """

    def __init__(self, options: SendOptions | None = None, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now, new_id: Callable[[], str] = new_delivery_id,
                 rng: Uniform | None = None, max_connections: int = 100) -> None:
        super().__init__(options, clock=clock, now=now, new_id=new_id, rng=rng)
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._pool: Pool | None = None
        if transport is None:
            # hookproof.tls builds the context (15-30 ms) at the first https connection, and only once
            self._tls = tls.client_context
            self._pool = Pool(max_connections, self._tls)
        else:
            self._client = httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False,
                                             timeout=self.options.timeout(), headers={"User-Agent": USER_AGENT})

    async def deliver(self, url: str, platform: str, event: str | None, body: Any, *, secret: str | None = None,
                      contract: str | None = None) -> DeliveryRecord:
        """Deliver one event, retrying as the contract's policy says; never raises for network trouble."""
        return await self.deliver_prepared(self.prepare(url, platform, event, body, secret, contract))

    async def deliver_prepared(self, prepared: Prepared) -> DeliveryRecord:
        return await self._deliver(prepared, self._session())

    def _session(self) -> Pool | httpx.AsyncClient:
        session = self._pool or self._client
        assert session is not None  # one of them, from the constructor on
        return session

    async def _deliver(self, prepared: Prepared, session: Pool | httpx.AsyncClient) -> DeliveryRecord:
        record = self._record(prepared)
        first = self._clock()
        for number, wait in self._schedule(prepared):
            if wait:
                await self._sleep(wait)
            record.attempts.append(await self._try(session, self.outgoing(prepared, number), number, first))
            if self._done(prepared, record.attempts[-1], record):
                break
        return record

    async def deliver_many(self, jobs: Iterable[Job], concurrency: int = 64) -> list[DeliveryRecord]:
        """Deliver every job, at most ``concurrency`` at a time; records come back in the jobs' order.

        A fixed set of workers pulls from the jobs, so a million jobs never become a million tasks. Each
        worker keeps its own connection (a pool of one): nothing is shared between workers but the jobs'
        iterator, so no worker waits for another's connection. A job with bad input (unknown event...)
        raises :class:`SenderError` before anything is sent.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        prepared = [self.prepare(j.url, j.platform, j.event, j.body, j.secret, j.contract) for j in jobs]
        records: list[DeliveryRecord | None] = [None] * len(prepared)
        queue: Iterator[tuple[int, Prepared]] = iter(enumerate(prepared))

        async def worker() -> None:
            # An injected transport is shared, and closing a client closes its transport: use the main client.
            session = Pool(1, self._tls, shared=False) if self._pool is not None else self._session()
            try:
                for index, item in queue:  # shared iterator: each job is taken by exactly one worker
                    records[index] = await self._deliver(item, session)
            finally:
                if isinstance(session, Pool):
                    session.close()

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prepared)))))
        return [r for r in records if r is not None]

    async def _try(self, session: Pool | httpx.AsyncClient, out: Outgoing, number: int, first: float) -> Attempt:
        started_at, began = self._now().isoformat(), self._clock()
        outcome = _Outcome()
        try:
            if isinstance(session, Pool):  # bounds every wait by the deadline itself, on one timer per try
                await session.exchange(out, outcome, self.options)
            else:
                await _within(self.options.attempt_deadline, self._exchange(session, out, outcome))
        except TimeoutError:
            outcome.error = f"attempt deadline of {self.options.attempt_deadline:g} s passed"
        except httpx.HTTPError as exc:
            outcome.error = describe(exc)
        return self._attempt(number, started_at, first, began, outcome)

    async def _exchange(self, client: httpx.AsyncClient, out: Outgoing, outcome: _Outcome) -> None:
        request = client.build_request(out.method, out.url, headers=out.wire_headers, content=out.content)
        response = await client.send(request, stream=True)
        outcome.status = response.status_code
        try:
            if response.is_stream_consumed:  # an answer built in memory (a mock transport's): nothing to bound
                outcome.count(response.content, self.options.max_response_bytes)
                return
            async for chunk in response.aiter_raw():
                if outcome.count(chunk, self.options.max_response_bytes):
                    break
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _within(seconds: float, work: Awaitable[None]) -> None:
    """Await ``work`` for at most ``seconds`` (``asyncio.timeout``: no extra task per try)."""
    async with asyncio.timeout(seconds):
        await work
