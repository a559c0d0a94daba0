"""How the project's own tests use the machine: how many xdist workers ``pytest -n auto`` starts (two per
CPU, not one), and the garbage collector's settings for drawing (``hookproof.conformance.collector``).

Half of these tests' time is spent waiting on child processes: sender commands between their retries, the
reference receiver's process, pytest run in a subprocess, Node tools. One worker per CPU left the CPUs idle
through those waits (123 s for the suite on 2 CPUs); two per CPU overlap them (87 s, measured back to back,
with the same CPU time; docs/performance.md).
``hookproof run -n auto`` keeps one worker per CPU: pytest reads this file for it too when it starts in the
clone's root (it loads the ``test*`` folders' conftests of the folder it starts in when an argument is no
path, as ``--pyargs hookproof.conformance`` is), so the hook stands aside for ``--pyargs``.

A process that runs these tests ends with its session (an xdist worker, or pytest run serially), so the
collector is left as the session tuned it to the end, and nothing is collected while pytest collects the
tests (``collector.until_the_process_ends``): collection made about 300 passes over the young generation in
each worker, and the end of the session three over everything the worker had imported (one worker in four
spent 1.1-1.7 CPU-s collecting, measured with ``gc.callbacks``).

The tests' own properties (``@given`` without settings of their own) run under the ``hookproof-tests``
Hypothesis profile: derandomized and without an example database, so that CI gives the same verdict on every
run of the same code. A property drawn at random can find a counterexample in one run in a thousand, and the
database then replays it in every later run on that machine only: a verdict of the machine's history, not of
the code. ``HYPOTHESIS_PROFILE=explore`` searches at random, ten times as long, for the counterexamples the
fixed examples miss (what it finds becomes an example of its own in the test).
"""

from __future__ import annotations

import os

import pytest

from hookproof.conformance import collector

collector.until_the_process_ends()  # when pytest imports this file, once per process, at its start


def pytest_sessionstart(session: pytest.Session) -> None:
    """The profiles are loaded at the session's start, before collection makes any ``settings``: not when this
    file is imported, which happens for ``hookproof run`` in the clone's root too (above), where importing
    Hypothesis then would delay the children the run starts at its session's start (``head_start``)."""
    from hypothesis import settings

    settings.register_profile("hookproof-tests", derandomize=True, database=None, deadline=None)
    settings.register_profile("explore", derandomize=False, database=None, deadline=None, max_examples=1000)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hookproof-tests"))

WORKERS_PER_CPU = 2
MAX_WORKERS = 32  # each worker is a pytest process of its own; past this, memory rather than CPU runs out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's share)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> object:
    """The tests draw payloads by the hundred thousand, as a conformance run does: the same collector settings
    (``hookproof.conformance.collector``; a run in process inside a test leaves them as they are)."""
    from hookproof.conformance import collector

    with collector.for_the_run():
        return (yield)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if config.option.pyargs:  # the conformance suite (hookproof run), not these tests: xdist's own count
        return None
    return min(MAX_WORKERS, WORKERS_PER_CPU * _cpus())
