"""One recorded request, in one file format for every use: a delivery ``hookproof listen`` captured, and a
failing case a conformance run saved with ``--hookproof-failures`` (docs/decisions.md#recording-format).

A recording keeps what a replay needs and nothing it must not: the method, the path, the headers in their
order (a header that carries the secret or a signature of it is kept as ``***``, every known secret masked
in the rest), the body's bytes (as text where they are UTF-8, else base64), the platform, contract and event,
how the request was authenticated (so that a replay can sign it again the same way), what answer it should
get (``expected``, and ``within``: the seconds the answer was held to, where the contract documents how long
its platform waits) and, for a failure, the check, the seed and the answer it got.

The format's version (``VERSION``) changes only when a reader of the old version would misread a file of the
new one; a field added with a default that keeps the old meaning (``within``: absent, no bound but the
replay's ``--timeout``) keeps it, so that every file written before reads as it did.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from hookproof import catalog, plain_http, redact
from hookproof.contract import CatalogError
from hookproof.live.sniff import FORMAT

VERSION = 1
MAX_FILE_BYTES = 12 * 1024 * 1024  # a capped body (1 MiB by default), base64, plus headers: never more
MAX_WITHIN = 86400.0  # a bound on the answer's time longer than a day is not one a platform documents
# How the request was authenticated when it was recorded: with the right secret, none at all, a wrong one
# (a forgery the check made on purpose), or not known (captured without a secret to check it with).
AuthMode = Literal["valid", "none", "wrong", "unchecked"]
AUTH_MODES = ("valid", "none", "wrong", "unchecked")
# What a good receiver answers (receiver_checks' rules): checked by :func:`meets`.
EXPECTATIONS = ("2XX", "4XX", "401/403", "2XX or 4XX", "not 5XX", "not 3XX", "in time")
HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "te", "trailer",
              "upgrade", "proxy-connection", "expect"}


class RecordingError(ValueError):
    """A file that is not a recording hookproof can use; the message names the file and the field."""


@dataclass(frozen=True)
class Answer:
    """What came back: a status, or an error phrase about the target (``refused the connection (...)``)."""

    status: int | None
    elapsed: float = 0.0
    excerpt: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Recording:
    kind: Literal["capture", "failure"]
    id: str
    platform: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    contract: str | None = None
    event: str | None = None
    auth: AuthMode = "unchecked"
    expected: str = "2XX"
    repeat: int = 1  # sent this many times, the last answer judged (a duplicate delivery is sent twice)
    # Seconds a good receiver answers within (the contract's documented timeout, for an ``in time`` failure);
    # None: no bound but the replay's own --timeout (every file written before the field was).
    within: float | None = None
    recorded_at: str = ""
    body_truncated: bool = False
    problems: tuple[str, ...] = ()  # why it does not conform, for a capture that does not
    check: str | None = None
    seed: int | None = None
    origin: str | None = None  # what the body is: a documented example, a generated delivery, a capture
    answer: Answer | None = None
    forward: Answer | None = None
    url: str | None = None  # where it was sent, masked, for the record only: a replay names its own target
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def conforms(self) -> bool:
        return not self.problems

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json_body(self) -> Any:
        """The body as JSON, or None when it is not (a malformed body a check sent on purpose)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {FORMAT: VERSION, **asdict(self)}
        data["headers"] = [list(pair) for pair in self.headers]
        data["problems"] = list(self.problems)
        body = data.pop("body")
        try:
            data["body_text"] = body.decode("utf-8")
        except UnicodeDecodeError:
            data["body_base64"] = base64.b64encode(body).decode("ascii")
        for key in ("answer", "forward", "within"):
            if data[key] is None:
                del data[key]
        if not data["extra"]:
            del data["extra"]
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"

    def file_name(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.id)
        return f"{self.kind}-{safe}.json"


def secret_headers(platform: str) -> set[str]:
    """Every header (lower case) that carries a secret, or a value made from one, in any contract of the platform."""
    try:
        return {h.lower() for spec in catalog.platform(platform).contracts for h in spec.secret_headers}
    except CatalogError:
        return set()


def masked(platform: str, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers as a recording keeps them: secret-bearing ones as ``***``, known secrets masked in the others."""
    return tuple(redact.headers(headers, secret_headers(platform)))


def meets(expected: str, status: int | None, error: str | None) -> bool:
    """Whether an answer is the one a good receiver gives (``in time``: any answer, without an error)."""
    if error is not None:
        return False
    if status is None:
        return False
    family = status // 100
    return {
        "2XX": family == 2,
        "4XX": family == 4,
        "401/403": status in (401, 403),
        "2XX or 4XX": family in (2, 4),
        "not 5XX": family != 5,
        "not 3XX": family != 3,
        "in time": True,
    }.get(expected, False)


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if name not in data:
        if default is ...:
            raise RecordingError(f"{where}: no {name!r}")
        return default
    value = data[name]
    if value is None and default is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):  # True is an int to Python
        raise RecordingError(f"{where}: {name!r} is {type(value).__name__}, not {getattr(kind, '__name__', kind)}")
    return value


def _answer(data: Any, where: str) -> Answer | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise RecordingError(f"{where}: not an object")
    return Answer(_field(data, "status", int, where, None), float(_field(data, "elapsed", (int, float), where, 0.0)),
                  str(_field(data, "excerpt", str, where, "")), _field(data, "error", str, where, None))


def from_json(data: Any, where: str) -> Recording:
    """A recording from its JSON form; :class:`RecordingError` naming ``where`` and the field otherwise."""
    if not isinstance(data, dict) or data.get(FORMAT) is None:
        raise RecordingError(f"{where}: not a hookproof recording (no {FORMAT!r} field)")
    if data[FORMAT] != VERSION:
        raise RecordingError(f"{where}: recording format {data[FORMAT]!r}; this hookproof reads version {VERSION}")
    raw_headers = _field(data, "headers", list, where)
    if not all(isinstance(h, list) and len(h) == 2 and all(isinstance(p, str) for p in h) for h in raw_headers):
        raise RecordingError(f"{where}: 'headers' must be a list of [name, value] pairs of strings")
    if "body_text" in data:
        body = _field(data, "body_text", str, where).encode("utf-8", errors="surrogateescape")
    elif "body_base64" in data:
        try:
            body = base64.b64decode(_field(data, "body_base64", str, where), validate=True)
        except (binascii.Error, ValueError):
            raise RecordingError(f"{where}: 'body_base64' is not base64") from None
    else:
        raise RecordingError(f"{where}: no 'body_text' or 'body_base64'")
    kind = _field(data, "kind", str, where)
    auth_mode = _field(data, "auth", str, where, "unchecked")
    expected = _field(data, "expected", str, where, "2XX")
    if kind not in ("capture", "failure"):
        raise RecordingError(f"{where}: 'kind' is {kind!r}, not 'capture' or 'failure'")
    if auth_mode not in AUTH_MODES:
        raise RecordingError(f"{where}: 'auth' is {auth_mode!r}, not one of {', '.join(AUTH_MODES)}")
    if expected not in EXPECTATIONS:
        raise RecordingError(f"{where}: 'expected' is {expected!r}, not one of {', '.join(EXPECTATIONS)}")
    method = _field(data, "method", str, where)
    if len(method) > 32 or not plain_http.is_token(method):
        raise RecordingError(f"{where}: 'method' is {method[:40]!r}, not an HTTP method (RFC 9110 section 9.1)")
    repeat = _field(data, "repeat", int, where, 1)
    if not 1 <= repeat <= 10:
        raise RecordingError(f"{where}: 'repeat' must be 1 to 10, not {repeat}")
    within = _field(data, "within", (int, float), where, None)
    if within is not None and not 0 < within <= MAX_WITHIN:
        raise RecordingError(f"{where}: 'within' must be more than 0 and at most {MAX_WITHIN:g} seconds, not {within}")
    return Recording(
        kind=kind, id=str(_field(data, "id", (str, int), where)), platform=_field(data, "platform", str, where),
        method=method, path=_field(data, "path", str, where),
        headers=tuple((h[0], h[1]) for h in raw_headers), body=body,
        contract=_field(data, "contract", str, where, None), event=_field(data, "event", str, where, None),
        auth=auth_mode, expected=expected, repeat=repeat, within=None if within is None else float(within),
        recorded_at=_field(data, "recorded_at", str, where, ""),
        body_truncated=bool(_field(data, "body_truncated", bool, where, False)),
        problems=tuple(str(p) for p in _field(data, "problems", list, where, [])),
        check=_field(data, "check", str, where, None), seed=_field(data, "seed", int, where, None),
        origin=_field(data, "origin", str, where, None),
        answer=_answer(data.get("answer"), f"{where}: answer"),
        forward=_answer(data.get("forward"), f"{where}: forward"),
        url=_field(data, "url", str, where, None), extra=_field(data, "extra", dict, where, {}),
    )


def load(path: Path) -> Recording:
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RecordingError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not a recording")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise RecordingError(f"{path}: not JSON ({str(exc)[:100]})") from None
    return from_json(data, str(path))


def load_all(paths: Iterable[str | Path]) -> list[tuple[Path, Recording]]:
    """Every recording in the files and folders given (a folder: its ``*.json`` files, in name order)."""
    out = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(path.glob("*.json"))
            if not files:
                raise RecordingError(f"{path}: a folder with no recording (*.json) in it")
            out += [(f, load(f)) for f in files]
        else:
            out.append((path, load(path)))
    return out


def write(folder: Path, recording: Recording) -> Path:
    """Write one recording into ``folder`` (made if missing); an existing file of that name is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / recording.file_name()
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(recording.dumps(), encoding="utf-8")
    temporary.replace(target)  # a reader never sees half a file
    return target
