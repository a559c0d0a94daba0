"""The reference sender command's own HTTP/1.1 exchange (reference_impl/plain_http.py) reads every framing of an
answer as ``http.client`` would, refuses what would smuggle a header, and names a broken answer in one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hookproof.plain_http import AnswerError, host_bytes, host_header, read_answer, request_head
from hookproof.reference_impl.sender_core import SendOptions
from hookproof.reference_impl.sender_plain import PlainSender
from tests.raw_servers import raw_server


@contextmanager
def answering(raw: bytes, *, close: bool = True) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that reads each request and writes ``raw`` back (then closes, or waits for the client
    to close first)."""
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        seen.append(data)
        conn.sendall(raw)
        if not close:
            conn.recv(1)  # keep it open until the client closes

    with raw_server(answer) as port:
        yield f"http://127.0.0.1:{port}/hook", seen


def _read(raw: bytes, *, close: bool = True, cap: int = 1 << 20) -> tuple[int | None, bytes]:
    got: list[bytes] = []
    status: list[int] = []
    with answering(raw, close=close) as (url, _):
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request_head("POST", "/hook", "127.0.0.1", [(b"Content-Length", b"0")]))
            read_answer(sock, status.append, lambda c: got.append(c) or sum(map(len, got)) >= cap, lambda: False)
    return (status[0] if status else None), b"".join(got)


@pytest.mark.parametrize(("raw", "status", "body"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello"),
    (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
     202, b"abcde"),
    (b"HTTP/1.0 500 Oops\r\n\r\nuntil the close", 500, b"until the close"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, b"ok"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 204, b""),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, b"ok"),  # bare LF line ends, as http.client reads them
], ids=["sized", "chunked", "until-close", "100-continue", "204", "bare-lf"])
def test_every_framing_of_an_answer_is_read_to_its_end(raw: bytes, status: int, body: bytes) -> None:
    assert _read(raw) == (status, body)


def test_a_sized_answer_on_a_kept_connection_ends_at_its_length() -> None:
    """A server that ignores ``Connection: close`` does not hold the try open after the body it announced."""
    assert _read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False) == (200, b"ok")


def test_the_cap_stops_reading_an_endless_body() -> None:
    status, body = _read(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 300_000, cap=100_000)
    assert status == 200 and 100_000 <= len(body) < 200_000


@pytest.mark.parametrize(("raw", "says"), [
    (b"garbage\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "more than 65536 bytes"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 101 + b"\r\n", "more than 100 header fields"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "5 bytes of the answer's body unsent"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", "not hexadecimal"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "is not a number of bytes"),
    (b"HTTP/1.1 200 OK\r\nX-Cut", "closed in the middle of the answer's header fields"),
])
def test_a_broken_answer_is_one_named_error(raw: bytes, says: str) -> None:
    with pytest.raises(AnswerError, match=says):
        _read(raw)


def test_no_answer_at_all_reads_as_http_client_names_it() -> None:
    with pytest.raises(ConnectionResetError, match="Remote end closed connection without response") as caught:
        _read(b"")
    assert type(caught.value).__name__ == "RemoteDisconnected"


@pytest.mark.parametrize(("headers", "says"), [
    ([(b"X-Evil", b"a\r\nInjected: 1")], "Invalid header value"),
    ([(b"Bad Name", b"1")], "Invalid header name"),
])
def test_a_header_that_would_smuggle_another_is_refused(headers: list[tuple[bytes, bytes]], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        request_head("POST", "/hook", "h", headers)
    with pytest.raises(ValueError, match="control characters"):
        request_head("POST", "/a b", "h", [])
    for method in ("GET /evil HTTP/1.1\r\nX:", "POST ", "", "PO\x00ST"):  # a request line of the method's making
        with pytest.raises(ValueError, match="Invalid method"):
            request_head(method, "/hook", "h", [])


def test_the_host_header_names_a_non_default_port_and_brackets_ipv6() -> None:
    assert host_header("127.0.0.1", 80, 80) == "127.0.0.1"
    assert host_header("127.0.0.1", 8080, 80) == "127.0.0.1:8080"
    assert host_header("::1", 443, 443) == "[::1]"


def test_the_sender_records_the_request_it_wrote_and_the_status_it_read() -> None:
    with answering(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n") as (url, seen):
        record = PlainSender(SendOptions(time_scale=0.001)).deliver(url, "codewars", "code_challenge.created",
                                                                     {"action": "created", "code_challenge":
                                                                      {"id": "x", "created_by_id": "y"}},
                                                                     secret="hush", contract=None)
    first = record.attempts[0]
    assert first.status == 503 and first.error is None
    head = seen[0].decode("latin-1")
    assert head.startswith("POST /hook HTTP/1.1\r\nHost: 127.0.0.1:")
    assert "\r\nUser-Agent: Codewars Hookbot\r\n" in head and "\r\nX-Webhook-Secret: hush\r\n" in head
    assert "\r\nConnection: close\r\n" in head and "\r\nContent-Length: " in head


def test_a_host_outside_ascii_goes_on_the_wire_in_idna() -> None:
    head = request_head("POST", "/hook", "bücher.example:8080", [])
    assert head.startswith(b"POST /hook HTTP/1.1\r\nHost: xn--bcher-kva.example:8080\r\n")
    assert host_bytes("127.0.0.1") == b"127.0.0.1" and host_bytes("Hooks.Example") == b"Hooks.Example"
    assert host_bytes("bücher.example") == "bücher.example".encode("idna")


NOT_AT_START = ("http.client", "ssl", "email", "dataclasses", "inspect", "httpx", "jsonschema", "hmac", "hashlib",
                "random", "base64", "encodings.idna")


def test_a_delivery_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    """What the reference sender command would import for nothing, at each of a run's dozens of starts: an HTTP
    client it does not use, ``dataclasses`` (with ``inspect``), which the contract model no longer needs,
    ``hmac``, ``hashlib`` (OpenSSL's) and ``base64``, which only a signing contract needs, and ``random``, which
    only a jittered backoff needs; the ``idna`` codec, which only a host name outside ASCII needs. Judged after
    a whole delivery (Codewars: a shared secret, no signature), not only the imports."""
    event = tmp_path / "event.json"
    event.write_text('{"action": "created", "code_challenge": {"id": "1", "created_by_id": "2"}}', encoding="utf-8")
    with answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as (url, seen):
        code = ("import runpy, sys\n"
                f"sys.argv = ['sender_cli', '--url', {url!r}, '--event-file', {str(event)!r}, '--platform', "
                "'codewars', '--event', 'code_challenge.created', '--secret', 'hush']\n"
                "try:\n    runpy.run_module('hookproof.reference_impl.sender_cli', run_name='__main__')\n"
                "except SystemExit as end:\n    assert end.code in (0, None), end.code\n"
                f"print(sorted(m for m in {NOT_AT_START!r} if m in sys.modules), file=sys.stderr)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert len(seen) == 1 and '"delivered": true' in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"
