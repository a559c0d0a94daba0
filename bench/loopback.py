"""A fast loopback HTTP server in a process of its own, for the benches that measure a client against it."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n"


def _serve(protocol: type[asyncio.Protocol], port_pipe: Any) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0, backlog=1024)
        port_pipe.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def start(protocol: type[asyncio.Protocol], what: str) -> tuple[multiprocessing.process.BaseProcess, int]:
    """Serve ``protocol`` (a module-level class: the child imports it) and return the process and its port; the
    caller kills the process when done."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(protocol, child), daemon=True)
    process.start()
    if not parent.poll(15):
        process.kill()
        raise SystemExit(f"the {what} did not start within 15 s")
    return process, parent.recv()
