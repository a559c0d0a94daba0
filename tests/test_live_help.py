"""Every option of the live-traffic commands (and of the reference sender) says in ``--help`` what it does."""

from __future__ import annotations

import argparse

import pytest

from hookproof.cli import build_parser
from hookproof.reference_impl.sender_cli import build_parser as sender_parser

COMMANDS = ("trigger", "listen", "captures", "replay", "validate")


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    parser = _subparser(name)
    undocumented = [a.dest for a in parser._actions if a.help is None and a.dest != "help"]
    assert not undocumented, f"hookproof {name}: options without help: {undocumented}"
    assert parser.format_help()


def test_the_reference_sender_documents_every_option() -> None:
    assert not [a.dest for a in sender_parser()._actions if a.help is None and a.dest != "help"]
