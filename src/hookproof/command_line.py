"""What every hookproof command line shares: bad input is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Any, NoReturn


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout with the terminal's width looked up once per process. argparse builds a formatter
    for every ``add_argument`` and each one asked ``shutil`` (which imports bz2 and lzma) for the terminal size:
    most of what building a parser cost a command that starts once per delivery (the reference sender)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _terminal_columns() - 2)


@functools.cache
def _terminal_columns() -> int:
    """The width as ``shutil.get_terminal_size`` finds it: ``$COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse prints its whole usage block first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
