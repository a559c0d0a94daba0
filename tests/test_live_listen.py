"""``hookproof listen`` end to end: the reference sender delivers to it, it forwards to the reference receiver,
and what it keeps survives a SIGKILL in the middle of a burst."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from hookproof import catalog
from hookproof.live.store import CaptureStore, Stored
from hookproof.reference_impl.backoff import Backoff
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.receiver_store import DeliveryStore
from hookproof.reference_impl.sender import AsyncSender, Job, Sender, SendOptions
from hookproof.reference_impl.serving import serving
from hookproof.wire import encode
from tests.live_helpers import damaged_database, delivery_lines, free_port, listening, start_listen, stop

SECRET = "listen-secret-7"
# A Codewars delivery, for the tests that post one by hand: the documented example and its headers.
RANK_BODY = catalog.contract("codewars").event("user.rank_upgraded").examples[0].body
RANK_HEADERS = catalog.contract("codewars").delivery_headers("user.rank_upgraded")
BURST = 500


def _examples(platform: str, contract: str) -> list[tuple[str, object]]:
    spec = catalog.contract(platform, contract)
    return [(name, ex.body) for name, event in spec.events.items() for ex in event.examples]


def test_deliveries_are_validated_kept_once_and_forwarded(tmp_path: Path) -> None:
    store = DeliveryStore()
    db = tmp_path / "captures.sqlite3"
    with serving(Receiver(store, secrets={"doselect": SECRET})) as base, \
            listening(tmp_path, "--platform", "doselect", "--port", "0", "--db", str(db), "--forward-to",
                      f"{base}/doselect", secret=SECRET) as (url, out):
        sent = _examples("doselect", "2019-09")
        with Sender(SendOptions(max_tries=1)) as sender:
            records = [sender.deliver(url + "hooks", "doselect", name, body, secret=SECRET, contract="2019-09")
                       for name, body in sent]
            assert all(r.delivered for r in records), [r.attempts for r in records]
            # A delivery that breaks its schema, properly signed: kept with its problems, refused with a 4XX.
            bad = {"meta": {"sender": "submission", "action": "submit", "delivery_id": "", "timestamp": ""},
                   "object": {"submission_slug": 7}}
            refused = sender.deliver(url + "hooks", "doselect", None, bad, secret=SECRET, contract="2019-09")
        assert refused.attempts[0].status == 422
        lines = delivery_lines(out)
    assert store.count("doselect") == len(sent)  # every conforming one reached the receiver behind listen
    kept = CaptureStore(str(db)).select()
    assert len(kept) == len(sent) + 1  # each delivery once
    ids = {json.loads(r.body)["meta"]["delivery_id"] for r in kept}
    assert {r.metadata["/meta/delivery_id"] for r in records} <= ids
    good = [r for r in kept if r.conforms]
    assert len(good) == len(sent)
    assert all(r.forward is not None and r.forward.status == 200 and r.auth == "valid" for r in good)
    assert all(r.header("DoSelect-Webhook-Signature") == "***" for r in kept)  # never the signature
    broken = next(r for r in kept if not r.conforms)
    assert any("/object" in p for p in broken.problems) and broken.answer is not None
    assert 400 <= (broken.answer.status or 0) < 500
    assert [line["conforms"] for line in lines] == [True] * len(sent) + [False]
    assert SECRET not in db.read_bytes().decode("latin-1") + out.read_text()


def test_without_a_forward_it_answers_as_a_good_receiver(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), "--max-body", "4096",
                   secret=SECRET) as (url, _):
        body, headers = RANK_BODY, RANK_HEADERS
        ok = httpx.post(url, content=encode(body), headers={**headers, "X-Webhook-Secret": SECRET}, timeout=10)
        again = httpx.post(url, content=encode(body), headers={**headers, "X-Webhook-Secret": SECRET}, timeout=10)
        forged = httpx.post(url, content=encode(body), headers={**headers, "X-Webhook-Secret": "guess"}, timeout=10)
        # the same forgery again is one attempt repeated; another forged value of the same body, another attempt
        httpx.post(url, content=encode(body), headers={**headers, "X-Webhook-Secret": "guess"}, timeout=10)
        other = httpx.post(url, content=encode(body), headers={**headers, "X-Webhook-Secret": SECRET[:4]},
                           timeout=10)
        bare = httpx.post(url, content=encode(body), headers=headers, timeout=10)
        junk = httpx.post(url, content=b"{", headers={**headers, "X-Webhook-Secret": SECRET}, timeout=10)
        new = httpx.post(url, content=encode({**body, "action": "new_action"}),
                         headers={**headers, "X-Webhook-Secret": SECRET}, timeout=10)
        huge = httpx.post(url, content=encode({**body, "padding": "x" * 10_000}),
                          headers={**headers, "X-Webhook-Secret": SECRET}, timeout=10)
    assert (ok.status_code, again.status_code, forged.status_code, other.status_code, bare.status_code,
            junk.status_code, new.status_code, huge.status_code) == (200, 200, 403, 403, 401, 400, 202, 413)
    kept = CaptureStore(str(db)).select()
    assert len(kept) == 7  # the retry is counted on the first capture, each forgery is a capture of its own
    assert kept[0].extra == {"times_received": 2}
    assert [r.auth for r in kept[1:3]] == ["wrong", "wrong"] and kept[1].extra == {"times_received": 2}
    assert kept[2].extra.get("times_received", 1) == 1
    assert kept[5].event == "user.new_action" and not kept[5].conforms
    assert kept[6].body_truncated and kept[6].body == b"" and "larger than 4096 bytes" in kept[6].problems[0]
    assert all(r.header("X-Webhook-Secret") in (None, "***") for r in kept)


def test_requests_that_are_not_one_delivery_are_kept_apart(tmp_path: Path) -> None:
    """Only a true retry is counted on the capture it repeats: not another method, not the same bytes whose
    headers break the contract, and never two bodies refused unread (they have no bytes to compare)."""
    db = tmp_path / "apart.sqlite3"
    body, headers = RANK_BODY, RANK_HEADERS
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), "--max-body", "4096") as (
            url, _):
        def post(content: bytes, **changed: str) -> int:
            return httpx.post(url, content=content, headers={**headers, **changed}, timeout=10).status_code

        answers = [post(encode(body)), post(encode(body)),  # a retry: one capture, received twice
                   post(encode(body), **{"User-Agent": "curl/8"}),  # the same bytes, a header out of contract
                   post(b"x" * 5000), post(b"y" * 6000),  # two bodies too large to read
                   httpx.request("PUT", url, content=encode(body), headers=headers, timeout=10).status_code]
    kept = CaptureStore(str(db)).select()
    assert answers[:2] == [200, 200] and answers[3:5] == [413, 413], answers
    assert [(r.method, r.extra.get("times_received", 1)) for r in kept] == [
        ("POST", 2), ("POST", 1), ("POST", 1), ("POST", 1), ("PUT", 1)], [(r.method, r.extra) for r in kept]
    assert kept[0].conforms and not kept[1].conforms and kept[1].header("User-Agent") == "curl/8"
    assert kept[2].body_truncated and kept[3].body_truncated


def test_escape_sequences_from_the_network_never_reach_the_terminal(tmp_path: Path) -> None:
    """An event name or a body with ESC and OSC sequences is printed with them escaped, by listen's
    line, captures list and captures show (the body keeps its line breaks)."""
    from hookproof.live.listen import Output

    db = tmp_path / "esc.sqlite3"
    body = {**RANK_BODY, "action": "rank\x1b[31mRED\x1b]0;pwned\x07"}
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db)) as (url, _):
        httpx.post(url, content=encode(body), headers=RANK_HEADERS,
                   timeout=10)
        httpx.post(url, content="not json\x1b[31m\nsecond line\x9b1m".encode(), headers={"Content-Type": "text/plain"},
                   timeout=10)
    kept = CaptureStore(str(db)).select()
    assert len(kept) == 2 and "\x1b" in (kept[0].event or "")  # kept as received; escaped only when shown
    printed = io.StringIO()
    output = Output(False, out=printed, err=io.StringIO())
    output.delivery(kept[0], Stored(1, True, 1), 422)
    shown = [subprocess.run([sys.executable, "-m", "hookproof", "captures", *args, "--db", str(db)],
                            capture_output=True, text=True, timeout=60).stdout
             for args in (["list"], ["show", "1"], ["show", "2"])]
    for text in (printed.getvalue(), *shown):
        assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
    assert "rank\\x1b[31mRED\\x1b]0;pwned\\x07" in printed.getvalue() + shown[0]
    assert "not json\\x1b[31m\nsecond line\\x9b1m" in shown[2]  # the body's line break kept


def test_a_request_the_parser_refuses_is_shown_though_not_kept(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite3"
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db)) as (url, out):
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\n{}")
            answer = conn.recv(65536)
        deadline = time.monotonic() + 10
        while "refused" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    refused = [json.loads(line) for line in out.read_text().splitlines() if '"refused"' in line]
    assert len(refused) == 1 and refused[0]["refused"] == "400 Bad Request" and refused[0]["kept"] is False, refused
    assert "malformed request" in refused[0]["reason"] and delivery_lines(out) == []
    assert CaptureStore(str(db)).select() == []


def test_a_secret_in_the_query_string_is_kept_masked(tmp_path: Path) -> None:
    """Some senders are told to put a token in the URL: the path is kept, shown and exported with it masked."""
    db = tmp_path / "q.sqlite3"
    body, headers = RANK_BODY, {**RANK_HEADERS, "X-Webhook-Secret": SECRET}
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), secret=SECRET) as (url, out):
        answers = [httpx.post(f"{url}hook?token={token}&x=1", content=encode(body), headers=headers, timeout=10)
                   for token in (SECRET, "listen-secret%2D7")]  # as given, and percent-encoded
    assert [a.status_code for a in answers] == [200, 200]
    paths = [r.path for r in CaptureStore(str(db)).select()]
    assert paths == ["/hook?token=***&x=1"], paths  # the second is the same delivery, counted on the first
    shown = subprocess.run([sys.executable, "-m", "hookproof", "captures", "show", "1", "--db", str(db)],
                           capture_output=True, text=True, timeout=60)
    assert "/hook?token=***&x=1" in shown.stdout, shown.stdout + shown.stderr
    assert SECRET not in db.read_bytes().decode("latin-1") + out.read_text() + shown.stdout


@pytest.mark.parametrize(("secret", "escaped"), [
    ("Ab/Cd+Ef/Gh12", "Ab\\/Cd+Ef\\/Gh12"),  # as PHP's json_encode writes it
    ("tök€n-secret", "t\\u00f6k\\u20acn-secret"),  # as Python's json.dumps writes it (ensure_ascii)
], ids=["slashes", "ensure_ascii"])
def test_a_json_escaped_secret_in_a_body_is_kept_and_shown_masked(tmp_path: Path, secret: str, escaped: str) -> None:
    """A sender that puts the secret into the body, JSON-escaped: the capture is stored with it masked, and
    ``captures show``, which parses and pretty-prints the body (where it would read as itself), shows none of it."""
    db = tmp_path / "escaped.sqlite3"
    body = encode(RANK_BODY)[:-1] + f', "token": "{escaped}"}}'.encode()
    headers = {**RANK_HEADERS, "X-Webhook-Secret": secret.encode("utf-8")}
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), secret=secret) as (url, out):
        answer = httpx.post(f"{url}hook", content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    env = {**os.environ, "HOOKPROOF_SECRET": secret}
    shown = [subprocess.run([sys.executable, "-m", "hookproof", "captures", "show", "1", "--db", str(db), *json_],
                            capture_output=True, text=True, timeout=60, env=env) for json_ in ([], ["--json"])]
    assert all(s.returncode == 0 for s in shown), [s.stderr for s in shown]
    assert '"token": "***"' in shown[0].stdout, shown[0].stdout
    kept = db.read_bytes().decode("utf-8", "replace") + out.read_text() + shown[0].stdout + shown[1].stdout
    for form in (secret, escaped, json.dumps(escaped)[1:-1]):
        assert form not in kept, form


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_during_a_burst_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    """500 deliveries from the async reference sender; listen is killed with SIGKILL once about a fifth are in,
    and started again on the same port; the sender retries what it lost. Every delivery the sender saw
    answered 2XX must be in the captures."""
    port, db = free_port(), tmp_path / "burst.sqlite3"
    args = ("--platform", "doselect", "--port", str(port), "--db", str(db))
    proc, url, _ = start_listen(tmp_path, *args, log="first.log")
    body = catalog.contract("doselect").event("solution.submit").examples[0].body
    # Retries 0.3, 0.6, 1.2, 2.4 s apart: long enough to outlast a restart, short enough for a bounded test.
    options = SendOptions(backoff=Backoff(base=0.3, factor=2.0, cap=2.4), connect_timeout=2, read_timeout=5,
                          attempt_deadline=8)
    results: list[object] = []

    async def burst() -> None:
        async with AsyncSender(options) as sender:
            jobs = [Job(url, "doselect", "solution.submit", body) for _ in range(BURST)]
            results.extend(await sender.deliver_many(jobs, concurrency=32))

    worker = threading.Thread(target=lambda: asyncio.run(burst()), daemon=True)
    second = None
    try:
        worker.start()
        deadline = time.monotonic() + 30
        while _count(db) < BURST // 5 and time.monotonic() < deadline and worker.is_alive():
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        at_kill = _count(db)
        assert at_kill < BURST, "the burst was over before the kill: the test proved nothing"
        second, _, _ = start_listen(tmp_path, *args, log="second.log")
        worker.join(timeout=40)
        assert not worker.is_alive(), "the burst did not end within its bound"
    finally:
        stop(proc)
        if second is not None:
            stop(second)
    records = [r for r in results if getattr(r, "delivered", False)]
    kept = {json.loads(r.body)["meta"]["delivery_id"] for r in CaptureStore(str(db)).select()}
    acknowledged = {r.metadata["/meta/delivery_id"] for r in records}  # type: ignore[attr-defined]
    assert len(results) == BURST
    assert len(acknowledged) > at_kill  # deliveries went on after the restart
    assert acknowledged <= kept, f"{len(acknowledged - kept)} acknowledged deliveries lost"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_listen_says_what_it_received_and_kept(tmp_path: Path, how: signal.Signals) -> None:
    """Stopped by a signal, ``listen`` ends with exit 0 and a closing line: this session's counts and what the
    database holds, earlier sessions' captures included."""
    db = tmp_path / "c.sqlite3"
    body, headers = RANK_BODY, RANK_HEADERS
    with listening(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db)) as (url, _):
        assert httpx.post(url, content=encode(body), headers=headers, timeout=10).status_code == 200
    proc, url, out = start_listen(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db), log="2.log")
    try:
        statuses = [httpx.post(url, content=content, headers=headers, timeout=10).status_code
                    for content in (encode(body), encode({**body, "user": {"id": 7}}), b"{")]
        proc.send_signal(how)
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
    assert statuses == [200, 422, 400]
    last = json.loads(out.read_text(encoding="utf-8").splitlines()[-1])
    assert last == {"stopped": True, "received": 3, "conforming": 0, "not_conforming": 2, "repeats": 1,
                    "forward_failures": 0, "kept": 3, "db": str(db)}, last
    assert len(delivery_lines(out)) == 3


def test_ctrl_c_pressed_again_during_the_shutdown_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    body = RANK_BODY
    for gap in (0.0, 0.002, 0.01):
        proc, url, out = start_listen(tmp_path, "--platform", "codewars", "--port", "0", "--db", str(db),
                                      log=f"{gap}.log")
        try:
            assert httpx.post(url, content=encode(body), headers=RANK_HEADERS,
                              timeout=10).status_code == 200
            for _ in range(3):
                proc.send_signal(signal.SIGINT)
                time.sleep(gap)
            assert proc.wait(timeout=10) == 0, out.read_text()
        finally:
            stop(proc)
        text = out.read_text()
        assert "Traceback" not in text and json.loads(text.splitlines()[-1])["stopped"] is True, text


def test_the_closing_line_in_words_replaces_the_live_counter() -> None:
    import io

    from hookproof.live.listen import Output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    output = Output(False, out=out, err=err)
    output.counter.received, output.counter.conforming, output.counter.not_conforming = 2, 1, 1
    output.stopped(5, "captures.sqlite3")
    output.close()
    assert out.getvalue() == ("hookproof listen: stopped; received 2 (conforming 1, not conforming 1, repeats 0, "
                              "forward failures 0); 5 kept in captures.sqlite3\n")
    assert err.getvalue() == "\r\x1b[K"  # the counter's line cleared, and no blank line after it


@pytest.mark.parametrize(("args", "message"), [
    (["--platform", "xobin"], "xobin is a registration_api: it sends no deliveries to listen for"),
    (["--platform", "codewars", "--db", "{not_a_db}"], "as a capture database: file is not a database"),
    (["--platform", "codewars", "--db", "{damaged}"], "as a capture database: database disk image is malformed"),
    (["--platform", "codewars", "--db", ""], "--db is empty: name the SQLite file of the captures"),
    (["--platform", "codewars", "--port", "{busy}"], "Address already in use"),
    (["--platform", "codewars", "--forward-to", "ftp://x"], "--forward-to 'ftp://x' is not an http(s) URL"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database, but text long enough to have a header " * 20)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        damaged = damaged_database(tmp_path / "damaged.sqlite3") if "{damaged}" in args else None
        filled = [a.format(not_a_db=not_a_db, busy=busy.getsockname()[1], damaged=damaged) for a in args]
        defaults = [*(["--port", "0"] if "--port" not in args else []), *(["--db", "c.db"] if "--db" not in args
                                                                          else [])]
        result = subprocess.run([sys.executable, "-m", "hookproof", "listen", *defaults, *filled],
                                capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_listener_that_forwards_nothing_starts_without_an_http_client() -> None:
    """httpx is the forwarder's (65 ms of imports): ``hookproof listen`` without ``--forward-to`` does not load it,
    and a forwarder loads it when it sends."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the forward fails at once, and says so
    code = ("import sys\n"
            "from hookproof.live.listen import Forwarder, Listener, Output\n"
            "from hookproof.live.store import CaptureStore\n"
            "Listener('codewars', CaptureStore(':memory:'), Output(as_json=True))\n"
            "print('httpx' in sys.modules)\n"
            f"answer, _, _ = Forwarder('http://127.0.0.1:{port}/', 2.0).send('POST', [], b'{{}}')\n"
            "print('httpx' in sys.modules, answer.status, bool(answer.error))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["False", "True None True"], done.stdout


def test_a_refusal_in_words_is_one_escaped_line() -> None:
    from hookproof.live.listen import Output

    out = io.StringIO()
    Output(False, out=out, err=io.StringIO()).refused("400 Bad Request", "malformed request: bad char \x1b[2J")
    line = out.getvalue()
    assert line.endswith("  refused unread, not kept: 400 Bad Request: malformed request: bad char \\x1b[2J\n"), line
