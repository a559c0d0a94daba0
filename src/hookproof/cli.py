"""The ``hookproof`` command: validate a captured delivery, list the catalog, export the schemas, or run the suite.

Exit codes: 0 conforms (or the command did its job), 1 does not conform, 2 bad input (a missing file, not
JSON, an unknown platform, contract or event, a delivery whose event header is missing). Bad input is one
line on stderr, never a traceback. ``hookproof run`` passes pytest's own exit codes through.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hookproof import catalog, redact
from hookproof.command_line import SECRET_ENV, OneLineParser
from hookproof.contract import CatalogError

MAX_FILE_BYTES = 10 * 1024 * 1024


class InputError(Exception):
    """Something the user gave cannot be used; the message says what."""


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise InputError(f"--header {text!r} is not of the form 'Name: value'")
    return name.strip(), value.strip()


def _read_bytes(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    else:
        file = Path(path)
        if not file.is_file():
            kind = "no such file" if not file.exists() else "not a regular file (a device or a pipe)"
            raise InputError(f"{path}: {kind}; give the body as a file, or '-' for standard input")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = file.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(path: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN, Infinity; or an integer past Python's digit limit
        raise InputError(f"{path}: not JSON as hookproof reads it: {str(exc)[:120]}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None


def _configure(args: argparse.Namespace) -> None:
    if any(not folder.strip() for folder in args.schemas):  # an unset variable, never "no folder of mine"
        raise InputError("--schemas is empty: give a folder of platforms, or leave the option out (default: "
                         "$HOOKPROOF_SCHEMAS)")
    from hookproof.folder_checks import check_user_folders

    try:
        check_user_folders(catalog.configure(args.schemas or None))
    except CatalogError as exc:
        raise InputError(str(exc)) from None


def _validate_secret(args: argparse.Namespace) -> str | None:
    """The secret ``validate`` checks authentication with: asked for and not there is bad input, never a
    verdict that quietly checks no authentication (docs/decisions.md#blank-options)."""
    if args.secret is not None and args.secret_env:
        raise InputError(f"give the secret with --secret or with --secret-env (${SECRET_ENV}), not both")
    if args.secret_env:
        secret = os.environ.get(SECRET_ENV)
        if secret is None or not secret.strip():
            raise InputError(f"--secret-env: ${SECRET_ENV} is {'not set' if secret is None else 'empty'}; set it to "
                             "the secret, or leave --secret-env out to check no authentication")
        return secret
    if args.secret is not None and not args.secret.strip():
        raise InputError("--secret is empty: give the secret, or leave the option out to check no authentication")
    return args.secret


def cmd_validate(args: argparse.Namespace) -> int:
    from hookproof import validation
    from hookproof.auth import as_received
    from hookproof.live.sniff import is_recorded

    _configure(args)
    # Typed as text, sent as UTF-8: read as a receiver reads them, as a recorded request's headers are.
    headers = as_received(dict(_parse_header(h) for h in args.header))
    secret = _validate_secret(args)
    redact.remember(secret)
    if is_recorded(args.file):  # a capture, a folder of them, or a raw HTTP request: headers included
        from hookproof.live import live_cli

        return live_cli.cmd_validate_recorded(args, secret)
    if not args.platform:
        raise InputError(f"{args.file}: a body names no platform: give --platform")
    try:
        plat = catalog.platform(args.platform)
        specs = [plat.contract(args.contract)] if args.contract else list(plat.contracts)
        if args.event and not any(args.event in spec.events for spec in specs):
            specs[0].event(args.event)  # raises, naming the events there are
    except CatalogError as exc:
        raise InputError(str(exc)) from None
    data = _read_bytes(args.file)
    body = _parse_json(args.file, data)
    try:
        verdict = validation.validate(args.platform, body, headers, event=args.event, contract=args.contract,
                                      strict=args.strict, content=data, secret=secret)
    except CatalogError as exc:
        raise InputError(str(exc)) from None
    if verdict.missing_header:
        raise InputError(f"{args.file}: the {plat.name} event name travels in the {verdict.missing_header} header; "
                         f"give it with --header '{verdict.missing_header}: ...'")
    contract = plat.contract(verdict.contract) if verdict.contract else plat.base
    label = f"{plat.id} {verdict.event}" if verdict.event else plat.id
    strict = " (strict)" if args.strict else ""
    if verdict.ok:
        print(f"{args.file}: conforms to {label}{strict}, contract {contract.name} ({contract.title})")
        if verdict.base_name:
            print(f"  the document spells this event {verdict.base_name}")
        if contract.auth and not verdict.auth_checked:
            headers_named = ", ".join(h for scheme in contract.auth for h in scheme.headers)
            print(f"  authentication ({headers_named}) not checked: give the secret with --secret-env")
        return 0
    print(f"{args.file}: does not conform to {label}{strict}, contract {contract.name}")
    for problem in verdict.problems:
        print(f"  {redact.text(str(problem))}")
    if verdict.accepted_by:
        print(f"  contract {', '.join(verdict.accepted_by)} of {plat.id} accepts it (leave out --contract, or name it)")
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    _configure(args)
    ids = [args.platform] if args.platform else list(catalog.platforms())
    for platform_id in ids:
        try:
            plat = catalog.platform(platform_id)
        except CatalogError as exc:
            raise InputError(str(exc)) from None
        print(f"{plat.id}  ({plat.name}, {plat.kind})")
        for spec in plat.contracts:
            based = f", based on {spec.based_on}" if spec.based_on else ""
            print(f"  contract {spec.name}: {spec.title}{based}")
            if spec.document:
                print(f"    source: {spec.document}")
            for name, ev in spec.events.items():
                renamed = f"  (the document's {ev.base_name})" if ev.base_name else ""
                print(f"    {name:<40} examples: {len(ev.examples)}{renamed}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from hookproof.export import export

    _configure(args)
    if not args.dir.strip():  # Path("") is the current folder: an unset variable must not write the set there
        raise InputError("the folder to write to is empty: name a folder (an unset variable?)")
    if Path(args.dir).exists() and not Path(args.dir).is_dir():
        raise InputError(f"{args.dir} is a file, not a folder; choose an empty folder")
    try:
        if args.format != "jsonschema" or args.bundle:
            return cmd_export_described(args)
        written = export(Path(args.dir), strict=args.strict)
    except FileExistsError as exc:
        raise InputError(f"{exc}; choose an empty folder") from None
    except OSError as exc:
        raise InputError(f"cannot write to {args.dir}: {exc.strerror or exc}") from None
    variant = "strict variant" if args.strict else "schema set"
    print(f"wrote the {variant} to {args.dir} ({len(written)} files)")
    return 0


def cmd_export_described(args: argparse.Namespace) -> int:
    """``export --bundle`` and ``export --format openapi|asyncapi``: one file per platform contract."""
    from hookproof.export import export_described

    try:
        written = export_described(Path(args.dir), args.format, strict=args.strict, bundled=args.bundle)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    except CatalogError as exc:
        raise InputError(str(exc)) from None
    what = {"jsonschema": "bundled schemas", "openapi": "OpenAPI 3.1 documents", "asyncapi": "AsyncAPI 3.0 documents"}
    print(f"wrote the {what[args.format]}{' (strict)' if args.strict else ''} to {args.dir} ({len(written)} files, "
          "one per platform contract)")
    return 0


def pytest_arguments(extra: Sequence[str]) -> list[str]:
    """``hookproof run``'s short spellings (``--platform P``, ``--secret=S``) as the plugin's options."""
    from hookproof.conformance.options import is_short

    out = []
    for arg in extra:
        name, eq, value = arg.partition("=")
        if is_short(name):
            arg = f"--hookproof-{name[2:]}" + (eq + value if eq else "")
        out.append(arg)
    return out


# pytest plugins that other packages register, which serve a project's own tests (fixtures, markers, options)
# and which no conformance check uses; each is imported at every start of a run where it is installed. anyio
# comes with httpx and imports asyncio (65 ms); respx imports httpx and unittest.mock, pytest-httpserver
# werkzeug, typeguard itself: 130-200 ms of a run's start-up together where a project has them
# (docs/performance.md). Left out by name, so that every other plugin a user has still loads.
UNUSED_PLUGINS = ("anyio", "respx", "pytest_httpserver", "typeguard")


def cmd_run(extra: list[str], ends_the_process: bool = False) -> int:
    """``ends_the_process``: the process ends with the run, so the collector stays tuned to its end
    (``hookproof.conformance.collector``)."""
    if ends_the_process:  # first, before pytest's imports: a signal from now on is noted, not a half-made import
        from hookproof.conformance import interrupt

        interrupt.for_a_conformance_run()
    import pytest

    from hookproof.conformance import collector
    from hookproof.conformance.options import OneLineUsage

    if ends_the_process:
        collector.until_the_process_ends()
    arguments = pytest_arguments(extra)
    # The checks judge with CheckFailure, not with assert statements, so pytest's assertion rewriting buys the
    # run nothing; it costs one: pytest rewrites every module of every distribution that registers a pytest
    # plugin (Hypothesis' hundred and more) and, where PYTHONDONTWRITEBYTECODE is set, at every start (2.5 s).
    plain = [] if any(a == "--assert" or a.startswith("--assert=") for a in arguments) else ["--assert=plain"]
    unused = [word for name in UNUSED_PLUGINS for word in ("-p", f"no:{name}")]
    return int(pytest.main(["--pyargs", "hookproof.conformance", "-p", "no:cacheprovider", *unused, *plain,
                            *_grouped(arguments)], plugins=[OneLineUsage(extra)]))


def _grouped(arguments: list[str]) -> list[str]:
    """With ``-n``, keep each platform's checks of a role on one worker, where its root causes are known."""
    parallel = any(a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses=")) for a in arguments)
    chosen = any(a == "--dist" or a.startswith("--dist=") for a in arguments)
    return [*arguments, "--dist", "loadgroup"] if parallel and not chosen else arguments


def _add_schemas(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schemas", action="append", default=[], metavar="DIR",
                   help="a folder of platforms of your own, added to or replacing the built-in ones (repeatable; "
                   "default: $HOOKPROOF_SCHEMAS)")


live_commands: dict[str, Any] = {}  # the live-traffic sub-commands (hookproof.live.live_cli), by name


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="hookproof", description="Validate a captured webhook delivery, list the catalog, export the schemas, "
        "send, receive and replay live deliveries, or run the conformance suite.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a captured delivery (exit 0 conforms, 1 not, 2 bad input)")
    v.add_argument("--platform", help="a platform id (see hookproof list); required for a body or a raw request, "
                   "read from a capture file otherwise")
    v.add_argument("--contract", help="hold it to this contract (default: any contract of the platform)")
    v.add_argument("--event", help="the event the delivery should be (default: identified from body and headers)")
    v.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                   help="a header the delivery came with (repeatable); Codewars needs X-Webhook-Event")
    v.add_argument("--secret", help="check the delivery's authentication with this secret (it is visible in ps: "
                   "prefer --secret-env)")
    v.add_argument("--secret-env", action="store_true", help=f"read the secret from ${SECRET_ENV}")
    v.add_argument("--strict", action="store_true", help="also report properties the document does not list")
    v.add_argument("file", help="the body as received, a JSON file ('-' for standard input); or a capture file "
                   "(hookproof captures export, --hookproof-failures), a folder of them, or a raw HTTP request "
                   "(request line, headers, blank line, body)")
    _add_schemas(v)
    ls = sub.add_parser("list", help="list platforms, contracts and events")
    ls.add_argument("--platform", help="list only this platform's contracts and events")
    _add_schemas(ls)
    ex = sub.add_parser("export", help="write the schema set into a folder, to vendor it")
    ex.add_argument("--strict", action="store_true",
                    help="the drift-alert variant: properties the documents do not list are errors")
    ex.add_argument("--format", choices=("jsonschema", "openapi", "asyncapi"), default="jsonschema",
                    help="the schema set (default), OpenAPI 3.1 webhooks, or AsyncAPI 3.0: one file per contract")
    ex.add_argument("--bundle", action="store_true", help="with --format jsonschema: one self-contained schema per "
                    "platform contract, every definition in $defs (what type generators read best)")
    ex.add_argument("dir", help="where to write (existing files are never overwritten)")
    _add_schemas(ex)
    from hookproof.live import live_cli

    live_commands.update(live_cli.add_commands(sub))
    sub.add_parser("run", help="run the conformance suite (the other arguments go to pytest; --platform, --secret "
                   "... stand for --hookproof-platform, --hookproof-secret ...)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in a delivery is printed escaped, never a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    program = argv is None  # the process is the command (not main() called in process, as the tests do)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        return cmd_run(argv[1:], ends_the_process=program)
    args = build_parser().parse_args(argv)
    try:
        commands = {"validate": cmd_validate, "list": cmd_list, "export": cmd_export, **live_commands}
        return commands[args.command](args)
    except (InputError, CatalogError) as exc:  # a catalog fault met past a command's own checks is bad input too
        print(f"hookproof: {redact.text(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
