"""The command line the sender harness runs for one of the test senders in this folder."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def command_line(script: Path, mode: str) -> str:
    """``script mode`` with every placeholder the harness fills in, as a user's ``--sender-cmd`` would have."""
    return (f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode} --url {{url}} --event-file "
            f"{{event_file}} --platform {{platform}} --contract {{contract}} --event {{event}} --secret={{secret}} "
            f"--time-scale {{time_scale}}")
