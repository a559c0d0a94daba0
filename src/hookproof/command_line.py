"""What every hookproof command line shares: bad input is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from typing import Any, NoReturn

# Where every hookproof command, and every command the sender checks start, finds the secret: a command line is
# visible to every user of the machine (ps, /proc/PID/cmdline), an environment only to the process's owner.
SECRET_ENV = "HOOKPROOF_SECRET"


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
    """An argument parser whose errors are one line (argparse prints its whole usage block first).

    ``intermixed=True``: options may come between a list's words (``replay a.json --to URL b.json``,
    ``captures show --db F 3``). argparse's own parse fills a ``nargs="*"`` or ``"+"`` positional once, from the
    words before the first option, and calls the rest unrecognized; its intermixed parse reads the options first,
    then the positionals. It is asked of the parser itself, so that it also holds for a sub-command's parser,
    which ``parse_intermixed_args`` (that refuses sub-parsers) could not be called on."""

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed
        self._mixing = False  # inside parse_known_intermixed_args, which calls parse_known_args itself

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if not self._intermixed or self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {without_values(message)} (see --help)\n")


_UNRECOGNIZED = "unrecognized arguments: "
_AMBIGUOUS = re.compile(r"(ambiguous option: -[^=\s]*)=\S*")
_EXPLICIT = re.compile(r"(ignored explicit argument) .*")  # "-hunter2" read as -h with the argument 'unter2'


def without_values(message: str) -> str:
    """argparse's (and pytest's) message with the values a user typed taken out: a mistyped ``--secrt=VALUE``,
    ``--secrt VALUE`` or an ambiguous ``--se=VALUE`` must not print the secret it carries into a CI log.

    Of arguments the parser does not know, only the option names are repeated. A word that follows an unknown
    option written without ``=`` may be that option's value, so it is never repeated, even where it looks like
    an option (a URL-safe base64 secret may start with ``-``); one argparse took for a cluster of short
    options (``-hunter2``: ``-h`` with the argument ``unter2``) is not repeated either."""
    message = _EXPLICIT.sub(r"\1 (not shown)", _AMBIGUOUS.sub(r"\1=...", message))
    head, sep, rest = message.partition(_UNRECOGNIZED)
    if not sep:
        return message
    words = rest.split()
    names: list[str] = []
    may_be_a_value = False
    for word in words:
        if word.startswith("-") and not may_be_a_value:
            name, inline, _ = word.partition("=")
            names.append(name)
            may_be_a_value = not inline
        else:
            may_be_a_value = False
    if names:
        return f"{head}{sep}{' '.join(names)} (values not shown)"
    return f"{head}{sep}{len(words)} {'word' if len(words) == 1 else 'words'} no option takes (not shown: a " \
           "secret typed without its option would be one)"
