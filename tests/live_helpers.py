"""Starting ``hookproof listen`` as a user does - a process of its own, on a loopback port - and reaping it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_listen(tmp: Path, *args: str, secret: str | None = None, log: str = "listen.log") -> tuple[
        subprocess.Popen[bytes], str, Path]:
    """``hookproof listen --json ...`` with its output in a file (a pipe nobody reads would fill and block it);
    returns the process, its URL and the output file, once it listens."""
    out = tmp / log
    env = {k: v for k, v in os.environ.items() if k != "HOOKPROOF_SECRET"}
    if secret:
        env["HOOKPROOF_SECRET"] = secret
    with out.open("wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "hookproof", "listen", "--json", *args], stdout=handle,
                                stderr=subprocess.STDOUT, env=env, cwd=tmp)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        lines = out.read_bytes().splitlines()
        if lines:
            try:
                return proc, json.loads(lines[0])["listening"], out
            except (ValueError, KeyError):
                stop(proc)
                raise AssertionError(f"listen did not start: {out.read_text()[:500]}") from None
        if proc.poll() is not None:
            raise AssertionError(f"listen exited {proc.returncode}: {out.read_text()[:500]}")
        time.sleep(0.05)
    stop(proc)
    raise AssertionError("listen did not start within 20 s")


def stop(proc: subprocess.Popen[Any]) -> None:
    """Ask a child to end, and kill it if it has not within 10 s: no test leaves one running."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def listening(tmp: Path, *args: str, secret: str | None = None) -> Iterator[tuple[str, Path]]:
    proc, url, out = start_listen(tmp, *args, secret=secret)
    try:
        yield url, out
    finally:
        stop(proc)


def delivery_lines(out: Path) -> list[dict[str, object]]:
    """The JSON line of each delivery (not the banner, a request refused unread, or the closing line)."""
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()[1:] if line.startswith("{")]
    return [line for line in lines if "id" in line]


def damaged_database(path: Path) -> Path:
    """A capture database whose first page is sound and the rest overwritten: SQLite opens it, and fails at
    the first read past that page ("database disk image is malformed")."""
    from hookproof.live.recording import Recording
    from hookproof.live.store import CaptureStore

    store = CaptureStore(str(path))
    for n in range(40):
        rec = Recording(kind="capture", id="", platform="codewars", method="POST", path="/", headers=(),
                        body=b"x" * 2000, auth="unchecked")
        store.add(f"key-{n}", rec, 200, None)
    store.close()
    with path.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xde\xad" * 20000)
    return path
