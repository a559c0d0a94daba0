"""hookproof against hostile peers and careless users: every wait bounded, no false pass, no secret printed,
nothing left running. Each attack is a small server, sender or option here, and each test asserts the bound,
the verdict, and that no secret appears in what a user sees."""

from __future__ import annotations

import json
import os
import resource
import shlex
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest

from hookproof import redact
from hookproof.conformance import bounded_command, receiver_checks
from hookproof.conformance.bounded_command import OUTPUT_TAIL, run_bounded
from hookproof.conformance.http_exchange import HttpSession
from hookproof.conformance.receiver_checks import ReceiverContext
from hookproof.conformance.report import CheckFailure, NotChecked
from hookproof.conformance.sender_harness import Case, SenderHarness, scripted_server
from hookproof.reference_impl.receiver import Receiver
from hookproof.reference_impl.serving import LoopbackServer, serving
from tests.raw_servers import raw_server

SUITE = ("--pyargs", "hookproof.conformance")
SECRET = "hostile-s3cret-Ünï-✓"


def _drain(conn: socket.socket) -> None:
    conn.settimeout(1)
    with suppress(OSError):
        conn.recv(65536)


def drip_headers(conn: socket.socket) -> None:
    _drain(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):  # one byte of an endless header every 0.2 s
        conn.sendall(b"X")
        time.sleep(0.2)


def endless_header(conn: socket.socket) -> None:
    _drain(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    for _ in range(10_000):
        conn.sendall(b"a" * 1024)


# --- a dripping or endless answer costs the deadline, and says which phase stalled -----------------------


@pytest.mark.parametrize("behave", [drip_headers, endless_header], ids=["drip", "endless-header"])
def test_an_answer_that_never_completes_is_cut_at_the_deadline(behave: object) -> None:
    session = HttpSession(1.0)
    with raw_server(behave) as port:
        started = time.monotonic()
        exchange = session.send(f"http://127.0.0.1:{port}/x", {"Content-Type": "application/json"}, b"{}")
        took = time.monotonic() - started
    session.close()
    assert took < 3, took
    assert exchange.status is None and exchange.error is not None
    assert "gave no answer within 1 s" in exchange.error or "closed the connection" in exchange.error
    if behave is drip_headers:
        assert "it stalled before its answer's headers were complete" in exchange.error
        assert "stopped after 1." in exchange.error  # the real elapsed time


def test_a_dripping_receiver_costs_a_run_a_few_deadlines_not_minutes() -> None:
    session = HttpSession(0.5)
    with raw_server(drip_headers) as port:
        ctx = ReceiverContext(lambda _p: f"http://127.0.0.1:{port}/viasto", session, None, examples=3)
        started = time.monotonic()
        for check in (receiver_checks.generated_valid, receiver_checks.answers_in_time, receiver_checks.no_redirect):
            with pytest.raises((CheckFailure, NotChecked)):  # the first fails; the others: not checked because of it
                check(ctx, "viasto")
        assert time.monotonic() - started < 5  # the breaker: three stalls, then nothing more is sent
    session.close()


# --- blank targets and bad option values are usage errors before any test ----------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--target-url", ""], "--target-url is empty"),
    (["--target-url", "   ", "--hookproof-platform", "viasto"], "--target-url is empty"),
    (["--hookproof-sender-cmd", ""], "--hookproof-sender-cmd is empty"),
    (["--hookproof-sender-cmd", "   "], "--hookproof-sender-cmd is empty"),
    (["--hookproof-sender-cmd", 'python "unclosed'], "cannot be split like a shell command"),
    (["--target-url", "http://[::1", "--hookproof-platform", "viasto"], "Invalid IPv6 URL"),
    (["--hookproof-api-key-header", "bad header"], "is not a valid HTTP header name"),
    (["--hookproof-api-key-header", "\u00c4pi-Key"], "is not a valid HTTP header name"),  # a letter, not a token
    (["--hookproof-response-timeout", "nan"], "--hookproof-response-timeout must be between"),
    (["--hookproof-response-timeout", "inf"], "--hookproof-response-timeout must be between"),
    (["--hookproof-sender-timeout", "nan"], "--hookproof-sender-timeout must be between"),
    (["--hookproof-examples", "100000000000"], "--hookproof-examples must be between 1 and 100000"),
    (["--hookproof-examples", "ten"], "--hookproof-examples 'ten' is not a whole number"),
    (["--hookproof-seed", "-1"], "--hookproof-seed must be between 0 and 9223372036854775808, not -1"),
    (["--hookproof-seed", "9" * 400], "--hookproof-seed must be between 0 and"),  # an int too large for a float
    (["--hookproof-secret", " padded "], "leading or trailing spaces"),
    (["--hookproof-platform", "xobin", "--target-url", "", "--hookproof-api-key", ""], "--target-url is empty"),
])
def test_a_blank_or_bad_option_is_one_line_before_any_test(pytester: pytest.Pytester, args: list[str],
                                                           message: str) -> None:
    result = pytester.runpytest(*SUITE, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-500:]
    assert any(message in line for line in result.errlines), result.errlines
    err = result.stderr.str()
    assert "Traceback" not in err and "INTERNALERROR" not in err and "passed" not in result.stdout.str()


def test_validate_never_tracebacks_on_hostile_json(tmp_path: Path) -> None:
    huge = tmp_path / "huge-int.json"
    huge.write_text('{"event": "project_changed", "n": ' + "9" * 5000 + "}")
    lone = tmp_path / "surrogate.json"
    lone.write_text('{"event": "\\ud800", "data": {}}')
    for file, code in ((huge, 2), (lone, 1)):
        result = subprocess.run([sys.executable, "-m", "hookproof", "validate", "--platform", "viasto", str(file)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr


# --- secrets never printed -------------------------------------------------------------------------------


class EchoesInLocation(Receiver):
    """Redirects, putting the secret it was sent into the Location."""

    def handle(self, request):  # type: ignore[no-untyped-def]
        from werkzeug.wrappers import Response

        got = request.headers.get("X-Webhook-Secret", "")
        return Response("", status=302, headers={"Location": f"/moved?secret={got}&again={got}"})


def test_a_secret_in_a_redirects_location_is_masked_in_the_report_and_junit(pytester: pytest.Pytester,
                                                                            tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with serving(EchoesInLocation()) as base:
        result = pytester.runpytest(*SUITE, "--target-url", f"{base}/codewars", "--hookproof-platform", "codewars",
                                    "--hookproof-secret", SECRET, "-k", "no_redirect", f"--junitxml={junit}")
    result.assert_outcomes(failed=1)
    shown = result.stdout.str() + junit.read_text(encoding="utf-8")
    assert "answered 302" in shown
    for piece in (SECRET, SECRET[:8], SECRET.encode("utf-8").decode("latin-1")):
        assert piece not in shown


def test_a_non_ascii_secret_works_end_to_end() -> None:
    session = HttpSession(5.0)
    with serving(Receiver(secrets={"codewars": SECRET})) as base:
        ctx = ReceiverContext(lambda p: f"{base}/{p}", session, SECRET, examples=2)
        receiver_checks.authentication_required(ctx, "codewars")
        receiver_checks.documented_examples(ctx, "codewars")
    session.close()


def test_a_secret_cut_by_the_output_tail_is_masked_whole(tmp_path: Path) -> None:
    """The tail is cut after masking: no prefix of the secret survives the cut."""
    redact.remember(SECRET)
    code = f"import sys; sys.stdout.write({SECRET!r} + 'x' * {OUTPUT_TAIL - 3})"
    with scripted_server() as server:
        harness = SenderHarness(server, f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {{url}}", tmp_path,
                                timeout=20)
        obs = harness.run(Case("accept-200", "viasto", "project_changed", {}, (200,), SECRET, "document", 1.0))
    assert len(obs.stdout) <= OUTPUT_TAIL
    for size in range(4, len(SECRET) + 1):
        assert SECRET[:size] not in obs.stdout and SECRET[-size:] not in obs.stdout


@pytest.mark.parametrize(("given", "kept"), [
    ("/hook?token={s}&x=1", "/hook?token=***&x=1"),
    ("/hook?token={e}", "/hook?token=***"),  # a percent-encoding of its own: the value masked whole
    ("/hooks/{e}/in", "/hooks/***/in"),
    ("/hook?a=b+c&{e}", "/hook?a=b+c&***"),
    ("/hook?plain=1", "/hook?plain=1"),
])
def test_a_request_target_is_kept_without_the_secret_in_any_encoding(given: str, kept: str) -> None:
    redact.remember(SECRET)
    encoded = "".join(f"%{b:02X}" for b in SECRET.encode())  # every byte encoded, as no quote() writes it
    assert redact.target(given.format(s=SECRET, e=encoded)) == kept


def test_an_unreachable_target_never_shows_its_password(pytester: pytest.Pytester) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = pytester.runpytest(*SUITE, "--target-url", f"http://user:pa55w0rd@127.0.0.1:{port}/x",
                                "--hookproof-platform", "viasto")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot reach --target-url http://***@127.0.0.1" in result.stderr.str()
    assert "pa55w0rd" not in result.stderr.str() + result.stdout.str()


# --- the sender harness bounds what it reads and keeps, and leaves nothing running -----------------------


SENDS_A_HUGE_BODY = """
import socket, sys
host, port = sys.argv[1].split("//")[1].split("/")[0].split(":")
path = "/" + sys.argv[1].split("/", 3)[3]
s = socket.create_connection((host, int(port)))
size = 200 * 1024 * 1024
head = f"POST {path} HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
s.sendall((head + f"Content-Length: {size}\\r\\n\\r\\n").encode())
block = b"x" * (1024 * 1024)
try:
    for _ in range(200):
        s.sendall(block)
except OSError:
    pass
print(s.recv(100))
"""


def test_a_huge_body_and_a_flood_of_output_cost_bounded_memory(tmp_path: Path) -> None:
    script = tmp_path / "huge.py"
    script.write_text(SENDS_A_HUGE_BODY)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with scripted_server() as server:
        huge = SenderHarness(server, f"{shlex.quote(sys.executable)} {script} {{url}}", tmp_path, timeout=60)
        obs = huge.run(Case("accept-200", "viasto", "project_changed", {}, (200,), None, "document", 1.0))
        assert obs.tries == [] and obs.strays and "larger than" in str(obs.strays[0].refused)
        flood = SenderHarness(server, "sh -c 'head -c 300000000 /dev/zero | tr \"\\0\" x'", tmp_path, timeout=60)
        loud = flood.run(Case("accept-200", "viasto", "project_changed", {}, (200,), None, "document", 1.0))
        assert len(loud.stdout) <= OUTPUT_TAIL and loud.exit_code == 0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < 200, f"the harness grew by {grown:.0f} MiB"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to find what was left running")
def test_processes_a_sender_leaves_behind_are_killed_and_reported(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = (f"sh -c 'sleep 300 & echo $! >> {pids}; setsid sleep 300 & echo $! >> {pids}; "
               f"(setsid sh -c \"sleep 300 & echo \\$! >> {pids}; wait\" &) ; sleep 0.3'")
    outcome = run_bounded(shlex.split(command), timeout=20)
    left = [int(p) for p in pids.read_text().split()]
    assert len(left) == 3
    # the sweep returns once every process it killed is gone: no wait here
    assert not any(_alive(pid) for pid in left), [pid for pid in left if _alive(pid)]
    assert outcome.killed_leftovers >= 3


def _hanging_with_children(pids: Path) -> list[str]:
    """A command that starts a child in its session and one in a session of its own, then hangs."""
    return shlex.split(f"sh -c 'sleep 300 & echo $! >> {pids}; setsid sleep 300 & echo $! >> {pids}; sleep 300'")


def _written_pids(pids: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [int(p) for p in pids.read_text().split()] if pids.exists() else []
        if len(found) == count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"the command wrote {pids.read_text() if pids.exists() else 'nothing'}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to find what was left running")
def test_a_command_interrupted_by_ctrl_c_ends_with_everything_it_started(tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM, which a run takes as Ctrl-C) while the run waits on a command: the command and the
    processes it started are killed before the interrupt goes on, not left running with init as their parent."""
    pids = tmp_path / "pids"
    threading.Timer(0.5, lambda: (_written_pids(pids, 2), os.kill(os.getpid(), 2))).start()  # SIGINT, as Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        run_bounded(_hanging_with_children(pids), timeout=60)
    left = _written_pids(pids, 2)
    assert not any(_alive(pid) for pid in left), [pid for pid in left if _alive(pid)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to find what was left running")
def test_stopping_the_run_ends_the_commands_other_threads_wait_on(tmp_path: Path) -> None:
    """The sender harness runs cases in threads; when the run ends, its server's stop kills every command still
    running, and each thread's wait returns with what its command left swept up."""
    pids = tmp_path / "pids"
    done: list[bounded_command.Outcome] = []
    waiting = threading.Thread(target=lambda: done.append(run_bounded(_hanging_with_children(pids), timeout=60)))
    waiting.start()
    left = _written_pids(pids, 2)
    bounded_command.stop_commands()
    waiting.join(timeout=15)
    assert done and not done[0].timed_out and done[0].elapsed < 15
    assert not any(_alive(pid) for pid in left), [pid for pid in left if _alive(pid)]


def test_a_child_forked_as_its_parent_is_killed_is_killed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race behind a leftover seen alive under load: the sweep kills a process in a session of its own
    (an orphan of ours) that forks as it dies; its child made a session too, and while the parent is not yet
    gone the child is neither in the command's session nor ours. Its parent names it."""
    me, own = os.getpid(), os.getsid(0)
    command, orphan, child, bystander = 900001, 900002, 900003, 900004
    table = [(orphan, me, 910000, "S", 50),  # killed in round one, still dying
             (child, orphan, 920000, "S", 60),  # forked as it died, in a session of its own
             (bystander, 1, 930000, "S", 70)]  # someone else's
    monkeypatch.setattr(bounded_command, "_processes", lambda: table)
    assert bounded_command._leftovers(command, 10, set()) == ([orphan], False)
    assert bounded_command._leftovers(command, 10, {orphan}) == ([child], True)
    table[0] = (orphan, me, 910000, "Z", 50)
    assert bounded_command._leftovers(command, 10, {orphan, child}) == ([], True)
    assert own not in (910000, 920000, 930000)


# --- the reference servers refuse ambiguous or broken input with a 4XX, and check their database ---------


def _raw_request(base: str, data: bytes) -> bytes:
    host, port = base.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        return s.recv(65536).split(b"\r\n", 1)[0]


def _sized(body: bytes) -> bytes:
    return b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


HEAD = b"POST /codewars HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Webhook-Event: webhook\r\n"
PING = b'{"action": "updated", "webhook": {"id": "1"}}'


@pytest.mark.parametrize(("request_bytes", "status"), [
    (HEAD + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % len(PING)
     + b"%x\r\n" % len(PING) + PING + b"\r\n0\r\n\r\n", b"400"),
    (HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n" + PING + b"\r\n0\r\n\r\n", b"400"),
    (HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + b"%x\r\n" % 700_000 + b"{" * 700_000
     + b"\r\n0\r\n\r\n", b"413"),
    (HEAD + _sized(b'{"action": "updated", "n": ' + b"9" * 500000 + b', "webhook": {"id": "1"}}'), b"400"),
    (HEAD + _sized(b'{"action": "updated", "webhook": {"id": "\\ud800"}}'), b"400"),
], ids=["content-length-and-chunked", "bad-chunk", "chunked-over-cap", "500000-digits", "lone-surrogate"])
def test_the_reference_receiver_answers_broken_framing_and_bodies_with_4xx(request_bytes: bytes,
                                                                           status: bytes) -> None:
    app = Receiver(max_body=600_000)
    with serving(app) as base:
        line = _raw_request(base, request_bytes)
    assert status in line, line
    assert app.store.count() == 0, "nothing of a refused request is processed"


def test_the_reference_servers_bound_their_threads_and_drop_stalled_bodies() -> None:
    """Many stalled bodies hold a bounded pool, and the server still answers once they are dropped."""
    before = threading.active_count()
    with serving(Receiver()) as base:
        host, port = base.split("//")[1].split(":")
        stalled = []
        for _ in range(300):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(HEAD + b"Content-Length: 1000\r\n\r\n{")
            stalled.append(s)
        time.sleep(0.5)
        assert threading.active_count() - before < 80
        for s in stalled:
            s.close()
        line = _raw_request(base, HEAD + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(PING) + PING)
    assert b"200" in line


def test_a_stop_that_comes_as_the_loop_closes_leaves_its_descriptors_alone() -> None:
    """stop() sets the flag and wakes the loop through its pipe; a loop that saw the flag at its own wake-up
    may have closed everything by then. Writing to the closed pipe raised EBADF (seen under ``pytest -n 6``)
    and could have written into a descriptor the process had reused meanwhile."""
    server = LoopbackServer(Receiver())
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    server._stopping.set()  # what stop() does first; the loop notices within its wake-up interval and closes
    thread.join(timeout=5)
    assert not thread.is_alive()
    server.stop()  # the rest of stop(), coming just then


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page in the middle
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("server", ["receiver", "registration"])
def test_a_foreign_or_damaged_database_is_one_line_and_exit_2(tmp_path: Path, server: str) -> None:
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    damaged = tmp_path / "damaged.sqlite3"
    with sqlite3.connect(damaged) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 100)
    _corrupt(damaged)
    extra = ["--api-key", "k-123456"] if server == "registration" else []
    for db, message in ((foreign, "not made by"), (damaged, "")):
        result = subprocess.run([sys.executable, "-m", f"hookproof.reference_impl.{server}", "--port", "0", "--db",
                                 str(db), *extra], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and message in result.stderr


def test_the_registration_server_refuses_a_truncated_chunked_update(tmp_path: Path) -> None:
    from hookproof.reference_impl.registration import make_app, store_for

    store = store_for(tmp_path / "s.sqlite3")
    key = "k-123456"
    body = json.dumps({"webhooks": {"start": {"status": True, "url": "https://h.example/s"}}}).encode()
    with serving(make_app(store, key)) as base:
        head = (b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: k-123456\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        cut = head + b"%x\r\n" % len(body) + body[:-10]
        host, port = base.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(cut)
            s.shutdown(socket.SHUT_WR)
            line = s.recv(65536).split(b"\r\n", 1)[0]
        assert b"400" in line
        assert b"400" in _raw_request(base, head + b"QQ\r\n" + body + b"\r\n0\r\n\r\n")
    assert store.snapshot().settings == {}, "a truncated update changes nothing"


def test_the_harness_process_is_not_left_with_zombies(tmp_path: Path) -> None:
    outcome = run_bounded(["sh", "-c", "sleep 0.1 & exit 0"], timeout=10)
    time.sleep(0.3)
    assert outcome.exit_code == 0
    children = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                and (p / "stat").exists() and _ppid_state(p) == (os.getpid(), "Z")]
    assert children == []


def _ppid_state(proc: Path) -> tuple[int, str]:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return (0, "")
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]), fields[0]


def test_a_seed_past_a_doubles_precision_is_the_seed_given() -> None:
    from hookproof.conformance.options import _number

    given = 2**63 - 1  # a float would have made it 2**63: another seed, and a failure that does not reproduce
    assert _number("--hookproof-seed", str(given), low=0, high=2**63, integer=True) == given
