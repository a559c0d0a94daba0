"""One HTTP/1.1 request and its answer over a connected socket: what the reference sender command and the
suite's requests to a target (``hookproof.conformance.http_exchange``) need, and nothing they do not.

The sender checks start the reference sender command once per delivery, so what it imports is paid once per
case (several hundred times in the project's tests). ``http.client`` brings ``email`` and ``ssl`` with it,
a fifth of the command's start-up (docs/performance.md), for one request on a connection that closes
after it; and a run's requests to a receiver, thousands on kept connections, paid for its two writes per
request and its ``email`` parsing of every answer's header fields. This module writes the request and reads
the answer the way ``http.client`` does (RFC 9112): the status line, the header fields, then a body framed by
``Transfer-Encoding: chunked``, by ``Content-Length``, or by the close; interim 1XX answers are skipped; 204,
304 and 1XX have no body; it says whether the connection may carry another request. Its errors are
classes of its own, named as ``http.client`` names its (``RemoteDisconnected``; ``CutShort`` for its
``IncompleteRead``), so a delivery record reads as before without importing ``http.client``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable

MAX_HEAD = 64 * 1024  # the status line and header fields of one answer, as http.client's line limit
MAX_HEADERS = 100  # http.client's limit too
READ = 64 * 1024

TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # a header name, and a method (RFC 9110 sections 5.1 and 9.1)
is_token = re.compile(TOKEN).fullmatch
is_token_bytes = re.compile(TOKEN.encode()).fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search
_BAD_TARGET = re.compile("[\x00-\x20\x7f]").search
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class AnswerError(Exception):
    """The peer's answer is not HTTP/1.x as RFC 9112 frames it (the record names the class and the reason)."""


class RemoteDisconnected(ConnectionResetError):
    """The peer closed the connection before any answer; named as ``http.client`` names it."""


class CutShort(AnswerError):
    """The connection closed before the answer's body was complete (``http.client``'s ``IncompleteRead``)."""


def request_head(method: str, target: str, host: str | None, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The request line and header fields, validated (ValueError): a method and a name must be tokens, a CR or LF in a
    value, which would let a header smuggle another, is refused as ``http.client`` refuses it. ``host`` None:
    the caller's headers carry the Host field."""
    if not is_token(method):  # a space or a CR LF in it would write a request line of the caller's choosing
        raise ValueError(f"Invalid method {method!r}")
    if _BAD_TARGET(target):
        raise ValueError(f"URL can't contain control characters. {target!r}")
    lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
    if host is not None:
        lines.append(b"Host: " + host_bytes(host))
    for name, value in headers:
        if not is_token_bytes(name):
            raise ValueError(f"Invalid header name {name!r}")
        if _ILLEGAL_VALUE(value):
            raise ValueError(f"Invalid header value {value!r}")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def host_bytes(host: str) -> bytes:
    """A host name as it goes on the wire and to ``getaddrinfo``: an ASCII name (every IP address, every name
    already in its IDNA form) as it is, any other in IDNA. The ``idna`` codec and the ``stringprep`` it imports
    are loaded only for a name that needs them: they cost the reference sender command about 2% of its
    start-up, and ``socket.getaddrinfo`` given a ``str`` applies the codec whatever the name."""
    return host.encode("ascii") if host.isascii() else host.encode("idna")


def host_header(host: str, port: int, default_port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default_port else f"{shown}:{port}"


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def more(self) -> bytes:
        data = self.sock.recv(READ)
        self.buffer += data
        return data

    def take(self, size: int) -> bytes:
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def read_answer(sock: socket.socket, on_status: Callable[[int], None], on_body: Callable[[bytes], bool],
                stop: Callable[[], bool], *, on_fields: Callable[[dict[bytes, bytes]], None] | None = None,
                kept: bool = False, bodiless: bool = False) -> bool:
    """Read one answer. ``on_status`` gets its status once the header fields are in (a deadline passing in the
    body then still leaves the status known), and ``on_fields`` its header fields (names in lower case);
    ``on_body`` gets the body's bytes (de-chunked) as they come and returns True to stop reading (a cap
    reached); ``stop`` is asked before each read (a deadline passed). ``kept``: the connection is to carry
    the next request, so a chunked body's trailer fields are read too (a sender that closes after one answer
    need not wait for them). ``bodiless``: the answer to a HEAD request, which has no body whatever its fields
    say (RFC 9110 section 9.3.2). Returns whether the connection may carry the next request (RFC 9112 section
    9.3): an HTTP/1.1 answer without ``Connection: close``, read to the end its framing gives, nothing after it."""
    reader = _Reader(sock)
    while True:
        status, fields, version = _head(reader)
        if status >= 200 or status == 101:
            break  # 100 Continue and the other interim answers precede the real one
    on_status(status)
    if on_fields is not None:
        on_fields(fields)
    tokens = {token.strip() for token in fields.get(b"connection", b"").lower().split(b",")}
    keeps = version == b"HTTP/1.1" and b"close" not in tokens and status != 101
    if bodiless or status in (204, 304) or 100 <= status < 200:
        return keeps and not reader.buffer
    encoding = fields.get(b"transfer-encoding", b"").lower()
    if encoding and encoding.split(b",")[-1].strip() == b"chunked":
        whole = _chunked(reader, on_body, stop, trailers=kept)
    elif b"content-length" in fields and not encoding:
        length = fields[b"content-length"].strip()
        if not length.isdigit():
            raise AnswerError(f"Content-Length {length[:40]!r} is not a number of bytes")
        whole = _sized(reader, int(length), on_body, stop)
    else:
        _until_close(reader, on_body, stop)
        whole = keeps = False  # framed by the close: the connection ends with it
    return keeps and whole and not reader.buffer


def _head(reader: _Reader) -> tuple[int, dict[bytes, bytes], bytes]:
    while not (end := _HEAD_END.search(reader.buffer)):
        if len(reader.buffer) > MAX_HEAD:
            raise AnswerError(f"got more than {MAX_HEAD} bytes of status line and header fields")
        if not reader.more():
            if reader.buffer:
                raise AnswerError("the connection closed in the middle of the answer's header fields")
            raise RemoteDisconnected("Remote end closed connection without response")
    head = reader.take(end.end())[:end.start()]
    if len(head) > MAX_HEAD:
        raise AnswerError(f"got more than {MAX_HEAD} bytes of status line and header fields")
    line, *rest = head.replace(b"\r\n", b"\n").split(b"\n")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise AnswerError(f"not an HTTP/1.x status line: {line[:80]!r}")
    if len(rest) > MAX_HEADERS:
        raise AnswerError(f"got more than {MAX_HEADERS} header fields")
    fields: dict[bytes, bytes] = {}
    for field in rest:
        name, colon, value = field.partition(b":")
        if colon:
            key = name.strip().lower()
            fields[key] = (fields[key] + b", " if key in fields else b"") + value.strip()
    return int(parts[1]), fields, parts[0]


def _sized(reader: _Reader, length: int, on_body: Callable[[bytes], bool], stop: Callable[[], bool]) -> bool:
    """Read ``length`` bytes of body; whether all of them were read (not cut by the cap or the deadline)."""
    while length > 0 and not stop():
        if not reader.buffer and not reader.more():
            raise CutShort(f"the connection closed with {length} bytes of the answer's body unsent")
        chunk = reader.take(min(length, READ))
        length -= len(chunk)
        if on_body(chunk):
            return length == 0
    return length == 0


def _until_close(reader: _Reader, on_body: Callable[[bytes], bool], stop: Callable[[], bool]) -> None:
    while not stop():
        if not reader.buffer and not reader.more():
            return
        if on_body(reader.take(READ)):
            return


def _line(reader: _Reader) -> bytes:
    while b"\n" not in reader.buffer:
        if len(reader.buffer) > MAX_HEAD:
            raise AnswerError("a chunk size line of more than 64 KiB")
        if not reader.more():
            raise CutShort("the connection closed before the last chunk of the answer")
    return reader.take(reader.buffer.index(b"\n") + 1)


def _chunked(reader: _Reader, on_body: Callable[[bytes], bool], stop: Callable[[], bool], *, trailers: bool) -> bool:
    """Read a chunked body; whether it was read to its last chunk (and, with ``trailers``, the fields after)."""
    while not stop():
        size_text = _line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise AnswerError(f"a chunk size that is not hexadecimal: {size_text[:20]!r}") from None
        if size == 0:
            while trailers and _line(reader).strip():  # the trailer fields, of no interest but for their end
                pass
            return trailers
        if not _sized(reader, size, on_body, stop):
            return False
        while len(reader.buffer) < 2 and reader.more():  # the CRLF after the chunk's data
            pass
        reader.take(2)
    return False
