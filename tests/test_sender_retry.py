"""The reference sender's retry logic as a pure unit: respx answers, an injected sleep records the backoff.

Plus the few things only a socket shows (the per-try deadline against a server that drips its answer, the
byte cap on a long answer) against a raw loopback server, and the command line's handling of bad input.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from hookproof import redact
from hookproof.contract import NO_SOURCE, RetryPolicy, StatusRange
from hookproof.reference_impl.backoff import Backoff, for_policy
from hookproof.reference_impl.sender import AsyncSender, Job, Prepared, Sender, SenderError, SendOptions, prepare
from hookproof.reference_impl.sender_cli import main
from hookproof.reference_impl.sender_plain import PlainSender
from tests.raw_servers import raw_server as serving_raw
from tests.sample_bodies import CODEWARS, DOSELECT, NOW, VIASTO

URL = "http://127.0.0.1:9/hook"  # never reached: respx answers
OPTIONS = SendOptions(backoff=Backoff(base=1.0, factor=2.0, cap=60.0))


def fake_sender(router: respx.Router, sleeps: list[float], options: SendOptions = OPTIONS) -> Sender:
    ids = iter(f"00000000-0000-4000-8000-00000000000{i}" for i in range(10))
    return Sender(options, transport=httpx.MockTransport(router.handler), sleep=sleeps.append,
                  now=lambda: NOW, new_id=lambda: next(ids))


def test_retries_through_errors_until_a_2xx() -> None:
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(side_effect=[httpx.Response(500), httpx.ConnectTimeout("slow"),
                                               httpx.Response(503), httpx.Response(200)])
    record = fake_sender(router, sleeps).deliver(URL, "doselect", None, DOSELECT)
    assert [a.status for a in record.attempts] == [500, None, 503, 200]
    assert record.attempts[1].error == "ConnectTimeout: slow"
    assert record.delivered and route.call_count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_five_tries_at_most_then_gives_up() -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(return_value=httpx.Response(500))
    record = fake_sender(router, sleeps).deliver(URL, "doselect", None, DOSELECT)
    assert len(record.attempts) == 5 and not record.delivered
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_ends_the_delivery(status: int) -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(return_value=httpx.Response(status))
    record = fake_sender(router, sleeps).deliver(URL, "qualified", None, {"event": "assessment.created", "data": {}})
    assert len(record.attempts) == 1 and record.delivered and sleeps == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failed_try_and_is_not_followed(status: int) -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(side_effect=[httpx.Response(status, headers={"Location": "http://127.0.0.1:9/else"}),
                                       httpx.Response(200)])
    elsewhere = router.route(url="http://127.0.0.1:9/else").mock(return_value=httpx.Response(200))
    record = fake_sender(router, sleeps).deliver(URL, "doselect", None, DOSELECT)
    assert [a.status for a in record.attempts] == [status, 200]
    assert not elsewhere.called


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("garbage")])
def test_network_errors_are_failed_tries(error: Exception) -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(side_effect=[error, httpx.Response(204)])
    record = fake_sender(router, sleeps).deliver(URL, "doselect", None, DOSELECT)
    assert [a.ok for a in record.attempts] == [False, True]
    assert record.attempts[0].error.startswith(type(error).__name__)


def test_metadata_is_set_once_and_repeated_on_every_try() -> None:
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(return_value=httpx.Response(500))
    record = fake_sender(router, sleeps).deliver(URL, "doselect", None, DOSELECT)
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert len(bodies) == 5 and all(b == bodies[0] for b in bodies)
    assert bodies[0]["meta"]["delivery_id"] == "00000000-0000-4000-8000-000000000000"
    assert bodies[0]["meta"]["timestamp"] == NOW.isoformat()
    assert bodies[0]["object"] == DOSELECT["object"]
    assert record.metadata == {"/meta/delivery_id": "00000000-0000-4000-8000-000000000000",
                               "/meta/timestamp": NOW.isoformat()}
    assert DOSELECT["meta"]["delivery_id"] == "441cd01e-d82d-485c-95d8-c8c498417649"  # the caller's is untouched


def test_viasto_endpoint_is_the_url_called() -> None:
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(return_value=httpx.Response(200))
    fake_sender(router, sleeps).deliver(URL, "viasto", None, VIASTO)
    sent = json.loads(route.calls[0].request.content)
    assert sent["endpoint"] == URL and sent["time"] == NOW.isoformat() and sent["data"] == VIASTO["data"]
    assert route.calls[0].request.headers["User-Agent"] == "interview suite webhook"


def test_codewars_headers_come_from_the_profile() -> None:
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(return_value=httpx.Response(200))
    sender = fake_sender(router, sleeps)
    sender.deliver(URL, "codewars", "code_challenge.created", CODEWARS, secret="Ünïcode secret")
    sender.deliver(URL, "codewars", "code_challenge.created", CODEWARS)
    with_secret, without = (call.request.headers for call in route.calls)
    assert with_secret["User-Agent"] == "Codewars Hookbot"
    assert with_secret["X-Webhook-Event"] == "code_challenge"
    assert [v for k, v in with_secret.raw if k.lower() == b"x-webhook-secret"] == ["Ünïcode secret".encode()]
    assert with_secret["Content-Type"] == "application/json"
    assert "X-Webhook-Secret" not in without
    assert json.loads(route.calls[0].request.content) == CODEWARS


def test_body_is_utf8_json() -> None:
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(return_value=httpx.Response(200))
    body = {"event": "assessment.created", "data": {"title": "Prüfung ✓ 日本"}}
    fake_sender(router, sleeps).deliver(URL, "qualified", None, body)
    assert "Prüfung ✓ 日本".encode() in route.calls[0].request.content


def test_jitter_never_shortens_a_wait() -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(return_value=httpx.Response(500))
    options = SendOptions(backoff=Backoff(base=1.0, factor=2.0, cap=3.0, jitter=0.9))
    fake_sender(router, sleeps, options).deliver(URL, "doselect", None, DOSELECT)
    assert sleeps == sorted(sleeps) and sleeps[0] >= 1.0 and max(sleeps) <= 3.0


@given(st.floats(0.0, 10.0), st.floats(1.0, 4.0), st.floats(0.0, 100.0), st.floats(0.0, 2.0),
       st.integers(1, 10), st.integers(0, 2**32))
def test_backoff_schedule_is_non_decreasing_and_capped(base: float, factor: float, cap: float, jitter: float,
                                                       retries: int, seed: int) -> None:
    waits = Backoff(base, factor, cap, jitter).schedule(retries, random.Random(seed))
    plain = Backoff(base, factor, cap).schedule(retries)
    assert waits == sorted(waits)
    assert all(w >= p for w, p in zip(waits, plain, strict=True))
    assert all(w <= max(cap, 0.0) for w in waits)


@pytest.mark.parametrize("kwargs", [{"base": -1}, {"factor": 0.5}, {"jitter": -0.1}, {"cap": -1}])
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


# --- the waits follow the contract's policy --------------------------------------------------------------

CONSTANT = RetryPolicy(documented=True, max_tries=4, backoff="constant", source=NO_SOURCE, delay=60.0)


def with_policy(prepared: Prepared, policy: RetryPolicy) -> Prepared:
    return prepared._replace(contract=prepared.contract._replace(retry=policy))


@pytest.mark.parametrize("scale", [1.0, 0.01, 0.0005])
def test_a_constant_policy_waits_its_delay_times_the_scale_each_time(scale: float) -> None:
    assert for_policy(CONSTANT, time_scale=scale).schedule(5) == [60.0 * scale] * 5
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(return_value=httpx.Response(503))
    sender = fake_sender(router, sleeps, SendOptions(time_scale=scale))
    record = sender.deliver_prepared(with_policy(sender.prepare(URL, "doselect", None, DOSELECT, None), CONSTANT))
    assert route.call_count == 4 and not record.delivered
    assert sleeps == pytest.approx([60.0 * scale] * 3)


def test_jitter_does_not_touch_a_constant_wait() -> None:
    assert for_policy(CONSTANT, time_scale=0.1, jitter=0.9).schedule(3, random.Random(1)) == [6.0, 6.0, 6.0]


def test_the_default_waits_are_the_policy_s_scaled() -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(return_value=httpx.Response(500))
    fake_sender(router, sleeps, SendOptions(time_scale=0.02)).deliver(URL, "doselect", None, DOSELECT)
    assert sleeps == pytest.approx([0.02, 0.04, 0.08, 0.16])  # DoSelect's increasing backoff from 1 s, scaled


def test_an_answer_the_policy_does_not_retry_ends_the_delivery() -> None:
    only_5xx = CONSTANT._replace(retry_on=(StatusRange(500, 599),))
    router, sleeps = respx.Router(), []
    route = router.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(400), httpx.Response(200)])
    sender = fake_sender(router, sleeps, SendOptions(time_scale=0.001))
    record = sender.deliver_prepared(with_policy(sender.prepare(URL, "doselect", None, DOSELECT, None), only_5xx))
    assert [a.status for a in record.attempts] == [503, 400] and route.call_count == 2
    assert not record.delivered and record.gave_up == "an answer of 400 is not retried (5XX are)"
    assert sleeps == pytest.approx([0.06])


def test_bad_input_is_refused_before_sending() -> None:
    with pytest.raises(SenderError, match="give --event"):
        prepare(URL, "codewars", None, CODEWARS)
    with pytest.raises(SenderError, match="unknown DoSelect event"):
        prepare(URL, "doselect", "solution.deleted", DOSELECT)
    with pytest.raises(SenderError, match=r"belongs to event 'test-session\.end', not 'solution\.submit'"):
        prepare(URL, "doselect", "solution.submit", DOSELECT)
    with pytest.raises(SenderError, match="unknown platform"):
        prepare(URL, "github", None, DOSELECT)
    with pytest.raises(SenderError, match="not a webhook platform"):
        prepare(URL, "xobin", None, DOSELECT)
    with pytest.raises(SenderError, match="control character"):
        prepare(URL, "codewars", "code_challenge.created", CODEWARS, "a\r\nX-Injected: 1")


def test_record_hides_url_credentials() -> None:
    assert redact.url("https://user:pw@example.com:8443/x?y=1") == "https://***@example.com:8443/x?y=1"
    assert redact.url(URL) == URL


# --- async ---------------------------------------------------------------------------------------------


def test_async_retries_with_the_same_policy() -> None:
    router, sleeps = respx.Router(), []
    router.post(URL).mock(side_effect=[httpx.Response(500), httpx.ConnectTimeout("slow"),
                                       httpx.Response(503), httpx.Response(200)])

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> list:
        async with AsyncSender(OPTIONS, transport=httpx.MockTransport(router.async_handler), sleep=sleep) as sender:
            return (await sender.deliver(URL, "doselect", None, DOSELECT)).attempts

    attempts = asyncio.run(run())
    assert [a.status for a in attempts] == [500, None, 503, 200] and sleeps == [1.0, 2.0, 4.0]


def test_deliver_many_bounds_concurrency_and_keeps_order() -> None:
    in_flight, peak = 0, 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return httpx.Response(200 if json.loads(request.content)["data"]["n"] % 7 else 500)

    async def no_sleep(seconds: float) -> None:
        pass

    jobs = [Job(URL, "qualified", "assessment.created", {"event": "assessment.created", "data": {"n": n}})
            for n in range(60)]

    async def run() -> list:
        async with AsyncSender(transport=httpx.MockTransport(handler), sleep=no_sleep) as sender:
            return await sender.deliver_many(jobs, concurrency=8)

    records = asyncio.run(run())
    assert 1 < peak <= 8
    assert len(records) == 60
    assert [len(r.attempts) for r in records[:8]] == [5, 1, 1, 1, 1, 1, 1, 5]


# --- against a real socket -----------------------------------------------------------------------------


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server whose answer is chosen by the request path: /drip sends its headers one byte
    every 50 ms, /long sends a 200 announcing 100 MB and streams 64 KiB chunks."""
    stop = threading.Event()
    seen: list[str] = []

    def serve(conn: socket.socket) -> None:
        request = conn.recv(65536).decode("latin-1")
        path = request.split(" ", 2)[1]
        seen.append(path)
        if path == "/drip":
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000:
                if stop.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(0.05)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            chunk = b"y" * 65536
            while not stop.is_set():
                conn.sendall(chunk)

    try:
        with serving_raw(serve) as port:
            yield f"http://127.0.0.1:{port}", seen
    finally:
        stop.set()  # ends the answers still being written


DEADLINE = SendOptions(max_tries=1, read_timeout=1.0, attempt_deadline=0.4, max_response_bytes=256 * 1024)


def test_sync_try_ends_at_its_deadline_however_slow_the_drip(raw_server: tuple[str, list[str]]) -> None:
    base, _ = raw_server
    began = time.monotonic()
    with Sender(DEADLINE) as sender:
        record = sender.deliver(f"{base}/drip", "doselect", None, DOSELECT)
    assert time.monotonic() - began < 1.0
    assert record.attempts[0].status is None and "deadline" in record.attempts[0].error


def test_async_try_ends_at_its_deadline_however_slow_the_drip(raw_server: tuple[str, list[str]]) -> None:
    base, _ = raw_server

    async def run():
        async with AsyncSender(DEADLINE) as sender:
            return await sender.deliver(f"{base}/drip", "doselect", None, DOSELECT)

    began = time.monotonic()
    record = asyncio.run(run())
    assert time.monotonic() - began < 1.0
    assert record.attempts[0].status is None and "deadline" in record.attempts[0].error


def test_a_long_answer_is_read_up_to_the_cap(raw_server: tuple[str, list[str]]) -> None:
    base, _ = raw_server
    with Sender(DEADLINE) as sender:
        sync = sender.deliver(f"{base}/long", "doselect", None, DOSELECT).attempts[0]

    async def run():
        async with AsyncSender(DEADLINE) as sender:
            return (await sender.deliver(f"{base}/long", "doselect", None, DOSELECT)).attempts[0]

    for attempt in (sync, asyncio.run(run())):
        assert attempt.ok and attempt.truncated
        assert 256 * 1024 <= attempt.response_bytes < 256 * 1024 + 128 * 1024


def test_the_command_s_sender_ends_a_try_at_its_deadline_and_caps_the_answer(raw_server: tuple[str, list[str]]) -> None:
    """The command line's http.client sender keeps the same bounds as the httpx one."""
    base, _ = raw_server
    began = time.monotonic()
    dripped = PlainSender(DEADLINE).deliver(f"{base}/drip", "doselect", None, DOSELECT).attempts[0]
    assert time.monotonic() - began < 1.0
    assert dripped.status is None and "deadline" in (dripped.error or "")
    long = PlainSender(DEADLINE).deliver(f"{base}/long", "doselect", None, DOSELECT).attempts[0]
    assert long.ok and long.truncated
    assert 256 * 1024 <= long.response_bytes < 256 * 1024 + 128 * 1024


def test_the_command_s_sender_never_follows_a_redirect_and_sends_the_contract_s_headers(httpserver) -> None:
    httpserver.expect_request("/hook").respond_with_data("moved", status=302, headers={"Location": "/elsewhere"})
    httpserver.expect_request("/elsewhere").respond_with_data("ok", status=200)
    sleeps: list[float] = []
    record = PlainSender(OPTIONS, sleep=sleeps.append).deliver(
        httpserver.url_for("/hook"), "codewars", "code_challenge.created", CODEWARS, secret="hush-hush")
    assert [a.status for a in record.attempts] == [302] * 5 and not record.delivered
    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/hook"] * 5
    headers = httpserver.log[0][0].headers
    assert headers["User-Agent"] == "Codewars Hookbot" and headers["X-Webhook-Secret"] == "hush-hush"
    assert headers["X-Webhook-Event"] == "code_challenge" and headers["Content-Type"].startswith("application/json")


# --- the command line ----------------------------------------------------------------------------------


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture
def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(CODEWARS), encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--event-file", "/nonexistent.json", "--platform", "doselect"], "does not exist"),
    (["--platform", "github"], "unknown platform 'github'"),
    (["--platform", "codewars"], "give --event"),
    (["--platform", "codewars", "--event", "code_challenge.deleted"], "unknown Codewars event"),
    (["--platform", "xobin"], "not a webhook platform"),
    (["--platform", "codewars", "--event", "code_challenge.created", "--url", "ftp://x"], "not an http(s) URL"),
    (["--platform", "codewars", "--event", "code_challenge.created", "--backoff-base", "-1"], "must be zero or more"),
    (["--platform", "codewars", "--event", "code_challenge.created", "--time-scale", "0"], "must be a positive"),
    (["--platform", "codewars", "--event", "code_challenge.created", "--time-scale", "1e7"], "time scale"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], message: str, event_file: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    full = ["--url", URL, "--event-file", str(event_file), *args]
    code, out, err = run_cli(full, capsys)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("text", ["{not json", '{"a": NaN}', "\udcff", "[" * 100_000])
def test_cli_refuses_a_file_that_is_not_json(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    code, _, err = run_cli(["--url", URL, "--event-file", str(path), "--platform", "doselect"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_cli_delivers_and_prints_the_record_without_the_secret(httpserver, event_file: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok", status=202)
    code, out, err = run_cli(["--url", httpserver.url_for("/hook"), "--event-file", str(event_file),
                              "--platform", "codewars", "--event", "code_challenge.created",
                              "--secret", "hush-hush", "--backoff-base", "0.01"], capsys)
    assert code == 0, err
    record = json.loads(out)
    assert record["delivered"] and record["attempts"][0]["status"] == 202
    assert "hush-hush" not in out + err
    assert httpserver.log[0][0].headers["X-Webhook-Secret"] == "hush-hush"


def test_cli_exit_1_when_every_try_failed(httpserver, event_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/hook").respond_with_data("no", status=503)
    code, out, _ = run_cli(["--url", httpserver.url_for("/hook"), "--event-file", str(event_file),
                            "--platform", "codewars", "--event", "code_challenge.created",
                            "--backoff-base", "0.001"], capsys)
    assert code == 1 and len(json.loads(out)["attempts"]) == 5
