"""README's test command timed: median wall and CPU time of ``--runs`` runs against the 60 s goal.

    python bench/test_command.py [--runs 3] [--against REV]

The command is read out of README.md as ``.ci/run`` reads it (the line after ``<!-- test-command -->``). Its
set-up (making the venv, ``pip install``) runs once per checkout before the timed runs, since it mostly
measures the package index; what is timed is the part after its last ``&&``, the test run itself, in the
checkout's folder. CPU time is that of the run and all it started (``resource.getrusage`` of waited
children), so the figure says what the run costs two cores, not only how long they took.

``--against REV`` is how a change is judged on a shared machine, whose speed changes from minute to minute:
commit ``REV`` is checked out in a git worktree, set up with *its own* README's command, and its runs
alternate with this checkout's, so that both meet the same speeds; the bench prints both medians, their
ratio and in how many pairs this checkout was the faster. The worktree is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import time
from pathlib import Path

from main_job import ROOT, report_pairs, timed_runs, worktree_of  # bench/main_job.py: this folder is on sys.path

GOAL = 60.0
MARKER = "<!-- test-command -->"
SETUP_TIMEOUT = 1200.0  # making a venv and installing the dev extra from the index
RUN_TIMEOUT = 1800.0  # a test run that takes this long has failed its goal thirty times over


def readme_command(tree: Path) -> tuple[str, str]:
    """(set-up, timed part) of the test command in ``tree``'s README.md."""
    lines = (tree / "README.md").read_text(encoding="utf-8").splitlines()
    if MARKER not in lines or lines.index(MARKER) + 2 >= len(lines):
        raise SystemExit(f"{tree / 'README.md'}: no test command after {MARKER}")
    command = lines[lines.index(MARKER) + 2].strip()
    setup, _, timed = command.rpartition(" && ")
    return setup, timed


def set_up(tree: Path) -> str:
    """Run the set-up part of ``tree``'s test command there; return the timed part."""
    setup, timed = readme_command(tree)
    if setup:
        began = time.monotonic()
        done = subprocess.run(["bash", "-c", setup], cwd=tree, capture_output=True, text=True,
                              timeout=SETUP_TIMEOUT, check=False)
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"{tree}: the test command's set-up failed ({done.returncode}): {said}")
        print(f"{tree}: set up in {time.monotonic() - began:.0f} s ({setup})", flush=True)
    return timed


def one_run(timed: str, tree: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and pytest's last line of one run of ``timed`` in ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    done = subprocess.run(["bash", "-c", timed], cwd=tree, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          check=False)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    last = re.sub(r"=+", "", lines[-1]).strip() if lines else done.stderr.strip()[-200:]
    if done.returncode != 0:
        kept = Path(os.environ.get("TMPDIR", "/tmp")) / "hookproof-test-command-failure.log"
        kept.write_text(done.stdout + done.stderr, encoding="utf-8")
        raise SystemExit(f"{tree}: the test command failed ({done.returncode}): {last} (output in {kept})")
    return wall, cpu, last


def compare(rev: str, runs: int) -> int:
    here = set_up(ROOT)
    with worktree_of(rev) as folder:
        tree = folder / "tree"
        theirs_command = set_up(tree)
        theirs, ours = [], []
        for number in range(1, runs + 1):
            theirs.append(one_run(theirs_command, tree))
            ours.append(one_run(here, ROOT))
            print(f"pair {number}: {rev} {theirs[-1][0]:.1f} s, {theirs[-1][1]:.1f} CPU-s ({theirs[-1][2]}) | "
                  f"this checkout {ours[-1][0]:.1f} s, {ours[-1][1]:.1f} CPU-s ({ours[-1][2]})", flush=True)
    report_pairs(rev, [r[:2] for r in theirs], [r[:2] for r in ours], digits=1)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (pairs with --against); the median counts (3)")
    parser.add_argument("--against", metavar="REV", default=None,
                        help="interleave runs of this checkout with runs of commit REV (a worktree, its own venv)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(f"{os.cpu_count()} CPUs; load average before {os.getloadavg()[0]:.2f}; "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')}", flush=True)
    if args.against:
        return compare(args.against, args.runs)
    timed = set_up(ROOT)
    timed_runs(lambda: one_run(timed, ROOT), args.runs, GOAL, digits=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
