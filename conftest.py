"""Root conftest: the project's own tests use pytest's ``pytester`` to run the suite as a user would.

The hookproof plugin itself is loaded from the installed package's ``pytest11`` entry point
(``pip install -e .``), never from here, so the same plugin object serves a clone and an installed wheel.
"""

pytest_plugins = ["pytester"]
