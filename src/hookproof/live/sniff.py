"""Whether a file ``hookproof validate`` was given is a recording, a folder of them, or a raw HTTP request,
told from its first bytes.

Kept apart from :mod:`hookproof.live.recording` and the live commands: validating a plain JSON body, the
common case, decides this and needs neither (the recording module took 3-4 ms to import; docs/performance.md).
"""

from __future__ import annotations

import re
from pathlib import Path

FORMAT = "hookproof_recording"  # the field that opens every recording file (docs/decisions.md#recording-format)
REQUEST_LINE = re.compile(rb"^([A-Z]{3,10}) (\S+) HTTP/\d(?:\.\d)?\r?$")


def looks_like_recording(path: Path) -> bool:
    """Whether ``path`` is a recording file (or a folder holding some): the first bytes name the format."""
    if path.is_dir():
        return any(looks_like_recording(p) for p in sorted(path.glob("*.json"))[:1])
    try:
        with path.open("rb") as handle:
            head = handle.read(200)
    except OSError:
        return False
    return f'"{FORMAT}"'.encode() in head


def is_recorded(path: str) -> bool:
    """Whether ``hookproof validate`` was given a recording (file or folder) or a raw HTTP request."""
    if path == "-":
        return False
    file = Path(path)
    if file.exists() and not file.is_dir() and not file.is_file():  # a pipe or a device: reading it to sniff would
        return False  # wait on it (a FIFO no one writes) or eat what validate then reads; _read_bytes refuses it
    if file.is_dir() or looks_like_recording(file):
        return True
    try:
        with file.open("rb") as handle:
            return bool(REQUEST_LINE.match(handle.readline(400).rstrip(b"\n")))
    except OSError:
        return False
