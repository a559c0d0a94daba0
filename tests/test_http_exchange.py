"""The checks' HTTP client keeps connections alive only where HTTP/1.1 allows it, sends each request whole, and
reads every framing of an answer within its cap (conformance/http_exchange.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from hookproof.conformance.http_exchange import ANSWER_CAP, HttpSession
from tests.raw_servers import raw_server, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextmanager
def answering(answers: Callable[[int], bytes | None], *, close_after: int | None = None
              ) -> Iterator[tuple[str, list[int], list[bytes]]]:
    """A keep-alive server: the n-th request of the run gets ``answers(n)`` (None: the connection closes
    without an answer); it closes a connection after ``close_after`` requests on it. Yields the URL, the
    number of requests seen per connection, and the requests."""
    per_connection: list[int] = []
    requests: list[bytes] = []
    lock = threading.Lock()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(5)
        with lock:
            per_connection.append(0)
            mine = len(per_connection) - 1
        buffer = bytearray()
        while (request := read_request(conn, buffer)) is not None:
            with lock:
                requests.append(request)
                per_connection[mine] += 1
                number = len(requests)
            answer = answers(number)
            if answer is None:
                return
            conn.sendall(answer)
            if close_after is not None and per_connection[mine] >= close_after:
                return

    with raw_server(serve) as port:
        yield f"http://127.0.0.1:{port}/hook", per_connection, requests


def _send(session: HttpSession, url: str, body: bytes = b"{}", **headers: str) -> tuple[int | None, bytes, str | None]:
    exchange = session.send(url, {"Content-Type": "application/json", **headers}, body)
    return exchange.status, exchange.answer, exchange.error


def test_one_connection_carries_every_request_while_the_answers_allow_it() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: OK) as (url, per_connection, requests):
        assert [_send(session, url) for _ in range(5)] == [(200, b"ok", None)] * 5
    session.close()
    assert per_connection == [5]
    assert requests[0].startswith(b"POST /hook HTTP/1.1\r\n") and b"\r\nContent-Length: 2\r\n" in requests[0]
    assert requests[0].endswith(b"\r\n\r\n{}")


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
], ids=["close", "close-among-tokens", "http-1.0"])
def test_an_answer_that_ends_its_connection_is_the_last_on_it(answer: bytes) -> None:
    session = HttpSession(5.0)
    with answering(lambda n: answer) as (url, per_connection, _):
        assert [_send(session, url)[0] for _ in range(3)] == [200] * 3
    session.close()
    assert per_connection == [1, 1, 1]


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failure() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: OK, close_after=1) as (url, per_connection, _):
        first = _send(session, url)
        deadline = threading.Event()
        deadline.wait(0.1)  # the server's close reaches the kept socket
        assert [first, _send(session, url)] == [(200, b"ok", None)] * 2
    session.close()
    assert per_connection == [1, 1]


def test_a_kept_connection_closed_as_the_request_went_out_is_tried_once_more_on_a_new_one() -> None:
    """The race the idle check cannot see: the server closes the kept connection just as a request arrives."""
    session = HttpSession(5.0)
    with answering(lambda n: None if n == 2 else OK) as (url, per_connection, _):
        assert [_send(session, url) for _ in range(2)] == [(200, b"ok", None)] * 2
    session.close()
    assert per_connection == [2, 1]


def test_a_fresh_connection_closed_without_an_answer_is_a_failure_not_a_retry() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: None) as (url, per_connection, _):
        status, _answer, error = _send(session, url)
    session.close()
    assert status is None and error is not None and error.startswith("closed the connection without answering")
    assert per_connection == [1]


def test_a_chunked_answer_with_trailers_is_read_whole_and_its_connection_kept() -> None:
    chunked = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    session = HttpSession(5.0)
    with answering(lambda n: chunked) as (url, per_connection, _):
        assert [_send(session, url) for _ in range(2)] == [(202, b"abcde", None)] * 2
    session.close()
    assert per_connection == [2]


def test_a_long_answer_is_cut_at_the_cap_and_its_connection_dropped() -> None:
    long = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (ANSWER_CAP * 3) + b"x" * (ANSWER_CAP * 3)
    session = HttpSession(5.0)
    with answering(lambda n: long if n == 1 else OK) as (url, per_connection, _):
        status, answer, error = _send(session, url)
        assert (status, len(answer), error) == (200, ANSWER_CAP, None)
        assert _send(session, url) == (200, b"ok", None)
    session.close()
    assert per_connection == [1, 1]


def test_a_redirect_is_answered_with_its_location_and_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n"
    session = HttpSession(5.0)
    with answering(lambda n: moved) as (url, _, requests):
        exchange = session.send(url, {"Content-Type": "application/json"}, b"{}")
    session.close()
    assert (exchange.status, exchange.location, len(requests)) == (302, "http://127.0.0.1:9/elsewhere", 1)
    assert "redirects are not followed" in exchange.outcome()


def test_a_header_value_with_a_line_break_is_never_sent() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: OK) as (url, _, requests):
        status, _answer, error = _send(session, url, **{"X-Smuggle": "a\r\nX-Other: b"})
    session.close()
    assert status is None and error is not None and error.startswith("was not sent the request")
    assert requests == []


def test_a_non_ascii_header_value_travels_as_utf_8_and_a_given_host_is_not_doubled() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: OK) as (url, _, requests):
        assert _send(session, url, **{"X-Secret": "sécrèt", "Host": "example.test"})[0] == 200
    session.close()
    assert b"\r\nX-Secret: s\xc3\xa9cr\xc3\xa8t\r\n" in requests[0]
    assert requests[0].count(b"Host:") == 1 and b"\r\nHost: example.test\r\n" in requests[0]


def test_a_broken_answer_is_named_in_one_phrase() -> None:
    session = HttpSession(5.0)
    with answering(lambda n: b"garbage\r\n\r\n") as (url, _, _requests):
        exchange = session.send(url, {}, b"{}")
    with answering(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close_after=1) as (url, _, _r):
        cut = session.send(url, {}, b"{}")
    session.close()
    assert exchange.error is not None and exchange.error.startswith("sent what is not an HTTP answer")
    assert cut.error is not None and cut.error.startswith("closed the connection before its answer was complete")


@pytest.mark.parametrize(("given", "named"), [({}, "--response-timeout"), ({"timeout_option": "--timeout"},
                                                                               "--timeout")])
def test_a_stall_names_the_option_that_sets_the_deadline_as_the_caller_spells_it(given: dict[str, str],
                                                                                 named: str) -> None:
    """trigger and replay have --timeout, not run's --response-timeout, which their stalls used to name."""
    with socket.socket() as silent:  # it listens and never answers: the request waits in its backlog
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        session = HttpSession(0.3, **given)
        error = _send(session, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")[2]
        session.close()
    assert error is not None and error.startswith(f"gave no answer within 0.3 s ({named}): it stalled "), error
