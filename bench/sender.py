"""Deliveries per second of the reference sender, async and sync, to a loopback sink.

    python bench/sender.py [--deliveries 5000] [--concurrency 64] [--sync-deliveries 1000]

The sink is a minimal HTTP/1.1 server (asyncio, keep-alive, answers 200 with an empty body) in its own
process, so that it does not share the sender's interpreter lock; on two cores each gets one. Every
delivery is a full reference delivery: profile headers, per-delivery metadata (a DoSelect body, so a
fresh ``meta.delivery_id`` and ``meta.timestamp`` each), JSON encoding, a bounded read of the answer and
a delivery record. Only 127.0.0.1 is ever contacted.

The async sender keeps connections alive (up to ``--concurrency``); the sync sender opens one per try,
because its per-try deadline works by shutting the try's own socket down (reference_impl/sender.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import loopback  # bench/loopback.py: run as python bench/..., this folder is on sys.path
from loopback import ANSWER

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout, installed or not

BODY = {"meta": {"sender": "test-session", "action": "end", "timestamp": "2017-10-07T10:41:31.846531+00:00",
                 "delivery_id": "441cd01e-d82d-485c-95d8-c8c498417649"},
        "object": {"report_uri": "https://api.doselect.com/platform/v1/test/k716y/candidates/x@example.com/report",
                   "test_uri": "https://api.doselect.com/platform/v1/test/k716y", "email": "x@example.com",
                   "test_slug": "k016y"}}


class _Sink(asyncio.Protocol):
    """Reads requests (Content-Length bodies only, which is all the sender sends) and answers 200."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.transport.write(ANSWER)


def start_sink() -> tuple[multiprocessing.process.BaseProcess, str]:
    process, port = loopback.start(_Sink, "sink")
    return process, f"http://127.0.0.1:{port}/hook"


def bench_async(url: str, deliveries: int, concurrency: int) -> tuple[float, float, int]:
    from hookproof.reference_impl.sender import AsyncSender, Job, SendOptions

    jobs = [Job(url, "doselect", "test-session.end", BODY) for _ in range(deliveries)]

    async def run() -> tuple[float, float, int]:
        async with AsyncSender(SendOptions()) as sender:
            await sender.deliver_many(jobs[:concurrency], concurrency)  # warm up: imports, caches
            began, cpu = time.perf_counter(), time.process_time()
            records = await sender.deliver_many(jobs, concurrency)
            return time.perf_counter() - began, time.process_time() - cpu, sum(r.delivered for r in records)

    return asyncio.run(run())


def bench_raw_async(url: str, deliveries: int, concurrency: int) -> tuple[float, float, int]:
    """The peer of the async sender: a raw asyncio client, ``concurrency`` keep-alive connections, each sending
    the same pre-encoded request (the DoSelect body, as many bytes as a delivery) and reading the answer's head
    (the sink's answers carry no body). The most asyncio gets out of this sink on this core."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    body = json.dumps(BODY).encode()
    request = (b"POST /hook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (host.encode(), len(body), body))
    left = [deliveries]

    async def worker() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        done = 0
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                await reader.readuntil(b"\r\n\r\n")
                done += 1
        finally:
            writer.close()
        return done

    async def run() -> tuple[float, float, int]:
        began, cpu = time.perf_counter(), time.process_time()
        done = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
        return time.perf_counter() - began, time.process_time() - cpu, done

    return asyncio.run(run())


def bench_sync(url: str, deliveries: int) -> tuple[float, float, int]:
    from hookproof.reference_impl.sender import Sender, SendOptions

    with Sender(SendOptions()) as sender:
        sender.deliver(url, "doselect", "test-session.end", BODY)
        began, cpu = time.perf_counter(), time.process_time()
        delivered = sum(sender.deliver(url, "doselect", "test-session.end", BODY).delivered
                        for _ in range(deliveries))
        return time.perf_counter() - began, time.process_time() - cpu, delivered


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="async deliveries to time (5000)")
    parser.add_argument("--concurrency", type=int, default=64, help="async deliveries in flight (64)")
    parser.add_argument("--sync-deliveries", type=int, default=1000, help="sync deliveries to time (1000)")
    parser.add_argument("--runs", type=int, default=3, help="repeat the measurements, alternating; the best of "
                        "each is reported (3)")
    args = parser.parse_args()
    process, url = start_sink()
    results: dict[str, Any] = {
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
                    "httpx": version("httpx"), "httpcore": version("httpcore"), "sniffio": _installed("sniffio"),
                    "load_average_before": os.getloadavg()[0]},
    }
    measurements = (
        (f"async (concurrency {args.concurrency})", lambda: bench_async(url, args.deliveries, args.concurrency),
         args.deliveries),
        (f"raw asyncio (concurrency {args.concurrency})",
         lambda: bench_raw_async(url, args.deliveries, args.concurrency), args.deliveries),
        ("sync", lambda: bench_sync(url, args.sync_deliveries), args.sync_deliveries),
    )
    best: dict[str, tuple[float, float]] = {}
    try:
        # Runs alternate (ours, the raw client, sync, ours again...), so that a change in what else the machine
        # runs reaches both sides of the ratio rather than one.
        for _ in range(args.runs):
            for name, run, count in measurements:
                elapsed, cpu, delivered = run()
                if delivered != count:
                    raise SystemExit(f"{name}: only {delivered} of {count} deliveries succeeded")
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, cpu)
        for name, _, count in measurements:
            elapsed, cpu = best[name]
            results[name] = {"deliveries": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed),
                             "sender_cpu_us_per_delivery": round(cpu / count * 1e6)}
            print(f"{name:<28} {count:>6} deliveries in {elapsed:6.2f} s = {count / elapsed:6.0f}/s   "
                  f"sender CPU {cpu / count * 1e6:5.0f} us/delivery", flush=True)
    finally:
        process.kill()
        process.join(5)
    ours, raw = (results[f"{kind} (concurrency {args.concurrency})"]["per_second"] for kind in ("async", "raw asyncio"))
    results["async / raw asyncio"] = round(ours / raw, 3)
    print(f"async reference sender / raw asyncio client, same sink, same run: {ours / raw:.1%}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
