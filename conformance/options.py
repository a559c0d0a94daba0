"""The run's command-line options, and the :class:`RunConfig` they make once checked.

Every option is checked here, before anything runs: a bad value is one line naming the option and what is
wrong with it (a :class:`pytest.UsageError`), never a traceback and never a run that checks something else
than what was asked. ``hookproof run`` spells the same options short (:data:`SHORT_OPTIONS`).
"""

from __future__ import annotations

import math
import os
import shlex
import socket
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import pytest

from hookproof import plain_http
from hookproof.command_line import SECRET_ENV, without_values

if TYPE_CHECKING:
    from hookproof.conformance.receiver_checks import ReceiverContext
    from hookproof.conformance.registry import Check, Role
    from hookproof.conformance.run_budget import RunBudget

API_KEY_ENV = "HOOKPROOF_API_KEY"
# run_settings.DEFAULT_EXAMPLES, written again: run_settings imports Hypothesis, which an idle plugin (pytest in
# a project that runs no conformance check) must not pay for (tests/test_idle_plugin.py holds the two equal)
DEFAULT_EXAMPLES = 10
MAX_EXAMPLES = 100_000
# Options with a value, as `hookproof run` spells them short (``--platform``) and pytest long.
SHORT_OPTIONS = ("platform", "contract", "events", "secret", "api-key", "api-key-header", "sender-cmd",
                 "sender-timeout", "sender-jobs", "time-scale", "response-timeout", "examples", "seed", "schemas",
                 "failures", "captures", "report", "max-time")
SHORT_FLAGS = ("shrink",)


def is_short(name: str) -> bool:
    """Whether ``--name`` is ``hookproof run``'s short spelling of ``--hookproof-name``."""
    return name.startswith("--") and name[2:] in (*SHORT_OPTIONS, *SHORT_FLAGS)


@dataclass(frozen=True)
class RunConfig:
    target_url: str | None
    platform: str | None
    contract: str | None
    secret: str | None = field(repr=False)
    api_key: str | None = field(repr=False)
    api_key_header: str | None
    sender_cmd: str | None
    sender_timeout: float
    sender_jobs: int | None
    time_scale: float | None
    response_timeout: float
    examples: int
    seed: int | None
    shrink: bool
    schemas: tuple[str, ...] = ()
    events: frozenset[str] | None = None
    failures: str | None = None  # --hookproof-failures: the folder failing receiver requests are written to
    captures: tuple[tuple[str, Any], ...] = ()  # --hookproof-captures: (file, recording) sent as examples
    # --hookproof-max-time: the whole run's deadline, counted from its configuration (run_budget.py)
    budget: RunBudget | None = field(default=None, repr=False, compare=False)

    @property
    def reference(self) -> bool:
        return not self.target_url and not self.sender_cmd

    @property
    def jobs(self) -> int:
        """How many sender cases run side by side: 4 for the reference sender, one for a user's command unless
        ``--hookproof-sender-jobs`` says (docs/decisions.md#sender-cases)."""
        return self.sender_jobs or (1 if self.sender_cmd else 4)

    @property
    def active_roles(self) -> tuple[Role, ...]:
        from hookproof import catalog

        if self.sender_cmd:
            return ("sender",)
        if self.target_url:
            assert self.platform is not None
            kind = catalog.platform(self.platform).kind
            return ("registration",) if kind == "registration_api" else ("receiver",)
        return ("receiver", "sender", "registration")

    def platforms_for(self, role: Role) -> list[str]:
        from hookproof import catalog

        wanted_kind = "registration_api" if role == "registration" else "webhook"
        if self.platform:
            return [self.platform] if catalog.platform(self.platform).kind == wanted_kind else []
        return list(catalog.platforms(wanted_kind))

    @property
    def shown_target(self) -> str:
        """What is under test, for the summary: never a password in a URL, nor a secret written into the
        command instead of its ``{secret}`` placeholder."""
        from hookproof import redact

        if self.target_url:
            return redact.url(self.target_url)
        if self.sender_cmd:
            return redact.text(f"--hookproof-sender-cmd {self.sender_cmd}")
        return "built-in reference implementations"

    def hypothesis(self) -> Any:
        """The decorator that makes a property deterministic and bounded for this run."""
        from hookproof.conformance.run_settings import runner

        return runner(self.examples, self.seed, self.shrink)

    def applies(self, check: Check, platform: str) -> bool:
        """Whether the platform has what the check is about at all (no item is made where it has not: a
        platform that authenticates nothing has no authentication to check)."""
        from hookproof import catalog

        plat = catalog.platform(platform)
        specs = [plat.contract(self.contract)] if self.contract else list(plat.contracts)
        return not ("auth" in check.needs and not any(s.auth for s in specs))

    def unmet(self, check: Check, platform: str) -> str | None:
        """Why ``check`` cannot run for ``platform`` in this run (and what would make it run), if it cannot."""
        from hookproof import catalog

        plat = catalog.platform(platform)
        specs = [plat.contract(self.contract)] if self.contract else list(plat.contracts)
        captured = any(rec.platform == platform for _, rec in self.captures)
        if "examples" in check.needs and not captured and not any(e.examples for s in specs for e in s.events.values()):
            return f"the {plat.name} documents show no example delivery to send"
        if "auth" in check.needs and not self.secret and not self.reference:
            return (f"no secret given: {plat.name} deliveries can authenticate; pass --hookproof-secret "
                    f"(or set ${SECRET_ENV}) to check that forgeries are refused")
        return None

    def planning_context(self) -> ReceiverContext:
        """A receiver context that sends nothing, for planning what the run's receiver checks will send and
        draw: the same contracts (with a secret, the authenticating ones: the reference run always has one),
        examples, seed and events as the run's."""
        from hookproof.conformance.receiver_checks import ReceiverContext

        return ReceiverContext(url_for=str, session=cast(Any, None), secret=self.secret or (
            "planned" if self.reference else None), examples=self.examples, seed=self.seed, contract=self.contract,
            events=self.events, captures=self.captures)


def add_options(parser: pytest.Parser) -> None:
    """The ``--target-url`` and ``--hookproof-*`` options, in a group of their own."""
    group = parser.getgroup("hookproof", "hookproof webhook conformance (idle unless its checks are collected)")
    group.addoption("--target-url", help="URL of the implementation under test (a webhook receiver, or a "
                    "registration API's base URL). Default: the built-in reference implementations.")
    add = group.addoption
    add("--hookproof-platform", metavar="ID", help="the platform to check (default: all)")
    add("--hookproof-contract", metavar="NAME", help="the platform contract to hold the target to (default: a "
        "receiver gets what any contract may send; a sender is held to the document's)")
    add("--hookproof-events", metavar="E1,E2", help="the events the receiver subscribed to, by any contract's name "
        "(default: all); the receiver checks send only those")
    add("--hookproof-secret", metavar="S", help=f"shared secret or signing key; never printed (default: ${SECRET_ENV}, "
        "which keeps it off the command line)")
    add("--hookproof-api-key", metavar="K", help=f"the registration API's key; never printed (default: ${API_KEY_ENV})")
    add("--hookproof-api-key-header", metavar="H", help="header that carries the API key (default: the contract's)")
    add("--hookproof-sender-cmd", metavar="TEMPLATE", help="check a sender: a command that delivers one event; "
        "placeholders {url} {event_file} {platform} {contract} {event} {secret} {time_scale}")
    add("--hookproof-sender-timeout", metavar="S", default="60", help="seconds one sender command may take (60)")
    add("--hookproof-sender-jobs", metavar="N", help="sender cases run side by side (default 1 for a command of "
        "yours, which may not be safe to run concurrently; 4 for the reference sender)")
    add("--hookproof-time-scale", metavar="F", help="the factor {time_scale} gives your sender for the policy's "
        "waits; the backoff check expects them scaled by it (default 1; the reference sender's run picks its own)")
    add("--hookproof-response-timeout", metavar="S", default="10", help="seconds the target may take to answer one "
        "request (10)")
    from hookproof.conformance import run_budget

    add(run_budget.OPTION, metavar="S", default=f"{run_budget.DEFAULT:g}", help="seconds the whole run may take: past "
        f"them nothing more is sent, and what did not finish is not judged ({run_budget.DEFAULT:g})")
    add("--hookproof-examples", metavar="N", default=str(DEFAULT_EXAMPLES),
        help=f"generated examples per event and check ({DEFAULT_EXAMPLES})")
    add("--hookproof-seed", metavar="N", help="seed generation (default: derandomized, the same every run)")
    add("--hookproof-shrink", action="store_true", help="shrink failing generated cases thoroughly, with Hypothesis "
        "(default: greedily, within 30 requests per failing event)")
    add("--hookproof-schemas", metavar="DIR", action="append", default=[],
        help="a folder of platforms of your own (the layout of hookproof's schemas/), added to or replacing the "
        "built-in ones; repeatable (default: $HOOKPROOF_SCHEMAS)")
    add("--hookproof-failures", metavar="DIR", help="write every failing receiver request into DIR, one file each "
        "(an earlier run's failure files there are removed), for: hookproof replay DIR --target-url URL")
    add("--hookproof-captures", metavar="DIR", action="append", default=[],
        help="recorded deliveries (hookproof captures export DIR, or capture files) that documented_examples sends "
        "too: each must get a 2XX where it conforms; repeatable")
    from hookproof.conformance import html_report

    html_report.add_option(group)


def usage_error(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"hookproof: {message}")


class OneLineUsage:
    """``hookproof run``'s plugin for an option pytest cannot parse (a missing value, a choice it does not
    know): pytest answers with four lines about a program the user did not run (its usage, ``pytest.main():
    error: ...``, the ini file and the root folder); this says what is wrong in one. Its errors and the
    plugin's own spell an option as the user spelled it (``--platform``, not the ``--hookproof-platform`` it
    became). pytest calls ``pytest_cmdline_parse`` for the plugins handed to ``pytest.main`` (its hook
    reference)."""

    def __init__(self, typed: Sequence[str]) -> None:
        self._names = {name for name in (arg.partition("=")[0] for arg in typed) if is_short(name)}

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_parse(self) -> Generator[None, pytest.Config, pytest.Config]:
        try:
            return (yield)
        except pytest.UsageError as exc:
            raise usage_error(self.spelled(self.one_line(str(exc)))) from None

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_main(self) -> Generator[None, object, object]:
        try:
            return (yield)
        except pytest.UsageError as exc:
            raise pytest.UsageError(*(self.spelled(str(arg)) for arg in exc.args)) from None

    @staticmethod
    def one_line(message: str) -> str:
        """The ``error:`` line of pytest's message, or its first line where it has none (the plugin's own
        refusal of unknown arguments, followed by the ini file and root folder). Of arguments it does not
        know, only the option names are repeated: a mistyped ``--secrt=...`` must not print the secret it
        carries."""
        lines = message.splitlines() or [""]
        said = next((line.partition(": error: ")[2] for line in lines if ": error: " in line), lines[0])
        return without_values(said)

    def spelled(self, message: str) -> str:
        for name in self._names:
            message = message.replace(f"--hookproof-{name[2:]}", name)
        return message


def _number(opt: str, text: str | None, *, low: float, high: float, integer: bool = False) -> float | None:
    if text is None:
        return None
    try:  # a whole number stays an int: a seed past 2**53 read as a float was another seed than the one given
        value: float = int(text) if integer else float(text)
    except ValueError:
        raise usage_error(f"{opt} {text!r} is not {'a whole number' if integer else 'a number'}") from None
    if (not integer and not math.isfinite(value)) or not low <= value <= high:
        shown = f"{int(low)} and {int(high)}" if integer else f"{low:g} and {high:g}"
        raise usage_error(f"{opt} must be between {shown}, not {text}")
    return value


def _blank(opt: str, value: str | None, leave_out: str = "to check the reference implementations") -> str | None:
    """A value given but blank is a mistake (an unset CI variable), never a reason to test something else.
    ``leave_out``: what leaving the option out does instead."""
    if value is not None and not value.strip():
        raise usage_error(f"{opt} is empty: give a value, or leave the option out {leave_out}")
    return value


def _writable(opt: str, value: str | None, *, folder: bool) -> str | None:
    """A folder (``--hookproof-failures``) or a file (``--hookproof-report``) the run writes into as it goes or
    at its end, checked before any test: it must be one, or be makeable where the nearest existing folder
    on its way is a writable folder (missing folders are made). Otherwise every check ran and what it found
    for that path was lost to a file in the way."""
    if value is None:
        return None
    path = Path(value)
    try:
        if folder and path.exists() and not path.is_dir():
            raise usage_error(f"{opt} {value!r} is a file, not a folder")
        if not folder and path.is_dir():
            raise usage_error(f"{opt} {value!r} is a folder, not a file")
        nearest = path if folder else path.parent
        while not nearest.exists() and nearest != nearest.parent:
            nearest = nearest.parent
        if not nearest.is_dir():
            raise usage_error(f"{opt} {value!r}: {str(nearest)!r} is a file, not a folder")
        if not os.access(nearest, os.W_OK | os.X_OK):
            raise usage_error(f"{opt} {value!r}: cannot write into {str(nearest)!r}")
    except OSError as exc:
        raise usage_error(f"{opt} {value!r}: {exc.strerror or exc}") from None
    return value


def _events(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def unreachable(url: str, timeout: float) -> str | None:
    from hookproof import redact

    shown = redact.url(url)
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        return f"--target-url {shown!r}: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--target-url {shown!r} is not an http(s) URL"
    try:
        with socket.create_connection((parts.hostname, port), timeout=min(timeout, 5.0)) as sock:
            return _untrusted(sock, parts.hostname, shown) if parts.scheme == "https" else None
    except OSError as exc:
        return f"cannot reach --target-url {shown}: {exc.strerror or exc}"
    except UnicodeError:  # the resolver's IDNA codec rejects hosts such as "a..b"
        return f"--target-url {shown!r}: {parts.hostname!r} is not a valid host name"


def _untrusted(sock: socket.socket, host: str, shown: str) -> str | None:
    """Why an https target's certificate cannot be verified, found by one handshake before any check: every
    request of the run would fail the same way, and a certificate from an internal CA is a setting to change
    (``$SSL_CERT_FILE``), not a failure of the receiver."""
    import ssl

    from hookproof import tls

    try:
        tls.client_context().wrap_socket(sock, server_hostname=host).close()
    except tls.TrustError as exc:
        return f"cannot check --target-url {shown}: {exc}"
    except ssl.SSLCertVerificationError as exc:
        return f"cannot verify the certificate of --target-url {shown}: {exc.verify_message}; {tls.UNTRUSTED_HINT}"
    except (ssl.SSLError, OSError) as exc:
        return f"the TLS handshake with --target-url {shown} failed: {exc.strerror or exc}"
    return None


def _captures(paths: Any, secret: str | None, target_url: str | None) -> tuple[tuple[str, Any], ...]:
    """The recordings of ``--hookproof-captures``; a capture that was authenticated needs a secret to be signed
    again when a target of the user's is checked (the reference receiver's run has one of its own)."""
    from hookproof.live import recording as recordings
    from hookproof.live.replay import ReplayError, prepare

    try:
        found = recordings.load_all(paths)
    except recordings.RecordingError as exc:
        raise usage_error(f"--hookproof-captures: {exc}") from None
    if target_url:
        for path, rec in found:
            try:
                prepare(rec, secret)
            except ReplayError:
                raise usage_error(f"--hookproof-captures: {path} was authenticated, and a capture keeps that masked: "
                                  f"pass --hookproof-secret (or set ${SECRET_ENV}) to sign it again") from None
    return tuple((str(path), rec) for path, rec in found)


def build_config(config: pytest.Config) -> RunConfig:
    from hookproof import catalog, redact
    from hookproof.conformance import run_budget
    from hookproof.conformance.run_budget import RunBudget
    from hookproof.contract import CatalogError

    opt = config.getoption
    target_url = _blank("--target-url", opt("--target-url"))
    sender_cmd = _blank("--hookproof-sender-cmd", opt("--hookproof-sender-cmd"))
    if sender_cmd is not None:
        try:
            if not shlex.split(sender_cmd):
                raise ValueError("no words")
        except ValueError as exc:
            raise usage_error(f"--hookproof-sender-cmd cannot be split like a shell command: {exc}") from None
    given = _blank("--hookproof-secret", opt("--hookproof-secret"), f"(default: ${SECRET_ENV})")
    secret = given or os.environ.get(SECRET_ENV) or None
    if secret is not None and (secret != secret.strip() or any(ord(c) < 32 or ord(c) == 127 for c in secret)):
        raise usage_error("the secret has leading or trailing spaces or control characters: no header can carry it "
                          "as is")
    schemas = tuple(opt("--hookproof-schemas") or ())
    for folder in schemas:
        _blank("--hookproof-schemas", folder, "(default: $HOOKPROOF_SCHEMAS)")
    api_key_header = opt("--hookproof-api-key-header")
    if api_key_header is not None and not plain_http.is_token(api_key_header):
        raise usage_error(f"--hookproof-api-key-header {api_key_header!r} is not a valid HTTP header name")
    examples = _number("--hookproof-examples", opt("--hookproof-examples"), low=1, high=MAX_EXAMPLES, integer=True)
    seed = _number("--hookproof-seed", opt("--hookproof-seed"), low=0, high=2**63, integer=True)
    jobs = _number("--hookproof-sender-jobs", opt("--hookproof-sender-jobs"), low=1, high=16, integer=True)
    run = RunConfig(
        target_url=target_url,
        platform=_blank("--hookproof-platform", opt("--hookproof-platform")),
        contract=_blank("--hookproof-contract", opt("--hookproof-contract")),
        secret=secret,
        api_key=opt("--hookproof-api-key") or os.environ.get(API_KEY_ENV) or None,
        api_key_header=api_key_header,
        sender_cmd=sender_cmd,
        sender_timeout=float(_number("--hookproof-sender-timeout", opt("--hookproof-sender-timeout"), low=0.1,
                                     high=3600) or 60.0),
        sender_jobs=int(jobs) if jobs is not None else None,
        time_scale=_number("--hookproof-time-scale", opt("--hookproof-time-scale"), low=1e-6, high=1000),
        response_timeout=float(_number("--hookproof-response-timeout", opt("--hookproof-response-timeout"),
                                       low=0.1, high=600) or 10.0),
        examples=int(examples or DEFAULT_EXAMPLES),
        seed=int(seed) if seed is not None else None,
        shrink=bool(opt("--hookproof-shrink")),
        schemas=schemas,
        events=_events(_blank("--hookproof-events", opt("--hookproof-events"))),
        failures=_writable("--hookproof-failures", _blank("--hookproof-failures", opt("--hookproof-failures")),
                           folder=True),
        captures=_captures(opt("--hookproof-captures") or (), secret, target_url),
        budget=RunBudget(float(_number(run_budget.OPTION, opt(run_budget.OPTION), low=1, high=7 * 86400)
                               or run_budget.DEFAULT)),
    )
    from hookproof.conformance import html_report

    _writable(html_report.OPTION, _blank(html_report.OPTION, opt(html_report.OPTION), "to write no HTML report"),
              folder=False)
    redact.remember(run.secret, run.api_key)
    if target_url:
        redact.url(target_url)  # remembers a password in it
    try:
        if run.schemas:
            catalog.configure(run.schemas)
        from hookproof.folder_checks import check_user_folders

        check_user_folders(catalog.active())
        known = catalog.platforms()
        if run.platform is not None and run.platform not in known:
            raise usage_error(f"unknown --hookproof-platform {run.platform!r}; known platforms: {', '.join(known)}")
        if run.contract is not None:
            if run.platform is None:
                raise usage_error("--hookproof-contract needs --hookproof-platform: contracts belong to one platform")
            catalog.platform(run.platform).contract(run.contract)
    except CatalogError as exc:
        raise usage_error(str(exc)) from None
    if run.events is not None:
        if run.platform is None:
            raise usage_error("--hookproof-events needs --hookproof-platform: event names belong to one platform")
        known_events = {n for c in catalog.platform(run.platform).contracts for n in c.events}
        unknown = sorted(run.events - known_events)
        if unknown:
            raise usage_error(f"--hookproof-events: {', '.join(unknown)} is not an event of {run.platform} "
                              "(see hookproof list)")
    if run.target_url and not run.platform:
        raise usage_error("--target-url needs --hookproof-platform (one of: " + ", ".join(catalog.platforms()) + ")")
    if run.target_url and run.sender_cmd:
        raise usage_error("--target-url checks a receiver and --hookproof-sender-cmd checks a sender: give one of them")
    kind = catalog.platform(run.platform).kind if run.platform else None
    if run.target_url and kind == "registration_api" and not run.api_key:
        raise usage_error(f"--hookproof-platform {run.platform} checks a registration API, which needs "
                          "--hookproof-api-key")
    if run.sender_cmd and kind == "registration_api":
        raise usage_error(f"--hookproof-sender-cmd checks webhook senders; {run.platform} is a registration API")
    drawn = [pid for pid, folder in catalog.active().folders.platforms.items()
             if folder.origin != "built-in" and run.platform in (None, pid) and catalog.platform(pid).kind == "webhook"]
    if drawn:  # a user's platform: can the run draw its deliveries? (the built-in ones are the tests' to check)
        from hookproof.conformance.generatable import undrawable

        why = undrawable(drawn)
        if why:
            raise usage_error(why)
    return run
