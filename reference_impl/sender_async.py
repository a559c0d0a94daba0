"""The async sender's HTTP/1.1 exchange on an asyncio protocol, with kept-alive connections.

Why not ``httpx.AsyncClient``: per delivery it spent about 1.5 ms of CPU (cProfile of bench/sender.py: the
request and response models, cookie extraction, httpcore's pool bookkeeping, anyio's cancel scopes around every
read and write, h11's state machine), so the async sender carried 6% of what a raw asyncio client does to the
same sink. h11 alone, driven directly, still cost about 300 us per request and answer on the bench machine
(its event objects and per-header validation), more than the rest of a delivery together; aiohttp 3.14, C
parser and all, 280-360 us per bare request against the same sink. One delivery needs
little of an HTTP client: write one request, read one status, count the body's bytes up to a cap, and know
whether the connection can carry the next request. That is what this module does, and no more.

The request is httpx's, byte for byte: the same default headers in the same order (``Host`` first, then
``Accept``, ``Accept-Encoding``, ``Connection: keep-alive``, the ``User-Agent`` unless the contract sets one,
the request's own headers, ``Content-Length``), ``Authorization: Basic`` from credentials in the URL, the URL
as :class:`httpx.URL` normalizes it, and header names and values refused where h11 refuses them (RFC 9110
section 5.5: no line break or NUL can smuggle in a header). Failures are raised as httpx's exceptions, so a
try's ``error`` reads the same on either path. Redirects are never followed (nothing here knows of one).

The answer is read by RFC 9112 framing (section 6.3: none for HEAD, 1XX, 204 and 304; chunked; a
Content-Length; else up to the end of the connection); framing h11 refuses (a Transfer-Encoding other than
chunked, conflicting lengths) is refused the same way, with no status taken from it.

Each try is bounded by the caller's overall deadline (``asyncio.timeout`` around the whole exchange) and here
by a connect timeout (TCP and TLS handshake), a read timeout on every read, a write timeout on a full send
buffer, a cap on the bytes of the answer's body read and one on its head. A connection goes back to the pool
only when its answer was read to the end its framing announced, on HTTP/1.1 without ``Connection: close``,
with nothing more sent; an answer cut at the cap, a timeout or any error closes it. Idle connections expire
after :data:`KEEPALIVE_EXPIRY` seconds, as httpcore's do, and one the peer closed is never reused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import NamedTuple, TypeVar

import httpx

from hookproof import plain_http
from hookproof.reference_impl.sender_core import USER_AGENT, Outgoing, SendOptions, _Outcome
from hookproof.tls import TrustError

T = TypeVar("T")
CHUNK = 64 * 1024
KEEPALIVE_EXPIRY = 5.0  # httpcore's default: servers commonly drop idle connections after a few seconds
# httpx's own default Accept-Encoding (it depends on which decoders are installed), read once.
_DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200)), trust_env=False,
                      headers={"User-Agent": USER_AGENT}).headers.raw)


class _Target(NamedTuple):
    """What a URL gives every request to it: where to connect, the request target, the fixed headers."""

    origin: tuple[str, str, int]  # scheme, host, port: what a kept-alive connection is reused for
    host: str
    port: int
    secure: bool
    target: bytes
    netloc: bytes
    basic: bytes | None  # Authorization value from credentials in the URL, as httpx builds it


@lru_cache(maxsize=512)
def target(url: str) -> _Target:
    """Parse ``url`` as httpx does (IDNA, percent-encoding), once per URL: deliveries repeat their URLs."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{parsed.scheme}://'.")
    if not parsed.host:
        raise httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    basic = None
    if parsed.username or parsed.password:
        basic = b"Basic " + base64.b64encode(f"{parsed.username}:{parsed.password}".encode())
    host = parsed.raw_host.decode("ascii")
    return _Target((parsed.scheme, host, port), host, port, parsed.scheme == "https", parsed.raw_path,
                   parsed.netloc, basic)


def request_headers(where: _Target, own: tuple[tuple[bytes, bytes], ...], length: int) -> list[tuple[bytes, bytes]]:
    """The headers httpx would send for a request with headers ``own`` and a body of ``length`` bytes, in h11's
    order: its client defaults updated by the request's (a header the request sets replaces the default and
    moves to the request's place), ``Content-Length`` after them, the URL's credentials as ``Authorization:
    Basic``, and ``Host`` first."""
    lowered = {name.lower() for name, _ in own}
    headers = [] if b"host" in lowered else [(b"Host", where.netloc)]
    headers += [(name, value) for name, value in _DEFAULT_HEADERS if name.lower() not in lowered]
    headers += own
    if b"content-length" not in lowered and b"transfer-encoding" not in lowered:
        headers.append((b"Content-Length", str(length).encode("ascii")))
    if where.basic is not None:  # httpx's BasicAuth sets the header, replacing one the request had
        at = next((i for i, (name, _) in enumerate(headers) if name.lower() == b"authorization"), None)
        if at is None:
            headers.append((b"Authorization", where.basic))
        else:
            headers[at] = (headers[at][0], where.basic)
    if b"host" in lowered:  # h11 writes Host first wherever it was given
        headers.sort(key=lambda line: line[0].lower() != b"host")
    return headers


class _Wire(asyncio.BufferedProtocol):
    """One connection: what the peer sent so far (one buffer the answer is parsed from in place), whether it
    closed, and the one waiter of the try using it. A Protocol rather than asyncio's streams: a read is then a
    future and nothing else, and the try's one timer (:class:`_Bounds`) can end a wait by failing that future.
    A buffered one: the socket is read into the connection's own :data:`CHUNK` bytes, where a plain Protocol
    has asyncio allocate 256 KiB for every read, past malloc's mmap threshold, so an mmap and a munmap each
    (bench/sender.py: 200 -> 130 us of CPU per delivery)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self._into = memoryview(bytearray(CHUNK))
        self.closed = False  # the peer ended the stream, or the connection was lost
        self.lost: Exception | None = None
        self.paused = False  # the send buffer is full: wait before counting the request as written
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.bounds = _Bounds(asyncio.get_running_loop())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._into

    def buffer_updated(self, nbytes: int) -> None:
        self.buffer += self._into[:nbytes]
        self._wake()

    def eof_received(self) -> None:
        self.closed = True
        self._wake()  # returning None: the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.lost, self.paused = True, exc, False
        self._wake()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def usable(self, now: float) -> bool:
        """Whether an idle connection can carry another request: not expired, not closed by the peer, and
        the peer sent nothing unasked (which would be read as the next answer)."""
        return (now - self.idle_since < KEEPALIVE_EXPIRY and not self.closed and not self.buffer
                and self.transport is not None and not self.transport.is_closing())

    def close(self) -> None:
        if self.transport is None:
            return
        try:
            self.bounds.close()
            self.transport.close()
        except RuntimeError:  # its event loop is closed (a sender reused in another asyncio.run): end the TCP
            sock = self.transport.get_extra_info("socket")  # connection at least; the transport frees the fd
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Bounds:
    """The deadline and the per-wait timeout of the try a connection carries, on one timer that outlives the
    try: a wait sets it only when it is not already due first, and when it fires early (the wait it was set
    for ended, another began since) it is set again for what is due next, or left unset with no wait going
    on. So a kept-alive connection sets a timer about once per read timeout, not once per try. A bound that
    passes fails the waiting future with its error, so no task is cancelled; the deadline fails it with
    ``TimeoutError``."""

    __slots__ = ("deadline_at", "error", "handle", "loop", "per_wait", "started", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.deadline_at = self.per_wait = self.started = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.error: type[httpx.TimeoutException] = httpx.ReadTimeout

    def begin(self, deadline_at: float, per_wait: float) -> None:
        self.deadline_at, self.per_wait = deadline_at, per_wait

    async def wait(self, wire: _Wire, error: type[httpx.TimeoutException] = httpx.ReadTimeout) -> None:
        """Wait until the peer sends, closes, or lets writing resume; ``error`` if that takes longer than the
        per-wait timeout, ``TimeoutError`` at the deadline."""
        loop = self.loop
        now = loop.time()
        if now >= self.deadline_at:
            raise TimeoutError
        due = min(self.deadline_at, now + self.per_wait)
        handle = self.handle
        if handle is None or handle.when() > due:
            if handle is not None:
                handle.cancel()
            self.handle = loop.call_at(due, self._fire)
        waiter = loop.create_future()
        self.waiter, self.started, self.error, wire.waiter = waiter, now, error, waiter
        try:
            await waiter
        finally:
            self.waiter = wire.waiter = None

    def _fire(self) -> None:
        self.handle = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # no wait going on: the next one sets the timer
        now = self.loop.time()
        if now >= self.deadline_at:
            waiter.set_exception(TimeoutError())
        elif now - self.started >= self.per_wait:
            waiter.set_exception(self.error(""))
        else:
            self.handle = self.loop.call_at(min(self.deadline_at, self.started + self.per_wait), self._fire)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class Pool:
    """Kept-alive connections per origin, at most ``limit`` in use or idle at once (httpx's Limits did this).

    A pool that one worker of :meth:`AsyncSender.deliver_many` owns (``shared=False``) needs no slots: its
    worker makes one request at a time."""

    def __init__(self, limit: int, tls: Callable[[], ssl.SSLContext], *, shared: bool = True) -> None:
        self._limit, self._tls = limit, tls  # asked for the context at an https connection only
        self._idle: dict[tuple[str, str, int], list[_Wire]] = {}
        self._shared = shared
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the pool's connections belong to
        self._busy = 0  # connections carrying a request now

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start afresh in another event loop (a sender reused across ``asyncio.run`` calls): the idle
        connections and the slots belong to the loop they were made in."""
        self.close()
        self._loop = loop
        self._slots = asyncio.Semaphore(self._limit) if self._shared else None

    async def exchange(self, out: Outgoing, outcome: _Outcome, options: SendOptions) -> None:
        """Send ``out`` and read its answer into ``outcome``, within the try's deadline (``TimeoutError``),
        the connect, read and write timeouts and the answer's byte cap."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        where = target(out.url)
        deadline_at = loop.time() + options.attempt_deadline
        slots = self._slots
        if slots is not None:
            if slots.locked():
                await _bounded(slots.acquire(), options.connect_timeout, deadline_at, httpx.PoolTimeout)
            else:
                await slots.acquire()
        wire: _Wire | None = None
        self._busy += 1
        try:
            wire = self._idle_connection(where, loop.time())
            if wire is None:
                wire = await self._connect(where, options.connect_timeout, deadline_at)
            bounds = wire.bounds
            bounds.begin(deadline_at, min(options.read_timeout, options.attempt_deadline))
            assert wire.transport is not None
            wire.transport.write(_head(out.method, out.url, tuple(out.headers.items()), len(out.content))
                                 + out.content)
            while wire.paused:  # only a full send buffer waits; the per-wait timeout is then httpx's write timeout
                await bounds.wait(wire, httpx.WriteTimeout)
            if await _Answer(wire, bounds).read(out.method, outcome, options.max_response_bytes):
                wire.idle_since = loop.time()
                self._idle.setdefault(where.origin, []).append(wire)
                wire = None
        finally:
            if wire is not None:  # anything but a clean end: a cap, a timeout, an error
                wire.close()
            self._busy -= 1
            if slots is not None:
                slots.release()

    def _idle_connection(self, where: _Target, now: float) -> _Wire | None:
        idle = self._idle.get(where.origin)
        while idle:
            wire = idle.pop()
            if wire.usable(now):
                return wire
            wire.close()
        return None

    async def _connect(self, where: _Target, timeout: float, deadline_at: float) -> _Wire:
        # Room for a new connection: with the pool full, close idle ones (of other origins) first.
        excess = self._busy + sum(map(len, self._idle.values())) - self._limit
        for idle in self._idle.values():
            while idle and excess > 0:
                idle.pop(0).close()
                excess -= 1
        secure = where.secure
        loop = asyncio.get_running_loop()
        try:
            _, wire = await _bounded(loop.create_connection(
                _Wire, where.host, where.port, ssl=self._tls() if secure else None,
                server_hostname=where.host if secure else None), timeout, deadline_at, httpx.ConnectTimeout)
        except (OSError, TrustError) as exc:  # refused, unreachable, unknown host, a failed TLS handshake, no CA
            raise httpx.ConnectError(str(exc)) from None
        return wire

    def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()


async def _bounded(work: Awaitable[T], timeout: float, deadline_at: float,
                   error: type[httpx.TimeoutException]) -> T:
    """``work`` within ``timeout`` (then ``error``) and the try's deadline (then ``TimeoutError``)."""
    left = deadline_at - asyncio.get_running_loop().time()
    if left <= 0:
        raise TimeoutError
    try:
        async with asyncio.timeout(min(timeout, left)):
            return await work
    except TimeoutError:
        if timeout < left:
            raise error("") from None
        raise


@lru_cache(maxsize=1024)
def _head(method: str, url: str, headers: tuple[tuple[str, str], ...], length: int) -> bytes:
    """The request line and headers; cached, since unsigned deliveries repeat them exactly. Values travel as
    UTF-8, names as ASCII, as :attr:`Outgoing.wire_headers` gives them to httpx."""
    where = target(url)
    own = tuple((name.encode("ascii"), value.encode("utf-8")) for name, value in headers)
    return serialize(method, where.target, request_headers(where, own, length), b"")


def serialize(method: str, target: bytes, headers: list[tuple[bytes, bytes]], content: bytes) -> bytes:
    """The request's bytes as h11 writes them, refusing what h11 refuses: a header name that is not a token,
    a value with a NUL, a line break or white space at either end (no header can be smuggled in)."""
    return b"".join([b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target),
                     *(_header_line(name, value) for name, value in headers), b"\r\n", content])


@lru_cache(maxsize=4096)
def _header_line(name: bytes, value: bytes) -> bytes:
    """One header line, checked; cached, since all but the signatures repeat from one delivery to the next."""
    if plain_http.is_token_bytes(name) is None:
        raise httpx.LocalProtocolError(f"Illegal header name {name!r}")
    if _FIELD_VALUE.fullmatch(value) is None:
        raise httpx.LocalProtocolError(f"Illegal header value {value!r}")
    return b"%s: %s\r\n" % (name, value)


# RFC 9110 section 5.5 (field-value), as h11 reads it (h11/_abnf.py); a name is a token (hookproof.plain_http).
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) ([0-9]{3})(?: [^\r\n]*)?\r?")
_HEAD_END = re.compile(rb"\n\r?\n")
_FIELD_LINE = re.compile(rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[^\r\n]*[^ \t\r\n])?)[ \t]*\r?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?")
MAX_HEAD = 100 * 1024  # what httpcore lets h11 buffer of an answer's head; a chunk-size line too


class _Answer:
    """Reads one answer (RFC 9112): its head, then its body by the framing the head gives, counted against
    the cap (in pieces of at most :data:`CHUNK` bytes, as a streamed read would) and never kept. Ambiguous
    framing is refused as h11 refuses it; only an answer read to its announced end, on HTTP/1.1 without
    ``Connection: close``, leaves the connection reusable."""

    __slots__ = ("bounds", "buffer", "wire")

    def __init__(self, wire: _Wire, bounds: _Bounds) -> None:
        self.wire, self.bounds, self.buffer = wire, bounds, wire.buffer

    async def _more(self) -> bool:
        """Wait for what the peer sends next; False at the end of the stream."""
        wire, had = self.wire, len(self.buffer)
        while len(self.buffer) == had:
            if wire.closed:
                if wire.lost is not None:
                    raise httpx.ReadError(str(wire.lost) or type(wire.lost).__name__)
                return False
            await self.bounds.wait(wire)
        return True

    async def _line(self, what: str) -> bytes:
        """The next line (without its line break) of a chunked body."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_HEAD:
                raise httpx.RemoteProtocolError(f"{what} is longer than {MAX_HEAD} bytes")
            if not await self._more():
                raise httpx.RemoteProtocolError(f"peer closed connection without sending complete {what}")
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line

    async def _head(self) -> bytes:
        while (found := _HEAD_END.search(self.buffer)) is None:
            if len(self.buffer) > MAX_HEAD:
                raise httpx.RemoteProtocolError(f"the answer's head is longer than {MAX_HEAD} bytes")
            if not await self._more():
                if not self.buffer:
                    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message head")
        head = bytes(self.buffer[:found.start()])
        del self.buffer[:found.end()]
        return head

    async def read(self, method: str, outcome: _Outcome, cap: int) -> bool:
        while True:  # 1XX answers other than 101 come before the answer: skip them, as httpcore does
            lines = (await self._head()).split(b"\n")
            status_line = _STATUS_LINE.fullmatch(lines[0])
            if status_line is None:
                raise httpx.RemoteProtocolError(f"illegal status line: {bytes(lines[0][:100])!r}")
            status = int(status_line[3])
            if not 100 <= status < 200 or status == 101:
                break
        fields = _fields(lines[1:])
        keep_alive = status_line.group(1, 2) == (b"1", b"1") and b"close" not in _tokens(fields.get(b"connection", []))
        codings = _tokens(fields.get(b"transfer-encoding", []))
        if codings and codings != [b"chunked"]:
            raise httpx.RemoteProtocolError("Only Transfer-Encoding: chunked is supported")
        length = None
        if not codings and b"content-length" in fields:
            lengths = {v.strip() for value in fields[b"content-length"] for v in value.split(b",")}
            if len(lengths) != 1 or not (value := lengths.pop()).isdigit() or len(value) > 20:
                raise httpx.RemoteProtocolError("bad Content-Length")
            length = int(value)
        outcome.status = status
        if status == 101:  # switching protocols: what follows is no HTTP/1.1 answer
            return False
        if method == "HEAD" or status in (204, 304):
            return keep_alive and not self.buffer
        if codings:
            return await self._chunked(outcome, cap) and keep_alive and not self.buffer
        if length is None:  # delimited by the end of the connection
            while True:
                if not self.buffer and not await self._more():
                    return False
                self._take(len(self.buffer), outcome, cap)
                if outcome.truncated:
                    return False
        while length:
            if not self.buffer and not await self._more():
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            length -= self._take(length, outcome, cap)
            if outcome.truncated:
                return False
        return keep_alive and not self.buffer

    def _take(self, most: int, outcome: _Outcome, cap: int) -> int:
        """Count and drop up to ``most`` buffered bytes of the body, :data:`CHUNK` at most; how many it took."""
        piece = bytes(self.buffer[:min(most, CHUNK)])
        del self.buffer[:len(piece)]
        outcome.count(piece, cap)
        return len(piece)

    async def _chunked(self, outcome: _Outcome, cap: int) -> bool:
        """Read a chunked body (RFC 9112 section 7.1) to its end; False if stopped at the cap."""
        while True:
            size_line = _CHUNK_SIZE.fullmatch(await self._line("a chunk-size line"))
            if size_line is None:
                raise httpx.RemoteProtocolError("illegal chunk header")
            size = int(size_line[1], 16)
            if size == 0:
                while await self._line("the trailer") not in (b"", b"\r"):
                    pass
                return True
            while size:
                if not self.buffer and not await self._more():
                    raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
                size -= self._take(size, outcome, cap)
                if outcome.truncated:
                    return False
            if await self._line("a chunk's end") not in (b"", b"\r"):
                raise httpx.RemoteProtocolError("chunk data longer than its size")


def _fields(lines: list[bytes]) -> dict[bytes, list[bytes]]:
    """The answer's header fields, by lower-case name (obs-fold lines are unfolded)."""
    fields: dict[bytes, list[bytes]] = {}
    matched = [_FIELD_LINE.fullmatch(line) for line in lines]
    if all(matched):  # every line a plain "name: value" (the usual case): no folding, nothing malformed
        for match in matched:
            assert match is not None
            fields.setdefault(match[1].lower(), []).append(match[2])
        return fields
    last: list[bytes] | None = None
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line[:1] in (b" ", b"\t"):
            if last is None:
                raise httpx.RemoteProtocolError("continuation line at start of headers")
            last[-1] += b" " + line.strip()
            continue
        name, colon, value = line.partition(b":")
        if not colon or plain_http.is_token_bytes(name) is None:
            raise httpx.RemoteProtocolError(f"illegal header line: {line[:100]!r}")
        last = fields.setdefault(name.lower(), [])
        last.append(value.strip(b" \t"))
    return fields


def _tokens(values: list[bytes]) -> list[bytes]:
    return [token.strip().lower() for value in values for token in value.split(b",") if token.strip()]
