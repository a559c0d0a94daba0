"""The Node tools the tests compare hookproof with (ajv, ajv-formats, @asyncapi/parser, json-schema-to-typescript),
installed by the tests themselves: ``npm ci`` from the committed ``tests/node/package-lock.json`` into a cache
folder keyed by the lock's hash, so every run uses exactly the locked versions and a second run installs nothing.

The folder is ``$HOOKPROOF_NODE_CACHE`` or ``~/.cache/hookproof-node``; pytest-xdist workers share it under a file
lock. Node and npm must be on PATH (.ci/run checks): a machine without them fails these tests, it does not skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).with_name("node")
INSTALL_TIMEOUT = 300
RUN_TIMEOUT = 120


def _cache_root() -> Path:
    return Path(os.environ.get("HOOKPROOF_NODE_CACHE") or Path.home() / ".cache" / "hookproof-node")


def node_modules() -> Path:
    """The folder whose ``node_modules`` holds the locked packages (installed on first use)."""
    for tool in ("node", "npm"):
        assert shutil.which(tool), f"{tool} is not on PATH: the cross-validator tests need Node 18+ and npm"
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    home = _cache_root() / hashlib.sha256(lock + (NODE_DIR / "package.json").read_bytes()).hexdigest()[:16]
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (home / "node_modules" / ".installed").exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(NODE_DIR / name, home / name)
            done = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                                  cwd=home, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
            assert done.returncode == 0, f"npm ci failed in {home}: {done.stderr[-2000:]}"
            (home / "node_modules" / ".installed").write_text("ok\n")
    return home


def run_script(script: str, payload: Any, timeout: float = RUN_TIMEOUT) -> Any:
    """Run ``tests/node/<script>`` with the locked packages, ``payload`` as JSON on stdin; its JSON stdout."""
    home = node_modules()
    env = {**os.environ, "NODE_PATH": str(home / "node_modules")}
    done = subprocess.run(["node", str(NODE_DIR / script)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)
    assert done.returncode == 0, f"node {script} failed: {done.stderr[-3000:]}"
    return json.loads(done.stdout)
