"""The ``hookproof`` command: validate a captured delivery, list the catalog, or run the suite.

Exit codes follow the usual validator convention: 0 conforms, 1 does not conform, 2 bad input
(missing file, not JSON, unknown platform or event). Bad input is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance import catalog, schema_store

MAX_FILE_BYTES = 10 * 1024 * 1024


class InputError(Exception):
    """Something the user gave cannot be used; the message says what."""


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise InputError(f"--header {text!r} is not of the form 'Name: value'")
    return name.strip(), value.strip()


def _read_body(path: str) -> Any:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    else:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such file")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = file.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None


def cmd_validate(args: argparse.Namespace) -> int:
    headers = dict(_parse_header(h) for h in args.header)
    try:
        if args.event is not None:
            catalog.event(args.platform, args.event)
        else:
            catalog.profile(args.platform)
    except catalog.CatalogError as exc:
        raise InputError(str(exc)) from None
    body = _read_body(args.file)
    try:
        verdict = catalog.validate(args.platform, body, headers, args.event, strict=args.strict)
    except catalog.CatalogError as exc:
        raise InputError(str(exc)) from None
    label = f"{args.platform} {verdict.event}" if verdict.event else args.platform
    if verdict.ok:
        print(f"{args.file}: conforms to {label}" + (" (strict)" if args.strict else ""))
        return 0
    print(f"{args.file}: does not conform to {label}" + (" (strict)" if args.strict else ""))
    for problem in verdict.problems:
        print(f"  {problem}")
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    platforms = [args.platform] if args.platform else list(catalog.platforms())
    for platform in platforms:
        try:
            prof = catalog.profile(platform)
        except catalog.CatalogError as exc:
            raise InputError(str(exc)) from None
        print(f"{platform}  ({prof.name}, {prof.kind}, source: {prof.seed})")
        for name, ev in prof.events.items():
            print(f"  {name:<40} {ev.schema_id}  examples: {len(ev.examples)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    try:
        written = schema_store.export(Path(args.dir), strict=args.strict)
    except FileExistsError as exc:
        raise InputError(f"{exc}; choose an empty folder") from None
    except OSError as exc:
        raise InputError(f"cannot write to {args.dir}: {exc.strerror or exc}") from None
    variant = "strict variant" if args.strict else "schema set"
    print(f"wrote the {variant} to {args.dir} ({len(written)} files)")
    return 0


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    return int(pytest.main(["--pyargs", "conformance", "-p", "no:cacheprovider", *extra]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hookproof", description="Validate a captured webhook delivery, list the catalog, or run the suite."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a captured delivery body (exit 0 conforms, 1 not, 2 bad input)")
    v.add_argument("--platform", required=True, help=f"one of: {', '.join(catalog.platforms())}")
    v.add_argument("--event", help="the event the delivery should be (default: identified from body and headers)")
    v.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="a header the delivery came with (repeatable); Codewars needs X-Webhook-Event",
    )
    v.add_argument("--strict", action="store_true", help="also report properties the document does not list")
    v.add_argument("file", help="the body as received, a JSON file ('-' for standard input)")
    ls = sub.add_parser("list", help="list platforms, events and schemas")
    ls.add_argument("--platform")
    ex = sub.add_parser("export", help="write the schema set into a folder, to vendor it")
    ex.add_argument("--strict", action="store_true",
                    help="the drift-alert variant: properties the documents do not list are errors")
    ex.add_argument("dir", help="where to write (existing files are never overwritten)")
    sub.add_parser("run", help="run the conformance suite (the rest of the arguments go to pytest)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        return cmd_run(argparse.Namespace(), argv[1:])
    args = build_parser().parse_args(argv)
    try:
        commands = {"validate": cmd_validate, "list": cmd_list, "export": cmd_export}
        return commands[args.command](args)
    except InputError as exc:
        print(f"hookproof: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
