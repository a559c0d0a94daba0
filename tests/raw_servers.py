"""A bare TCP server on loopback for the tests that need an answer no HTTP server would give (a drip, an
endless header, a broken framing): each connection runs ``behave(conn)`` in a thread of its own, and
``read_request`` reads one request at a time off it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


@contextmanager
def raw_server(behave: Callable[[socket.socket], object]) -> Iterator[int]:
    """Serve until the block ends; yields the port. The connection is closed once ``behave`` returns."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)  # the accept loop looks at ``stop`` this often
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        try:
            behave(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        with suppress(OSError):
            listener.close()


def read_request(conn: socket.socket, buffer: bytearray) -> bytes | None:
    """One whole request off ``conn`` (its head and a Content-Length body), the rest left in ``buffer`` for the
    next; None once the client closed."""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:end]).split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buffer) < end + length:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    request = bytes(buffer[:end + length])
    del buffer[:end + length]
    return request
