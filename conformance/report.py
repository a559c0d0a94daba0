"""What a failing check prints: enough to understand and replay the case without reading the suite.

Every failure carries the request that was sent (as a curl command with secrets masked) and the first
bytes of what came back. Secrets are masked here, in one place, so that no check can leak one.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
EXCERPT_BYTES = 300
PAYLOAD_CHARS = 2000


def masked(headers: Mapping[str, str], secret_headers: Iterable[str]) -> dict[str, str]:
    secret = {h.lower() for h in secret_headers}
    return {k: (MASK if k.lower() in secret else v) for k, v in headers.items()}


def redacted_url(url: str) -> str:
    """The URL without user:password, for records and messages."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        netloc = f"***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port out of range: show nothing of the authority rather than guess
        return "(an unparseable URL)"
    return urlunsplit(parts._replace(netloc=netloc))


def scrubbed(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked (a sender may echo it in its output)."""
    return text.replace(secret, MASK) if secret else text


def curl_command(
    url: str, headers: Mapping[str, str], body: bytes, secret_headers: Iterable[str] = (), method: str = "POST"
) -> str:
    """A curl command that replays a request; secret header values are replaced by ``***``."""
    parts = ["curl", "-sS", "-i", "-X", method, shlex.quote(url)]
    for name, value in masked(headers, secret_headers).items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", errors="replace"))]
    return " ".join(parts)


def excerpt(data: bytes | str | None, limit: int = EXCERPT_BYTES) -> str:
    if data is None:
        return "(nothing)"
    if isinstance(data, bytes):
        text = data[:limit].decode("utf-8", errors="replace")
        more = len(data) > limit
    else:
        text, more = data[:limit], len(data) > limit
    return repr(text) + (" ..." if more else "")


class CheckFailure(AssertionError):
    """A conformance check failed. ``str()`` is the whole report, so pytest prints it as is."""

    def __init__(
        self,
        check: str,
        summary: str,
        *,
        platform: str = "",
        event: str = "",
        details: Iterable[str] = (),
        replay: str | None = None,
        payload: str | None = None,
    ):
        self.check, self.summary, self.platform, self.event = check, summary, platform, event
        lines = [f"[{check}] {summary}"]
        if platform:
            lines.append(f"  platform: {platform}" + (f"   event: {event}" if event else ""))
        lines += [f"  {d}" for d in details]
        if payload is not None:
            shown = payload if len(payload) <= PAYLOAD_CHARS else payload[:PAYLOAD_CHARS] + " ..."
            lines.append(f"  payload: {shown}")
        if replay:
            lines.append(f"  replay: {replay}")
        super().__init__("\n".join(lines))
