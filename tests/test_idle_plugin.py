"""Installed, hookproof changes nothing about a project that does not use it: no option that collides, no
header, no summary, no child process, and no top-level package that shadows the project's own
(``conformance``, ``tests``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_CONFTEST = '''
def pytest_addoption(parser):
    parser.addoption("--platform", default="linux", help="the project's own option")
    parser.addoption("--secret", default="")
'''

PROJECT_TEST = '''
import os

from conformance.rules import allowed


def test_own_package(pytestconfig):
    assert allowed("x") and pytestconfig.getoption("--platform") == "linux"


def test_no_child_process_of_ours():
    children = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                line = cmdline.read().replace(b"\\0", b" ").decode()
        except (OSError, IndexError):  # it ended meanwhile
            continue
        if parent == os.getpid():
            children.append(line)
    assert not children, children
'''


def _project(root: Path) -> Path:
    (root / "conformance").mkdir(parents=True)
    (root / "conformance" / "__init__.py").write_text("")
    (root / "conformance" / "rules.py").write_text("def allowed(name):\n    return bool(name)\n")
    (root / "conftest.py").write_text(PROJECT_CONFTEST)
    (root / "test_project.py").write_text(PROJECT_TEST)
    return root


def test_an_unrelated_project_runs_unchanged(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--platform", "linux"],
                            cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "hookproof" not in (result.stdout + result.stderr).lower()


def test_the_plugin_adds_only_namespaced_options(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    options = [line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith("--")]
    ours = [o for o in options if "hookproof" in o or o.startswith("--target-url")]
    assert ours and all(o.startswith(("--hookproof-", "--target-url")) for o in ours), ours
    assert not any(o.startswith(("--platform", "--secret", "--api-key", "--sender-cmd")) for o in options), options


def test_the_idle_plugin_imports_neither_hypothesis_nor_the_validators() -> None:
    """pytest imports the plugin in every project where hookproof is installed: what the checks need (Hypothesis,
    jsonschema, the HTTP clients) is imported only once a run collects them."""
    probe = ("import sys, hookproof.conformance.plugin; "
             "print(' '.join(m for m in ('hypothesis', 'jsonschema', 'jsonschema_rs', 'httpx', 'referencing') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported with the plugin: {result.stdout.strip()}"


def test_the_options_default_is_the_run_settings_default() -> None:
    from hookproof.conformance import options, run_settings

    assert options.DEFAULT_EXAMPLES == run_settings.DEFAULT_EXAMPLES
