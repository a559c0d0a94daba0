"""The run's own child processes, started while pytest still imports and collects.

A run without a target starts two children for its receiver checks: the reference receiver
(:mod:`hookproof.conformance.child_server`) and the process that draws their payloads ahead of them
(:mod:`hookproof.conformance.draw_ahead`). Each spends about half a CPU-second importing before it is of
use. Started by the fixtures, at the first receiver check, that import came after pytest's own start-up and
collection, which use one core of two, and the first checks drew their payloads themselves and waited for the
receiver meanwhile. Started at the session's start they import on the idle core (docs/performance.md).

Only where the run will want them: a run that collects the conformance suite (hookproof is a pytest plugin
in every project it is installed in, and a project's own test runs start no child of ours), no target, the
receiver checks among the run's roles and a webhook platform to run them on, one process (not an xdist
controller or worker), no ``--hookproof-shrink`` (whose checks draw for themselves), and nothing that narrows
which checks run (``-k``, ``-m``, ``--deselect``, a node id): a run that selects a few checks, or none of the
receiver's, would pay for children it does not use.
What the fixtures do not take is stopped and reaped when the session ends.
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

    import pytest

    from hookproof.conformance.child_server import ChildServer
    from hookproof.conformance.options import RunConfig

RECEIVER = "hookproof.reference_impl.receiver"


def wanted(config: pytest.Config, run: RunConfig) -> bool:
    """Whether the run will use both children for sure enough to start them before it has collected."""
    if not collects_the_suite(config):
        return False
    option = config.option
    narrowed = (getattr(option, "keyword", "") or getattr(option, "markexpr", "") or getattr(option, "deselect", None)
                or any("::" in str(arg) for arg in config.args))
    return not (run.target_url or run.shrink or "receiver" not in run.active_roles or narrowed
                or getattr(option, "collectonly", False) or getattr(option, "numprocesses", None)
                or hasattr(config, "workerinput") or not run.platforms_for("receiver"))


SUITE_FILE = (Path(__file__).parent / "test_conformance.py").resolve()


def collects_the_suite(config: pytest.Config) -> bool:
    """Whether one of the run's arguments (``--pyargs hookproof.conformance``, the suite's folder or file, or a
    folder above it) is where pytest will find the conformance suite, as pytest resolves them: a module name
    under ``--pyargs``, else a path from the directory pytest was started in."""
    for arg in config.args:
        name = str(arg).split("::", 1)[0]
        where = _module_path(name) if config.option.pyargs else None
        path = where or (config.invocation_params.dir / name).resolve()
        if path == SUITE_FILE or path in SUITE_FILE.parents:
            return True
    return False


def _module_path(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # not a module name: pytest takes it as a path
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return Path(spec.origin).resolve() if spec.origin else None


class HeadStart:
    """The children started early, each handed once to the fixture that wants it (:meth:`receiver`,
    :meth:`drawing`); :meth:`close` stops what was not taken."""

    def __init__(self, secret: str | None) -> None:
        from hookproof.conformance.draw_ahead import spawn

        self.secret = secret or secrets.token_urlsafe(16)
        self._receiver: tuple[ChildServer, ExitStack] | None = None
        self._drawing: tuple[subprocess.Popen[bytes], ExitStack] | None = None
        receiver, drawing = ExitStack(), ExitStack()
        child = receiver.enter_context(_receiver_child(self.secret))
        try:
            proc = drawing.enter_context(spawn())
        except BaseException:
            receiver.close()  # the receiver started; it must not outlive the failure
            raise
        self._receiver, self._drawing = (child, receiver), (proc, drawing)

    def receiver(self) -> tuple[ChildServer, ExitStack] | None:
        """The reference receiver child (listening on the run's secret) and what stops it, or None once taken."""
        taken, self._receiver = self._receiver, None
        return taken

    def drawing(self) -> tuple[subprocess.Popen[bytes], ExitStack] | None:
        """The drawing process, not yet given its draws, and what stops it, or None once taken."""
        taken, self._drawing = self._drawing, None
        return taken

    def close(self) -> None:
        for taken in (self.drawing(), self.receiver()):
            if taken is not None:
                taken[1].close()


@contextmanager
def reference_receiver(head: HeadStart | None, secret: str | None) -> Iterator[tuple[ChildServer, str]]:
    """The reference receiver's child and the secret it requires: the child started at the session's start
    where there is one, else one started now (with ``secret``, or one of its own); stopped when the block ends."""
    early = head.receiver() if head is not None else None
    if head is not None and early is not None:
        with early[1]:
            yield early[0], head.secret
        return
    secret = secret or secrets.token_urlsafe(16)
    with _receiver_child(secret) as child:
        yield child, secret


def _receiver_child(secret: str) -> contextlib.AbstractContextManager[ChildServer]:
    from hookproof.command_line import SECRET_ENV
    from hookproof.conformance.bounded_command import command_env
    from hookproof.conformance.child_server import started_child

    return started_child(RECEIVER, command_env({SECRET_ENV: secret}))
