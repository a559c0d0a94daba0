"""The reference receiver in a child process of its own (the run without a target): it starts, serves, is
never swept up as a sender command's leftover, ends with the block, and ends with its parent however that ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from hookproof.conformance.bounded_command import run_bounded
from hookproof.conformance.child_server import ChildServerError, child_server

RECEIVER = "hookproof.reference_impl.receiver"
WEBHOOK = '{"action": "updated", "webhook": {"id": "1"}}'


def _deliver(base: str) -> httpx.Response:
    return httpx.post(f"{base}/codewars", content=WEBHOOK, timeout=5, headers={
        "Content-Type": "application/json", "X-Webhook-Event": "webhook", "X-Webhook-Secret": "child-secret"})


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too, but only its parent can reap it; /proc says which
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_the_child_serves_with_the_secret_from_the_environment_and_is_reaped_at_the_end() -> None:
    with child_server(RECEIVER, {"HOOKPROOF_SECRET": "child-secret"}) as base:
        assert base.startswith("http://127.0.0.1:")
        answer = _deliver(base)
        assert answer.status_code == 200 and answer.json()["event"] == "webhook.updated"
        forged = httpx.post(f"{base}/codewars", content=WEBHOOK, timeout=5, headers={
            "Content-Type": "application/json", "X-Webhook-Event": "webhook", "X-Webhook-Secret": "wrong"})
        assert forged.status_code == 403
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        children = [p for p in pids if _parent_of(p) == os.getpid() and "reference_impl.receiver" in _cmdline(p)]
        assert len(children) == 1
        assert "child-secret" not in _cmdline(children[0])  # the secret is not on its command line (ps shows it)
    assert _gone(children[0])
    with pytest.raises(httpx.TransportError):
        _deliver(base)


def test_a_sender_commands_sweep_leaves_the_child_alone() -> None:
    """The sweep after a sender command kills our children that started after it did; the receiver, started
    while a command ran, must not be one of them."""
    outcome: list[object] = []
    command = threading.Thread(target=lambda: outcome.append(
        run_bounded([sys.executable, "-c", "import time; time.sleep(1.5)"], timeout=20)))
    command.start()
    time.sleep(0.3)  # the command runs; the receiver starts after it
    with child_server(RECEIVER, {"HOOKPROOF_SECRET": "child-secret"}) as base:
        command.join(timeout=20)
        assert outcome and getattr(outcome[0], "killed_leftovers", None) == 0
        assert _deliver(base).status_code == 200


def test_a_sender_commands_sweep_leaves_a_plain_child_of_this_process_alone() -> None:
    """A child another thread starts while a command runs, with ``subprocess`` and no session of its own (a
    test's ``subprocess.run``), is this process's own, not an orphan the command left: it stays in this
    session, where nothing a command starts can ever be (seen: ``pytest -n 4`` killed a test's
    ``hookproof validate`` with the sweep of a case still running on that worker)."""
    outcome: list[object] = []
    command = threading.Thread(target=lambda: outcome.append(
        run_bounded([sys.executable, "-c", "import time; time.sleep(1)"], timeout=20)))
    command.start()
    time.sleep(0.3)  # the command runs; the plain child starts after it and outlives it
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        command.join(timeout=20)
        assert outcome and getattr(outcome[0], "killed_leftovers", None) == 0
        assert plain.poll() is None, "the sweep killed a child of this process that the command did not start"
    finally:
        plain.kill()
        plain.wait(timeout=5)


def test_a_child_that_cannot_start_is_one_line_with_its_last_output() -> None:
    with pytest.raises(ChildServerError) as caught, child_server("hookproof.no_such_module", {}):
        pass
    message = str(caught.value)
    assert "exited with status 1" in message and "No module named hookproof.no_such_module" in message
    assert "\n" not in message


def test_a_child_that_never_listens_is_given_up_within_the_bound(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "silent_server.py").write_text("import time\nprint('starting', flush=True)\ntime.sleep(60)\n")
    began = time.monotonic()
    env = {"PYTHONPATH": str(tmp_path)}
    with pytest.raises(ChildServerError, match=r"did not listen within 1 s: starting$"), \
            child_server("silent_server", env, start_timeout=1):
        pass
    assert time.monotonic() - began < 10


def test_the_receiver_ends_when_its_parent_dies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A run killed outright (SIGKILL: no finally runs) still leaves no receiver behind: the pipe on the
    child's standard input closes with the parent, and the child stops serving."""
    parent = tmp_path / "parent.py"
    parent.write_text(textwrap.dedent(f"""
        import os, sys, time
        from hookproof.conformance.child_server import child_server
        with child_server({RECEIVER!r}, {{}}) as base:
            print(base, flush=True)
            time.sleep(60)
    """))
    proc = subprocess.Popen([sys.executable, str(parent)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        port = int(base.rsplit(":", 1)[1])
        child = next(p for p in (int(x) for x in os.listdir("/proc") if x.isdigit())
                     if _parent_of(p) == proc.pid and "reference_impl.receiver" in _cmdline(p))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child), f"the receiver (pid {child}, port {port}) outlived its parent"
        with contextlib.suppress(ChildProcessError):  # reparented to this process where it is a subreaper
            os.waitpid(child, os.WNOHANG)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_a_reference_receiver_that_does_not_start_ends_the_run_with_one_line(pytester: pytest.Pytester,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import hookproof.conformance.child_server as child

    class Refusing:  # started, and then it never listens
        def __init__(self, module: str) -> None:
            self.module = module

        def url(self) -> str:
            raise child.ChildServerError(f"{self.module} exited with status 2: receiver: cannot open --db x")

    @contextlib.contextmanager
    def refuses(module: str, env: object, start_timeout: float = 30) -> Iterator[Refusing]:
        yield Refusing(module)

    # Patched here, not in a conftest of the inner run: the run is in this process, and a conftest's patch would
    # outlast it, failing the next in-process run on this worker.
    monkeypatch.setattr(child, "started_child", refuses)
    result = pytester.runpytest("--pyargs", "hookproof.conformance", "--hookproof-platform", "codewars",
                                "-k", "documented_examples")
    assert result.ret == 3
    out = result.stdout.str() + result.stderr.str()
    assert "hookproof: the reference receiver did not start: hookproof.reference_impl.receiver exited with " \
           "status 2: receiver: cannot open --db x" in out
    assert "Traceback" not in out
