"""Root conftest: the project's own tests use pytest's ``pytester`` to run the suite as a user would.

The hookproof plugin itself is loaded from the installed package's ``pytest11`` entry point
(``pip install -e .``), never from here, so the same plugin object serves a clone and an installed wheel.

``pytester``'s in-process runs drop every module first imported during a run. Hypothesis imports parts of
itself lazily, so a run would leave half of it behind and the next run would mix two copies of its classes
(a strategy of one is no strategy to the other). Importing the checks at the session's start, before the first
test, loads all of it once (not when this file is imported: ``hookproof run`` in the clone's root reads it
too, and starts its children at the session's start, ``head_start``, which that import would delay).

Bytecode is written for the project's own runs even where ``PYTHONDONTWRITEBYTECODE`` is set (as in many CI
images): the tests start several hundred Python processes (sender commands, pytest in a subprocess), and each
compiled hookproof again from source, while pytest rewrote and compiled Hypothesis' hundred and more modules
again in every worker (pytest rewrites every module of a distribution that registers a pytest plugin). The
caches go where Python and pytest put them, the ``__pycache__`` folders of this clone and of its venv.
"""

import os
import sys

if os.environ.get("PYTHONDONTWRITEBYTECODE"):
    sys.dont_write_bytecode = False
    os.environ["PYTHONDONTWRITEBYTECODE"] = ""  # an empty value is unset, for the processes the tests start

pytest_plugins = ["pytester"]


def pytest_sessionstart() -> None:
    from hookproof.conformance.registry import load_all  # after the bytecode setting, on purpose

    load_all()
