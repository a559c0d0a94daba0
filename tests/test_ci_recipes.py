"""The CI recipes of docs/ci.md and the composite action (action.yml), run as their CI would run them (the
commands, not the services): the GitHub job's steps one shell each, the GitLab job's script in one shell, the
action's run step with its inputs in the environment. The install steps are left out (hookproof is installed
here already); the receiver they start is hookproof's reference receiver, on a free port instead of 8000.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from hookproof.reference_impl.serving import serving
from tests import broken_receivers as broken

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "ci.md"
SECRET = "ci-recipe-secret"
STEP_TIMEOUT = 180


def recipe(name: str) -> Any:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- ci-recipe: {re.escape(name)} -->\n```yaml\n(.*?)```", text, re.S)
    assert match, f"docs/ci.md has no ci-recipe {name}"
    return yaml.safe_load(match.group(1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "HOOKPROOF_SECRET": SECRET,
            "RUNNER_TEMP": str(tmp_path), "PYTEST_ADDOPTS": "--hookproof-examples 2 -p no:cacheprovider",
            "GITHUB_OUTPUT": str(tmp_path / "github_output")}


class Shells:
    """Shell steps run one after another, each in a session of its own; whatever a step left running (the
    receiver) is stopped at the end, by its session's process group."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env, self.groups = cwd, env, []

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.Popen(["bash", "-eo", "pipefail", "-c", script], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.groups.append(proc.pid)
        try:
            out, _ = proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=10)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")

    def stop(self) -> None:
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):  # nothing of that step is left running
                os.killpg(group, signal.SIGTERM)


def _junit_properties(path: Path) -> list[dict[str, str]]:
    cases = ET.parse(path).getroot().iter("testcase")
    return [{p.get("name", ""): p.get("value", "") for p in case.iter("property")} for case in cases]


def _reports_ok(tmp_path: Path) -> None:
    props = _junit_properties(tmp_path / "hookproof.xml")
    assert props and all(p["hookproof_platform"] == "codewars" for p in props)
    assert {p["hookproof_marker"] for p in props} == {"documented", "robustness"}
    assert all("Codewars API documentation" in p["hookproof_citation"] for p in props)
    assert all(p["hookproof_contract"] for p in props)
    page = (tmp_path / "hookproof.html").read_text(encoding="utf-8")
    assert "data-check='documented_examples' data-platform='codewars'" in page


def test_github_workflow_steps(tmp_path: Path) -> None:
    port = str(_free_port())
    steps = recipe("github")["jobs"]["hookproof"]["steps"]
    assert recipe("github")["jobs"]["hookproof"]["env"]["HOOKPROOF_SECRET"] == "${{ secrets.CODEWARS_WEBHOOK_SECRET }}"
    scripts = [s["run"].replace("8000", port) for s in steps if "run" in s and "pip install" not in s["run"]]
    assert len(scripts) == 2 and any("pip install hookproof" in s.get("run", "") for s in steps)
    # The reference receiver needs to know the secret the job sends; your receiver reads it from its own config.
    scripts[0] = scripts[0].replace("--port", f"--secret {SECRET} --port")
    # -n auto as written (two workers here); a few checks of each marker keep the suite fast
    env = {**_env(tmp_path), "PYTEST_ADDOPTS": _env(tmp_path)["PYTEST_ADDOPTS"] + " -k 'examples or unknown_event'"}
    shells = Shells(tmp_path, env)
    try:
        for script in scripts:
            done = shells.run(script)
            assert done.returncode == 0, done.stdout[-3000:]
    finally:
        shells.stop()
    assert "CONFORMS" in done.stdout and SECRET not in done.stdout
    assert "bringing up nodes" in done.stdout or "workers" in done.stdout, done.stdout[:500]  # -n auto took effect
    _reports_ok(tmp_path)


def test_gitlab_job_script(tmp_path: Path) -> None:
    port = str(_free_port())
    job = recipe("gitlab")["hookproof"]
    assert job["artifacts"]["reports"]["junit"] == "hookproof.xml"
    # -n auto is exercised by the GitHub job; here one process and three checks keep the suite fast
    lines = [line.replace("8000", port).replace("-n auto", "-n 0") for line in job["script"]
             if "pip install" not in line]
    lines[0] = lines[0].replace("--port", f"--secret {SECRET} --port")
    env = {**_env(tmp_path), "PYTEST_ADDOPTS": _env(tmp_path)["PYTEST_ADDOPTS"] + " -k 'examples or unknown_event'"}
    shells = Shells(tmp_path, env)
    try:
        done = shells.run("\n".join(lines))
    finally:
        shells.stop()
    assert done.returncode == 0, done.stdout[-3000:]
    _reports_ok(tmp_path)


def _action_step() -> dict[str, Any]:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    return next(s for s in action["runs"]["steps"] if s.get("id") == "run")


def _action_env(step: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
    """The step's environment as GitHub would give it: each ``${{ inputs.x }}`` is the input's value."""
    defaults = {k: str(v.get("default", "")) for k, v in
                yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["inputs"].items()}
    values = {**defaults, **inputs}
    out = {}
    for name, template in step["env"].items():
        found = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", str(template))
        assert found, (name, template)
        out[name] = values[found.group(1)]
    return out


@pytest.mark.parametrize(("receiver", "code"), [("reference", 0), ("broken", 1)])
def test_composite_action_gates_on_the_exit_code(tmp_path: Path, receiver: str, code: int) -> None:
    from hookproof.reference_impl.receiver import Receiver

    app = Receiver(secrets={"codewars": SECRET}) if receiver == "reference" else \
        broken.CrashesOnUnknownEvent(secrets={"codewars": SECRET})
    step = _action_step()
    with serving(app) as base:
        env = {**_env(tmp_path), **_action_env(step, {"target-url": f"{base}/codewars", "platform": "codewars",
                                                      "secret": SECRET, "args": "-q -k unknown_event"})}
        shells = Shells(tmp_path, env)
        try:
            done = shells.run(step["run"])
        finally:
            shells.stop()
    assert done.returncode == code, done.stdout[-3000:]
    assert (tmp_path / "github_output").read_text() == f"exit-code={code}\n"
    assert (tmp_path / "hookproof.xml").exists() and (tmp_path / "hookproof.html").exists()
    assert SECRET not in done.stdout


def test_action_passes_inputs_only_through_the_environment() -> None:
    step = _action_step()
    assert "${{" not in step["run"]
    assert step["env"]["HOOKPROOF_SECRET"] == "${{ inputs.secret }}"


def test_a_clone_brings_no_virtual_environment_of_its_own() -> None:
    """README's commands create ``.venv`` in a fresh clone: a tracked ``.venv`` (a link to someone's venv was
    once committed) makes ``python3.11 -m venv .venv`` fail there. Checked in a git checkout only."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing is tracked")
    tracked = subprocess.run(["git", "ls-files", "--", ".venv", "venv", "env"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    assert tracked == [], f"tracked virtual environment files: {tracked[:5]}"
