"""Root conftest: loads the hookproof plugin when the package is not installed.

Installed (``pip install .`` or ``-e .``), pytest loads the plugin from the ``pytest11`` entry point;
loading it here as well would register its options twice, which pytest treats as a fatal error.
"""

from importlib.metadata import entry_points

_installed = any(ep.name == "hookproof" for ep in entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["conformance.plugin"]
