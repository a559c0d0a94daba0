"""The async sender's own HTTP/1.1 exchange (reference_impl/sender_async.py) against a real loopback socket.

It replaced ``httpx.AsyncClient`` for speed, so each rule the httpx path kept is shown again here, on the
wire: the request is byte for byte the one httpx sends (with authentication over those bytes), a redirect is
not followed, a dripping answer ends at the per-try deadline and a silent one at the read timeout, a long
answer is read up to the cap and its connection dropped, tries follow the contract's policy, connections are
kept alive (and dropped when the server says so or closes them), and ``deliver_many`` keeps its bound.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hookproof import auth, catalog
from hookproof.reference_impl.backoff import Backoff
from hookproof.reference_impl.sender import AsyncSender, DeliveryRecord, Job, SendOptions
from hookproof.reference_impl.sender_async import serialize
from tests.raw_servers import raw_server, read_request
from tests.sample_bodies import CODEWARS, DOSELECT, NOW, VIASTO

QUICK = SendOptions(max_tries=1, connect_timeout=2.0, read_timeout=2.0, attempt_deadline=3.0)


@dataclass
class Seen:
    """What the server saw: every request's raw bytes with its connection's number, and the peak of
    requests in flight."""

    requests: list[tuple[int, bytes]] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        return [raw.split(b" ", 2)[1].decode() for _, raw in self.requests]


Handler = Callable[[socket.socket, str, threading.Event], bool]  # answers; False: close the connection


def _answer(status: int, body: bytes = b"", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


def _stream(conn: socket.socket, stop: threading.Event, head: bytes, chunk: bytes) -> bool:
    conn.sendall(head)
    while not stop.is_set():
        conn.sendall(chunk)
    return False


def _drip(conn: socket.socket, stop: threading.Event, data: bytes) -> bool:
    for byte in data:
        if stop.is_set():
            break
        conn.sendall(bytes([byte]))
        time.sleep(0.05)
    return False


SEQUENCE: list[int] = []  # /seq answers these statuses in turn (set by a test)

HANDLERS: dict[str, Callable[[socket.socket, threading.Event], bool]] = {
    "/ok": lambda c, s: bool(c.sendall(_answer(200, b"thanks"))) or True,
    "/redirect": lambda c, s: bool(c.sendall(_answer(302, b"moved", b"Location: /elsewhere\r\n"))) or True,
    "/seq": lambda c, s: bool(c.sendall(_answer(SEQUENCE.pop(0)))) or True,
    "/then-close": lambda c, s: bool(c.sendall(_answer(200))) and False,  # keep-alive announced, then closed
    "/close": lambda c, s: bool(c.sendall(_answer(200, b"", b"Connection: close\r\n"))) and False,
    "/chunked": lambda c, s: bool(c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")) or True,
    "/gzip-framed": lambda c, s: bool(c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")) and False,
    "/long": lambda c, s: _stream(c, s, b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n", b"y" * 65536),
    "/long-chunked": lambda c, s: _stream(c, s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                          b"10000\r\n" + b"z" * 65536 + b"\r\n"),
    "/drip-head": lambda c, s: _drip(c, s, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000),
    "/drip-body": lambda c, s: bool(c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))
    or _drip(c, s, b"x" * 1000),
    "/silent": lambda c, s: bool(s.wait(5)) and False,
    "/slow": lambda c, s: bool(time.sleep(0.05)) or bool(c.sendall(_answer(200))) or True,
}


@pytest.fixture
def server() -> Iterator[tuple[str, Seen]]:
    """A keep-alive loopback server that answers each request by its path (HANDLERS)."""
    stop, seen = threading.Event(), Seen()

    def serve(conn: socket.socket) -> None:
        with seen.lock:
            seen.connections += 1
            number = seen.connections
        conn.settimeout(5)
        buffer = bytearray()
        while not stop.is_set():
            request = read_request(conn, buffer)
            if request is None:
                return
            path = request.split(b" ", 2)[1].decode().split("?")[0]
            with seen.lock:
                seen.requests.append((number, request))
                seen.in_flight += 1
                seen.peak = max(seen.peak, seen.in_flight)
            try:
                keep = HANDLERS[path](conn, stop)
            finally:
                with seen.lock:
                    seen.in_flight -= 1
            if not keep:
                return

    with raw_server(serve) as port:
        try:
            yield f"http://127.0.0.1:{port}", seen
        finally:
            stop.set()  # the handlers still streaming or waiting end now


def _fixed(options: SendOptions = QUICK, **kwargs: Any) -> AsyncSender:
    return AsyncSender(options, now=lambda: NOW, new_id=lambda: "00000000-0000-4000-8000-000000000001", **kwargs)


def _deliver(sender: AsyncSender, url: str, platform: str, event: str | None, body: Any, **kw: Any) -> DeliveryRecord:
    async def run() -> DeliveryRecord:
        async with sender:
            return await sender.deliver(url, platform, event, body, **kw)

    return asyncio.run(run())


CASES = [
    ("codewars", None, "code_challenge.created", CODEWARS, "Ünï-secret"),
    ("doselect", None, "test-session.end", DOSELECT, None),
    ("doselect", "2019-09", "test-session.end", DOSELECT, "s3cret-key"),
    ("viasto", None, None, VIASTO, None),
]


@pytest.mark.parametrize(("platform", "contract", "event", "body", "secret"), CASES)
def test_the_request_is_byte_for_byte_the_one_httpx_sends(server: tuple[str, Seen], platform: str,
                                                          contract: str | None, event: str | None, body: Any,
                                                          secret: str | None) -> None:
    base, seen = server
    url = f"http://user:pa%20ss@{base.split('//')[1]}/ok?q=a b&r=ü"
    ours = _deliver(_fixed(), url, platform, event, body, secret=secret, contract=contract)
    theirs = _deliver(_fixed(transport=httpx.AsyncHTTPTransport()), url, platform, event, body, secret=secret,
                      contract=contract)
    assert ours.delivered and theirs.delivered
    assert ours.attempts[0].response_bytes == len(b"thanks")
    (_, mine), (_, httpx_request) = seen.requests
    assert mine == httpx_request
    head, content = mine.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"POST /ok?q=a%20b&r=%C3%BC HTTP/1.1")
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in (line.split(b": ", 1) for line in lines[1:])}
    spec = catalog.contract(platform, contract)
    assert headers["Content-Length"] == str(len(content))
    assert headers["Authorization"] == "Basic dXNlcjpwYSBzcw=="  # user:pa ss, from the URL
    for name, value in spec.delivery_headers(ours.event).items():
        assert headers[name] == value
    if secret:
        assert auth.verify(spec, headers, content, json.loads(content), secret,
                           now=NOW.timestamp()) == []
    assert not secret or spec.auth  # a secret is only given where the contract authenticates


def test_a_redirect_is_not_followed(server: tuple[str, Seen]) -> None:
    base, seen = server
    options = SendOptions(max_tries=3, backoff=Backoff(base=0.001, factor=1.0, cap=0.001))
    record = _deliver(_fixed(options), f"{base}/redirect", "doselect", None, DOSELECT)
    assert [a.status for a in record.attempts] == [302, 302, 302]  # DoSelect retries 3XX, never follows it
    assert seen.paths() == ["/redirect"] * 3
    assert seen.connections == 1  # the 302's body was read to its end: the connection was kept


def test_a_dripping_answer_ends_at_the_per_try_deadline(server: tuple[str, Seen]) -> None:
    base, _ = server
    options = SendOptions(max_tries=1, read_timeout=1.0, attempt_deadline=0.4)
    for path, status in (("/drip-head", None), ("/drip-body", 200)):
        began = time.monotonic()
        attempt = _deliver(_fixed(options), f"{base}{path}", "doselect", None, DOSELECT).attempts[0]
        assert time.monotonic() - began < 1.0
        assert attempt.error == "attempt deadline of 0.4 s passed"
        assert attempt.status == status  # a status already read is kept
        assert 0.35 <= attempt.duration < 1.0


def test_a_silent_server_meets_the_read_timeout(server: tuple[str, Seen]) -> None:
    base, _ = server
    options = SendOptions(max_tries=1, read_timeout=0.3, attempt_deadline=5.0)
    began = time.monotonic()
    attempt = _deliver(_fixed(options), f"{base}/silent", "doselect", None, DOSELECT).attempts[0]
    assert time.monotonic() - began < 2.0
    assert attempt.status is None and attempt.error == "ReadTimeout"


@pytest.mark.parametrize("path", ["/long", "/long-chunked"])
def test_a_long_answer_is_read_up_to_the_cap_and_its_connection_dropped(server: tuple[str, Seen], path: str) -> None:
    base, seen = server
    cap = 256 * 1024
    options = SendOptions(max_tries=1, read_timeout=2.0, attempt_deadline=5.0, max_response_bytes=cap)

    async def run() -> list[DeliveryRecord]:
        async with _fixed(options) as sender:
            first = await sender.deliver(f"{base}{path}", "doselect", None, DOSELECT)
            second = await sender.deliver(f"{base}/ok", "doselect", None, DOSELECT)
            return [first, second]

    long, after = asyncio.run(run())
    attempt = long.attempts[0]
    assert attempt.ok and attempt.truncated and attempt.error is None
    assert cap <= attempt.response_bytes < cap + 64 * 1024
    assert after.delivered and seen.connections == 2  # the half-read connection was not used again


def test_tries_follow_the_contract_s_policy(server: tuple[str, Seen]) -> None:
    base, seen = server
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    options = SendOptions(backoff=Backoff(base=1.0, factor=2.0, cap=60.0))
    SEQUENCE[:] = [500, 503, 429, 200]
    record = _deliver(_fixed(options, sleep=sleep), f"{base}/seq", "doselect", None, DOSELECT)
    assert [a.status for a in record.attempts] == [500, 503, 429, 200] and record.delivered
    assert sleeps == [1.0, 2.0, 4.0]
    assert seen.connections == 1  # kept alive across the retries
    bodies = {raw.split(b"\r\n\r\n", 1)[1] for _, raw in seen.requests}
    assert len(bodies) == 1  # the same delivery, metadata and all, on every try

    # Qualified's 2024-01 policy retries only some 5XX: a 500 ends the delivery after one try.
    qualified = {"event": "assessment_created", "data": {}}
    SEQUENCE[:] = [500]
    record = _deliver(_fixed(SendOptions()), f"{base}/seq", "qualified", "assessment_created", qualified,
                      contract="2024-01")
    assert [a.status for a in record.attempts] == [500] and record.gave_up and "not retried" in record.gave_up


def test_a_refused_connection_is_a_transport_failure_and_retried() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    options = SendOptions(max_tries=3, backoff=Backoff(base=1.0, factor=2.0, cap=60.0))
    record = _deliver(_fixed(options, sleep=sleep), f"http://127.0.0.1:{port}/hook", "doselect", None, DOSELECT)
    assert [a.status for a in record.attempts] == [None, None, None] and sleeps == [1.0, 2.0]
    assert all((a.error or "").startswith("ConnectError: ") for a in record.attempts)


def test_connections_are_kept_alive_until_the_server_says_close(server: tuple[str, Seen]) -> None:
    base, seen = server

    async def run() -> list[DeliveryRecord]:
        async with _fixed() as sender:
            records = [await sender.deliver(f"{base}{p}", "doselect", None, DOSELECT)
                       for p in ("/ok", "/chunked", "/ok", "/close", "/ok")]
            await asyncio.sleep(0.05)
            return records

    records = asyncio.run(run())
    assert all(r.delivered for r in records)
    assert records[1].attempts[0].response_bytes == len(b"hello world")  # chunk data, not its framing
    assert [number for number, _ in seen.requests] == [1, 1, 1, 1, 2]


def test_a_connection_the_server_closed_while_idle_is_not_reused(server: tuple[str, Seen]) -> None:
    base, seen = server

    async def run() -> list[DeliveryRecord]:
        async with _fixed() as sender:
            first = await sender.deliver(f"{base}/then-close", "doselect", None, DOSELECT)
            await asyncio.sleep(0.1)  # the server's FIN arrives while the connection is idle in the pool
            return [first, await sender.deliver(f"{base}/ok", "doselect", None, DOSELECT)]

    assert all(r.delivered for r in asyncio.run(run()))
    assert seen.connections == 2


def test_framing_h11_refuses_is_refused(server: tuple[str, Seen]) -> None:
    base, _ = server
    attempt = _deliver(_fixed(), f"{base}/gzip-framed", "doselect", None, DOSELECT).attempts[0]
    assert attempt.status is None
    assert attempt.error == "RemoteProtocolError: Only Transfer-Encoding: chunked is supported"


def test_deliver_many_keeps_its_bound_on_kept_alive_connections(server: tuple[str, Seen]) -> None:
    base, seen = server
    jobs = [Job(f"{base}/slow", "doselect", "test-session.end", DOSELECT) for _ in range(24)]

    async def run() -> list[DeliveryRecord]:
        async with AsyncSender(QUICK) as sender:
            return await sender.deliver_many(jobs, concurrency=4)

    records = asyncio.run(run())
    assert len(records) == 24 and all(r.delivered for r in records)
    assert 1 < seen.peak <= 4
    assert seen.connections == 4  # one kept-alive connection per worker


def test_deliver_shares_one_pool_bounded_by_max_connections(server: tuple[str, Seen]) -> None:
    base, seen = server

    async def run() -> list[DeliveryRecord]:
        async with AsyncSender(QUICK, max_connections=3) as sender:
            return list(await asyncio.gather(*(sender.deliver(f"{base}/slow", "doselect", None, DOSELECT)
                                               for _ in range(12))))

    assert all(r.delivered for r in asyncio.run(run()))
    assert 1 < seen.peak <= 3 and seen.connections <= 3


@pytest.mark.parametrize("name, value", [(b"X-Bad", b"a\r\nX-Smuggled: 1"), (b"X-Bad", b"nul\x00"),
                                         (b"Bad Name", b"v"), (b"X-Bad", b" padded")])
def test_a_header_h11_would_refuse_is_never_written(name: bytes, value: bytes) -> None:
    with pytest.raises(httpx.LocalProtocolError):
        serialize("POST", b"/", [(b"Host", b"x"), (name, value)], b"")


def test_a_sender_reused_in_another_event_loop_opens_new_connections(server: tuple[str, Seen]) -> None:
    """Connections belong to the loop they were made in: a second ``asyncio.run`` must not wait on the first's."""
    base, seen = server
    sender = _fixed()

    async def once() -> DeliveryRecord:
        return await sender.deliver(f"{base}/ok", "doselect", None, DOSELECT)

    first, second = asyncio.run(once()), asyncio.run(once())
    asyncio.run(sender.aclose())
    assert first.delivered and second.delivered
    assert seen.connections == 2


def test_delivery_ids_are_version_4_uuids() -> None:
    import uuid

    from hookproof.reference_impl.sender_core import new_delivery_id

    ids = [new_delivery_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {text[19] for text in ids} == set("89ab")  # the variant's two random bits vary
