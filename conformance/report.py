"""What a failing check prints: enough to understand and replay the case without reading the suite.

:class:`CheckFailure` is the one failure type of every check. It is built here, from parts, and every part
goes through :mod:`hookproof.redact` before anything is cut to length, so that no check can leak a secret.
Its ``key`` says what caused it (the check, the platform, the event), for grouping failures of one cause.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping

from hookproof import redact

EXCERPT_BYTES = 300
PAYLOAD_CHARS = 2000
SECRET_ENV = "HOOKPROOF_SECRET"


def excerpt(data: bytes | str | None, limit: int = EXCERPT_BYTES) -> str:
    """The first bytes of an answer or body, secrets masked first."""
    if data is None:
        return "(nothing)"
    if isinstance(data, bytes):
        data = redact.data(data)
        text = data[:limit].decode("utf-8", errors="replace")
        more = len(data) > limit
    else:
        data = redact.text(data)
        text, more = data[:limit], len(data) > limit
    return repr(text) + (" ..." if more else "")


def masked_headers(headers: Mapping[str, str], secret_headers: Iterable[str]) -> dict[str, str]:
    """Headers for a report: secret-bearing ones shown as ``***``, the rest with known secrets masked."""
    secret = {h.lower() for h in secret_headers}
    return {k: (redact.MASK if k.lower() in secret else redact.text(v)) for k, v in headers.items()}


def curl_command(url: str, headers: Mapping[str, str], body: bytes, secret_headers: Iterable[str] = (),
                 method: str = "POST", secret_env: str = SECRET_ENV) -> str:
    """A curl command that replays a request. A header that carries the secret itself reads it from the
    environment variable the suite reads it from (``$HOOKPROOF_SECRET``, or ``secret_env``), so that the command
    works when pasted; one derived from it (a signature) is shown masked, since it is only valid for this
    exact body."""
    parts = ["curl", "-sS", "-i", "-X", method, shlex.quote(redact.url(url))]
    hidden = {h.lower() for h in secret_headers}
    for name, value in headers.items():
        if name.lower() in hidden:
            parts += ["-H", f'"{name}: ${secret_env}"' if _is_secret(value) else shlex.quote(f"{name}: {redact.MASK}")]
        else:
            parts += ["-H", shlex.quote(f"{name}: {redact.text(value)}")]
    if body:
        parts += ["--data-binary", shlex.quote(redact.data(body).decode("utf-8", errors="replace"))]
    return " ".join(parts)


def _is_secret(value: str) -> bool:
    return any(value in (secret, redact.text(secret)) for secret in redact.known())


class CheckFailure(AssertionError):
    """A conformance check failed. ``str()`` is the whole report, so pytest prints it as is."""

    def __init__(self, check: str, summary: str, *, platform: str = "", event: str = "",
                 details: Iterable[str] = (), replay: str | None = None, payload: str | None = None,
                 cause: str | None = None, source: str | None = None):
        self.check, self.platform, self.event = check, platform, event
        self.summary = redact.text(summary)
        self.source = redact.text(source) if source else None
        # What caused it, for grouping: two failures with one key are one problem seen twice.
        self.key = (check, platform, event, cause or self.summary)
        lines = [f"[{check}] {self.summary}"]
        if platform:
            lines.append(f"  platform: {platform}" + (f"   event: {event}" if event else ""))
        lines += [f"  {redact.text(d)}" for d in details]
        if self.source:
            lines.append(f"  rule: {self.source}")
        if payload is not None:
            payload = redact.text(payload)
            shown = payload if len(payload) <= PAYLOAD_CHARS else payload[:PAYLOAD_CHARS] + " ..."
            lines.append(f"  payload: {shown}")
        if replay:
            lines.append(f"  replay: {replay}")
        super().__init__("\n".join(lines))


class NotChecked(Exception):
    """A check could not observe what its rule is about; the run says so instead of passing or failing."""
