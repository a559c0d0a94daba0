"""Text that came from the network, made safe to print on a terminal.

An event name, a path or a body is whatever a sender wrote: an escape sequence in it (ESC ``[31m``, an
OSC title ``ESC ] 0; ... BEL``) would recolour, retitle or rewrite the user's terminal when ``listen`` or
``captures`` prints it. Every C0 and C1 control character and DEL is shown as a ``\\xNN`` escape instead, as
``repr`` shows it; a line break and a tab are kept only where a body is printed over several lines.
"""

from __future__ import annotations

import re

_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def one_line(text: str) -> str:
    """``text`` for one line of output: no control character at all."""
    return _ANY_CONTROL.sub(_escaped, text)


def lines(text: str) -> str:
    """``text`` printed over several lines (a body): line breaks and tabs kept, every other control escaped."""
    return _BUT_LINES.sub(_escaped, text)
