"""What the receiver checks carry: deliveries per second against a minimal fast receiver, next to a raw
loopback client to the same receiver in the same run, and the run's time against ``--hookproof-examples``.

    python bench/receiver.py [--platform qualified] [--examples 5 10 50 200] [--raw 5000]

The receiver is a minimal HTTP/1.1 server (asyncio, keep-alive, 200 with an empty body to every delivery) in
a process of its own, so it shares no interpreter lock with the checks; it counts the deliveries and when the
first and the last arrived (``GET /_stats``). The checks run as a user runs them (``pytest --pyargs
hookproof.conformance --target-url ... -k CHECKS``), limited to the checks that expect a 2XX (an always-200
receiver fails the others, which would add shrinking); their rate is deliveries over the time between the
first and the last delivery, so pytest's start-up is not counted against them (it is in the run's time).
The raw client sends the same number of bytes per request over one keep-alive socket, pre-encoded: the
most a Python client on this core gets out of this receiver. Next to it, two client libraries sending the
same body in a loop, the peers a user would write a quick load test with: a plain ``httpx.Client`` (the
issue's first peer) and the standard library's ``http.client`` on one kept-alive connection (what the checks
send over, without their bounds). Only 127.0.0.1 is contacted.

Next to both, the engine's ceiling: Hypothesis' own ``@given(st.integers())`` loop on this core, timed right
after each run (``generation.wall_once``), the most payloads per second any check gets out of Hypothesis on
one core, whatever it sends. Every delivery of the checks is a payload Hypothesis drew (in the run's thread,
or in the process that draws ahead on the other core): where the raw client answers faster than the engine
draws, checks / raw is bounded by engine / raw, and checks / engine says how much of the engine's rate the
checks keep after sending and judging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import generation  # bench/generation.py
import loopback  # bench/loopback.py: run as python bench/..., this folder is on sys.path
from hypothesis import strategies as st
from loopback import ANSWER

ROOT = Path(__file__).resolve().parent.parent
CHECKS = "documented_examples or generated_valid or unknown_properties or duplicate_delivery"
STATS: dict[str, float] = {"count": 0, "first": 0.0, "last": 0.0, "bytes": 0}


class _Receiver(asyncio.Protocol):
    """Content-Length bodies (all the checks send), 200 to each; ``GET /_stats`` answers the counters."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[:end + 4 + length]
            if head.startswith(b"get /_stats"):
                body = json.dumps(STATS).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                continue
            if head.startswith(b"post /_reset"):
                STATS.update(count=0, first=0.0, last=0.0, bytes=0)
            else:
                now = time.monotonic()
                STATS["first"] = STATS["first"] or now
                STATS["last"], STATS["count"], STATS["bytes"] = now, STATS["count"] + 1, STATS["bytes"] + length
            self.transport.write(ANSWER)


def start_receiver() -> tuple[multiprocessing.process.BaseProcess, int]:
    return loopback.start(_Receiver, "receiver")


def _call(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                data.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n\r\n", 1)[1]


def stats(port: int) -> dict[str, float]:
    return json.loads(_call(port, b"GET /_stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))


def reset(port: int) -> None:
    _call(port, b"POST /_reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")


def run_checks(port: int, platform: str, examples: int) -> dict[str, float]:
    """One conformance run of the 2XX checks against the receiver: its wall time and what arrived."""
    reset(port)
    argv = [sys.executable, "-m", "pytest", "--pyargs", "hookproof.conformance", "-q", "-p", "no:randomly",
            "--target-url", f"http://127.0.0.1:{port}/hook", "--hookproof-platform", platform,
            "--hookproof-examples", str(examples), "-k", CHECKS]
    began = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"the checks failed against the minimal receiver:\n{done.stdout[-2000:]}")
    seen = stats(port)
    return {"seconds": seconds, "deliveries": seen["count"], "bytes": seen["bytes"],
            "span": max(seen["last"] - seen["first"], 1e-9)}


def raw_client(port: int, deliveries: int, size: int) -> float:
    """Deliveries/s of pre-encoded requests of ``size`` body bytes over one keep-alive socket."""
    body = _body(size)
    request = (b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        began = time.monotonic()
        for _ in range(deliveries):
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):
                answer += sock.recv(4096)
        return deliveries / (time.monotonic() - began)


def _body(size: int) -> bytes:
    return b'{"pad": "' + b"x" * max(size - 11, 0) + b'"}'


def httpx_client(port: int, deliveries: int, size: int) -> float:
    """Deliveries/s of a plain ``httpx.Client`` posting the same ``size``-byte body (kept alive, as it does)."""
    import httpx

    body, url = _body(size), f"http://127.0.0.1:{port}/hook"
    with httpx.Client(timeout=10, trust_env=False) as client:
        client.post(url, content=body)  # the connection opened before timing
        began = time.monotonic()
        for _ in range(deliveries):
            client.post(url, content=body, headers={"Content-Type": "application/json"})
        return deliveries / (time.monotonic() - began)


def stdlib_client(port: int, deliveries: int, size: int) -> float:
    """Deliveries/s of ``http.client.HTTPConnection`` posting the same body over one kept-alive connection."""
    import http.client

    body = _body(size)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        began = time.monotonic()
        for _ in range(deliveries):
            connection.request("POST", "/hook", body=body, headers={"Content-Type": "application/json"})
            connection.getresponse().read()
        return deliveries / (time.monotonic() - began)
    finally:
        connection.close()


def engine_ceiling(examples: int = 300, repeats: int = 3) -> float:
    """Examples/s of Hypothesis' ``@given(st.integers())`` by the wall clock, best of ``repeats``."""
    generation.wall_once(st.integers(), 5)  # warmed before timing
    return max(seen / seconds for seconds, seen in (generation.wall_once(st.integers(), examples)
                                                    for _ in range(repeats)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", default="qualified", help="the platform whose receiver checks run (qualified)")
    parser.add_argument("--examples", type=int, nargs="+", default=[5, 10, 50, 200],
                        help="--hookproof-examples values to time (5 10 50 200)")
    parser.add_argument("--raw", type=int, default=5000, help="requests the raw client sends (5000)")
    parser.add_argument("--clients", type=int, default=2000,
                        help="requests each client library sends (2000)")
    args = parser.parse_args()
    process, port = start_receiver()
    try:
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; platform {args.platform}; "
              f"checks: {CHECKS}\n")
        print("| --hookproof-examples | deliveries | run wall s | checks deliveries/s | raw client deliveries/s "
              "| checks / raw | httpx.Client /s | checks / httpx | http.client /s | checks / http.client "
              "| engine ceiling examples/s | engine / raw | checks / engine | s per 1,000 deliveries |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for examples in args.examples:
            run = run_checks(port, args.platform, examples)
            checks_rate = run["deliveries"] / run["span"]
            size = int(run["bytes"] / max(run["deliveries"], 1))
            raw = raw_client(port, args.raw, size)  # right after: the same load
            with_httpx, with_stdlib = httpx_client(port, args.clients, size), stdlib_client(port, args.clients, size)
            engine = engine_ceiling()
            print(f"| {examples} | {run['deliveries']:,.0f} | {run['seconds']:.2f} | {checks_rate:,.0f} | {raw:,.0f} "
                  f"| {checks_rate / raw:.1%} | {with_httpx:,.0f} | {checks_rate / with_httpx:.0%} "
                  f"| {with_stdlib:,.0f} | {checks_rate / with_stdlib:.0%} "
                  f"| {engine:,.0f} | {engine / raw:.1%} | {checks_rate / engine:.0%} "
                  f"| {run['span'] / run['deliveries'] * 1000:.2f} |", flush=True)
    finally:
        process.kill()
        process.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
