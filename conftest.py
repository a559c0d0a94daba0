"""Root conftest: the project's own tests use pytest's ``pytester`` to run the suite as a user would.

The hookproof plugin itself is loaded from the installed package's ``pytest11`` entry point
(``pip install -e .``), never from here, so the same plugin object serves a clone and an installed wheel.

``pytester``'s in-process runs drop every module first imported during a run. Hypothesis imports parts of
itself lazily, so a run would leave half of it behind and the next run would mix two copies of its classes
(a strategy of one is no strategy to the other). Importing the checks here, up front, loads all of it once.
"""

from hookproof.conformance.registry import load_all

load_all()

pytest_plugins = ["pytester"]
