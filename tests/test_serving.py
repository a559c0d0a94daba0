"""The reference servers' HTTP/1.1 server (``reference_impl/serving.py``): each rule of its docstring, on raw
sockets to loopback, failing on a server that breaks it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hookproof.reference_impl import serving
from hookproof.reference_impl.serving import serving as serve_app

TIMEOUT = 5.0


class Echo:
    """A WSGI app that answers with what it was given, and counts its calls."""

    max_body = 1024

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        self.calls.append({k: v for k, v in environ.items() if isinstance(v, str)} | {"body": body})
        text = f"{environ['PATH_INFO']}?{environ['QUERY_STRING']} {len(body)}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
        return [text]


@contextmanager
def connected(app: Any) -> Iterator[tuple[socket.socket, str]]:
    with serve_app(app) as base:
        host, port = base.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
            yield sock, base


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        block = sock.recv(65536)
        if not block:
            raise AssertionError(f"closed before an answer's head: {data!r}")
        data += block
    head, _, rest = data.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    length = lengths[0] if lengths else 0
    while len(rest) < length:
        block = sock.recv(65536)
        if not block:
            break
        rest += block
    assert len(rest) == length, (head, rest)  # nothing of a next answer was read with this one (one per write here)
    return head, rest


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def post(path: str, body: bytes, *extra: bytes) -> bytes:
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" + b"".join(extra)
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def test_a_connection_is_kept_for_the_next_request() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        for n in range(3):
            sock.sendall(post(f"/n{n}", b"{}"))
            head, body = read_answer(sock)
            assert head.startswith(b"HTTP/1.1 200") and body == f"/n{n}? 2".encode()
            assert b"connection: close" not in head.lower()
    assert len(app.calls) == 3


def test_a_connection_idle_past_the_linger_is_served_by_the_loop_again() -> None:
    with connected(Echo()) as (sock, _):
        for n in range(3):
            sock.sendall(post(f"/n{n}", b"{}"))
            assert read_answer(sock)[1] == f"/n{n}? 2".encode()
            time.sleep(serving.LINGER * 3)  # the worker has handed it back by now


def test_a_lingering_worker_gives_way_to_a_waiting_connection() -> None:
    server = serving.LoopbackServer(Echo(), workers=1)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as first, \
                socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as second:
            first.sendall(post("/first", b"{}"))
            read_answer(first)  # its one worker now reads it for the next request
            began = time.monotonic()
            second.sendall(post("/second", b"{}"))
            assert read_answer(second)[1] == b"/second? 2"
            assert time.monotonic() - began < serving.LINGER + 0.5
            first.sendall(post("/again", b"{}"))  # and the first is still served
            assert read_answer(first)[1] == b"/again? 2"
    finally:
        server.stop()
        thread.join(timeout=5)


def test_pipelined_requests_are_answered_in_order() -> None:
    with connected(Echo()) as (sock, _):
        sock.sendall(post("/first", b"a") + post("/second", b"bb") + post("/third", b"ccc"))
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"/third? 3"):
            assert time.monotonic() < deadline, data
            data += sock.recv(65536)
    assert data.index(b"/first? 1") < data.index(b"/second? 2") < data.index(b"/third? 3")


class Slow(Echo):
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(0.02)
        return super().__call__(environ, start_response)


def test_more_pipelined_requests_than_one_read_holds_are_all_answered_in_order() -> None:
    # More than the loop reads at once (64 KiB), and a slow app: it reads no more of the connection while a
    # worker answers, and reads on once the worker is done.
    count, body = 48, b"x" * 2000
    with connected(Slow()) as (sock, _):
        sock.sendall(b"".join(post(f"/p{n}", body) for n in range(count)))
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"HTTP/1.1 200") < count or not data.endswith(b"/p%d? 2000" % (count - 1)):
            assert time.monotonic() < deadline, data[-200:]
            data += sock.recv(65536)
        sock.sendall(post("/after", b"{}"))  # and the connection is read again once they are
        assert read_answer(sock)[1] == b"/after? 2"
    places = [data.index(b"/p%d? 2000" % n) for n in range(count)]
    assert places == sorted(places)


def test_a_request_cut_short_after_an_answer_gets_a_400() -> None:
    with connected(Echo()) as (sock, _):
        sock.sendall(post("/a", b"{}"))
        read_answer(sock)
        sock.sendall(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")  # read by the lingering worker
        sock.shutdown(socket.SHUT_WR)
        assert read_answer(sock)[0].startswith(b"HTTP/1.1 400")
        assert closed_by_server(sock)


def test_a_client_that_ends_its_side_after_a_request_still_gets_the_answer() -> None:
    with connected(Slow()) as (sock, _):
        sock.sendall(post("/a", b"{}"))
        sock.shutdown(socket.SHUT_WR)  # while the app is still at it
        head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"/a? 2"
        assert closed_by_server(sock)


@pytest.mark.parametrize("request_bytes", [
    b"POST /a HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
    post("/a", b"{}", b"Connection: close\r\n"),
], ids=["http-1.0", "connection-close"])
def test_a_client_that_asks_for_a_close_gets_one(request_bytes: bytes) -> None:
    with connected(Echo()) as (sock, _):
        sock.sendall(request_bytes)
        head, _ = read_answer(sock)
        assert b"connection: close" in head.lower()
        assert closed_by_server(sock)


def test_http_1_0_with_keep_alive_is_kept() -> None:
    with connected(Echo()) as (sock, _):
        for _ in range(2):
            sock.sendall(b"POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}")
            head, _ = read_answer(sock)
            assert b"connection: keep-alive" in head.lower()


def test_an_oversized_head_is_431_and_never_reaches_the_app() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(post("/a", b"{}", b"X-Big: " + b"a" * (serving.MAX_HEAD_BYTES + 10) + b"\r\n"))
        head, _ = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 431")
        assert closed_by_server(sock)
    assert app.calls == []


def test_a_declared_body_over_the_cap_is_413_before_it_is_sent() -> None:
    app = Echo()
    over = 2 * Echo.max_body + 1024 * 1024 + 1  # past the app's cap the server still reads up to this much
    with connected(app) as (sock, _):
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % over)  # and no body
        head, _ = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 413")
    assert app.calls == []


def test_a_body_over_the_apps_cap_reaches_the_app_to_refuse() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(post("/a", b"x" * (Echo.max_body + 1)))
        head, body = read_answer(sock)
    assert head.startswith(b"HTTP/1.1 200") and body == b"/a? %d" % (Echo.max_body + 1)


def test_expect_100_continue_gets_the_interim_answer_before_the_body() -> None:
    with connected(Echo()) as (sock, _):
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        head, body = read_answer(sock)
    assert head.startswith(b"HTTP/1.1 200") and body == b"/a? 2"


def test_head_gets_the_length_without_the_body() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]

    with connected(app) as (sock, _):
        sock.sendall(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")
        data = sock.recv(65536)
        sock.sendall(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection is still in step: no body came
        second = sock.recv(65536)
    assert data.lower().count(b"content-length: 5") == 1 and data.endswith(b"\r\n\r\n"), data
    assert second.startswith(b"HTTP/1.1 200")


def test_an_upgrade_without_a_body_is_answered_as_http_1_1_and_closed() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                     b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
        head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"/a? 0"
        assert b"connection: close" in head.lower() and closed_by_server(sock)


def test_an_upgrade_with_a_body_is_refused_not_cut() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(post("/a", b"{}", b"Connection: Upgrade\r\nUpgrade: h2c\r\n"))
        head, _ = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 400")
    assert app.calls == [], "the app would have seen the request without its body"


@pytest.mark.parametrize(("extra", "status"), [
    (b"Transfer-Encoding: gzip, chunked\r\n", b"501"),
    (b"Transfer-Encoding: gzip\r\n", b"501"),
    (b"Content-Length: 2\r\nContent-Length: 3\r\n", b"400"),
], ids=["gzip-chunked", "gzip", "two-lengths"])
def test_framing_it_cannot_read_is_refused_before_the_app(extra: bytes, status: bytes) -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n2\r\n{}\r\n0\r\n\r\n")
        head, _ = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 " + status), head
    assert app.calls == []


def test_the_environ_has_the_request_as_read() -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(b"POST /a%20b/c?x=1%202 HTTP/1.1\r\nHost: x\r\nX-Seen: 1\r\nX-Seen: 2\r\nX_Seen: spoof\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n1\r\n \r\n0\r\n\r\n")
        read_answer(sock)
    (environ,) = app.calls
    assert environ["PATH_INFO"] == "/a b/c" and environ["QUERY_STRING"] == "x=1%202"
    assert environ["HTTP_X_SEEN"] == "1,2", "a repeated field is joined; X_Seen must not pass for X-Seen"
    assert environ["CONTENT_TYPE"] == "application/json" and "HTTP_CONTENT_TYPE" not in environ
    assert environ["body"] == b"{} " and environ["CONTENT_LENGTH"] == "3"
    assert "HTTP_TRANSFER_ENCODING" not in environ, "the body is handed on dechunked"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


def test_an_app_that_raises_gets_a_500_without_a_traceback() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("secret detail")

    with connected(app) as (sock, base):
        sock.sendall(post("/a", b"{}"))
        head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 500") and b"secret detail" not in head + body
        assert closed_by_server(sock)
        host, port = base.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as again:  # still serving
            again.sendall(post("/a", b"{}"))
            assert read_answer(again)[0].startswith(b"HTTP/1.1 500")


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "READ_TIMEOUT", 0.4)
    monkeypatch.setattr(serving, "WRITE_TIMEOUT", 0.4)
    monkeypatch.setattr(serving, "SWEEP_EVERY", 0.05)
    monkeypatch.setattr(serving, "LOOP_WAKE", 0.05)


@pytest.mark.parametrize("sent", [b"", b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"],
                         ids=["idle", "stalled-body"])
def test_a_connection_without_a_complete_request_is_dropped(quick: None, sent: bytes) -> None:
    app = Echo()
    with connected(app) as (sock, _):
        sock.sendall(sent)
        began = time.monotonic()
        assert closed_by_server(sock)
        assert 0.3 < time.monotonic() - began < 3
    assert app.calls == []


def test_an_answer_the_client_does_not_read_ends_the_connection(quick: None) -> None:
    big = b"x" * (64 * 1024 * 1024)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", str(len(big)))])
        return [big]

    with connected(app) as (sock, _):
        sock.sendall(post("/a", b"{}"))
        time.sleep(1.5)  # past the write timeout, reading nothing
        received = 0
        with pytest.raises(ConnectionResetError):  # aborted: what the kernel still held is not sent either
            while block := sock.recv(1 << 20):
                received += len(block)
        assert received < len(big)


def test_past_the_connection_limit_the_next_client_waits_for_a_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "CONNECTIONS", 3)
    with serve_app(Echo()) as base:
        host, port = base.split("//")[1].split(":")
        held = [socket.create_connection((host, int(port)), timeout=TIMEOUT) for _ in range(3)]
        for sock in held:  # each accepted and served
            sock.sendall(post("/a", b"{}"))
            read_answer(sock)
        with socket.create_connection((host, int(port)), timeout=0.5) as waiting:  # in the kernel's backlog
            waiting.sendall(post("/w", b"{}"))
            with pytest.raises(TimeoutError):
                waiting.recv(1)
            held.pop().close()
            waiting.settimeout(TIMEOUT)
            assert read_answer(waiting)[1] == b"/w? 2"
        for sock in held:
            sock.close()


def test_a_stop_ends_the_server_with_connections_open() -> None:
    server = serving.LoopbackServer(Echo())
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(post("/a", b"{}"))
        read_answer(sock)
        began = time.monotonic()
        server.stop()
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - began < 1
        assert closed_by_server(sock)
