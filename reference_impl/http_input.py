"""Reading a request body the way a careful server does, shared by the reference receiver and registration
server: strict framing, a cap applied before anything is processed, and every malformed body a 4XX.

- Content-Length together with Transfer-Encoding is ambiguous framing (RFC 9112 §6.3, the root of request
  smuggling): 400. A Transfer-Encoding other than ``chunked``, a bad Content-Length or a bad chunk: 400.
- More than ``cap`` bytes, declared or sent (chunked bodies too): 413, and the body is not processed.
- A body that is not UTF-8 JSON, nests too deeply, holds an integer of more digits than Python reads
  (``sys.get_int_max_str_digits``), NaN, or a lone surrogate (``"\\ud800"``, which no UTF-8 can carry): 400.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.wrappers import Request

Refusal = tuple[int, str]


CACHE = "hookproof.body"  # the environ key a body once read is kept under, for a second reader


def read_body(request: Request, cap: int) -> tuple[bytes, None] | tuple[None, Refusal]:
    """The body's bytes, or the status and reason for refusing it.

    It reads the server's own input stream, not werkzeug's ``request.stream``: that one stops at
    ``max_content_length`` without a word for a chunked body, which would then be processed cut short."""
    environ = request.environ
    if CACHE in environ:
        return environ[CACHE], None
    encoding = (environ.get("HTTP_TRANSFER_ENCODING") or "").strip().lower()
    length = environ.get("CONTENT_LENGTH") or ""
    if encoding and length:
        return None, (400, "both Content-Length and Transfer-Encoding: the body's framing is ambiguous")
    if encoding and encoding != "chunked":
        return None, (400, f"Transfer-Encoding {encoding[:40]!r} is not supported; use chunked or Content-Length")
    if length:
        if not length.isdigit():
            return None, (400, f"Content-Length {length[:40]!r} is not a number of bytes")
        if int(length) > cap:
            return None, (413, f"body larger than {cap} bytes")
    want = int(length) if length else (cap + 1 if encoding else 0)
    stream = environ["wsgi.input"]
    data = bytearray()
    try:
        while len(data) < want:
            block = stream.read(min(65536, want - len(data)))
            if not block:
                break
            data += block
    except (ClientDisconnected, HTTPException, OSError, ValueError):
        return None, (400, "the body's framing is malformed (a bad chunk, or the connection closed early)")
    if length and len(data) < want:
        return None, (400, "the connection closed before the body was complete")
    if len(data) > cap:
        return None, (413, f"body larger than {cap} bytes")
    environ[CACHE] = bytes(data)
    return environ[CACHE], None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes) -> tuple[Any, str | None]:
    """The body as JSON, or why it is not: every way a body can fail to parse is the client's error."""
    if not data.strip():
        return None, "the body is empty; expected a JSON object"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"the body is not UTF-8 (byte {exc.start})"
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return None, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:  # NaN / Infinity, or an integer of more digits than Python converts
        return None, f"the body is not valid JSON as read here: {str(exc)[:120]}"
    except RecursionError:
        return None, "the body is not valid JSON: it nests too deeply to parse"
    if "\\u" in text:  # only an escape can make a lone surrogate
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None, "the body holds a lone surrogate escape (\\ud800-\\udfff), which is not a character"
    return body, None
