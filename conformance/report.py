"""What a failing check prints: enough to understand and replay the case without reading the suite.

:class:`CheckFailure` is the one failure type of every check. It is built here, from parts, and every part
goes through :mod:`hookproof.redact` before anything is cut to length, so that no check can leak a secret.
Its ``key`` says what caused it (the check, the platform, the event), for grouping failures of one cause.
"""

from __future__ import annotations

import shlex
from collections.abc import Hashable, Iterable, Mapping

from hookproof import redact
from hookproof.command_line import SECRET_ENV

EXCERPT_BYTES = 300
PAYLOAD_CHARS = 2000


# Characters str.splitlines() and terminals break lines at, which JSON leaves raw: a payload stays one line.
LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


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
    return dict(redact.headers(headers.items(), secret_headers))


def curl_command(url: str, headers: Mapping[str, str], body: bytes, secret_headers: Iterable[str] = (),
                 method: str = "POST", secret_env: str = SECRET_ENV, max_time: float | None = None) -> str:
    """A curl command that replays a request. A header that carries the secret itself reads it from the
    environment variable the suite reads it from (``$HOOKPROOF_SECRET``, or ``secret_env``), so that the command
    works when pasted; one derived from it (a signature) is shown masked, since it is only valid for this
    exact body. ``max_time``: the run's timeout, as curl's ``--max-time`` (curl has none of its own: the replay
    of a request a target never answered would hang the person who pastes it)."""
    parts = ["curl", "-sS", "-i", *(["--max-time", f"{max_time:g}"] if max_time else []), "-X", method,
             shlex.quote(redact.url(url))]
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
                 cause: tuple[Hashable, ...] | None = None, source: str | None = None):
        self.check, self.platform, self.event = check, platform, event
        self.summary = redact.text(summary)
        self.source = redact.text(source) if source else None
        # What caused it, without the check's name: failures of several checks with one cause key are one fault
        # of the implementation seen several times (hookproof.conformance.causes). By default, the failure itself.
        self.cause_key: tuple[Hashable, ...] = cause if cause is not None else (check, platform, event, self.summary)
        # The faults it reports, one title each: itself, or each failing event of a check that met several.
        self.faults: tuple[str, ...] = (self.title,)
        # The requests it is about, as recordings (hookproof.live.recording) for --hookproof-failures to write.
        self.recordings: tuple[object, ...] = ()
        lines = [f"[{check}] {self.summary}"]
        if platform:
            lines.append(f"  platform: {platform}" + (f"   event: {event}" if event else ""))
        lines += [f"  {redact.text(d)}" for d in details]
        if self.source:
            lines.append(f"  rule: {self.source}")
        if payload is not None:
            payload = redact.text(payload).translate(LINE_BREAKS)
            shown = payload if len(payload) <= PAYLOAD_CHARS else payload[:PAYLOAD_CHARS] + " ..."
            lines.append(f"  payload: {shown}")
        if replay:
            lines.append(f"  replay: {replay}")
        super().__init__("\n".join(lines))


    @property
    def title(self) -> str:
        """One line naming the fault: the check that found it, where, and what happened."""
        where = f"{self.platform} {self.event}".strip()
        return f"[{self.check}] {where}: {self.summary}"

    def __reduce__(self) -> tuple[object, ...]:
        """Copied or pickled (Hypothesis and pytest-xdist do both), a failure keeps its fields and its text."""
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))

    def noted(self, line: str) -> CheckFailure:
        """The same failure with one more line at the end (``str()`` is the report)."""
        return _rebuilt(type(self), (f"{self}\n  {redact.text(line)}",), dict(self.__dict__))


def _rebuilt(cls: type[CheckFailure], args: tuple[object, ...], fields: dict[str, object]) -> CheckFailure:
    failure = Exception.__new__(cls)
    failure.args = args
    failure.__dict__.update(fields)
    return failure


def first_check_failure(exc: BaseException) -> CheckFailure | None:
    """The conformance failure in ``exc``, also when Hypothesis wrapped it in a group (a flaky target, or
    several distinct failures while shrinking)."""
    if isinstance(exc, CheckFailure):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = first_check_failure(inner)
        if found is not None:
            return found
    return None


class NotChecked(Exception):
    """A check could not observe what its rule is about; the run says so instead of passing or failing."""
