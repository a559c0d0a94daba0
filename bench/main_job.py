"""The main job's time: ``hookproof run`` (README's main-job command, against the built-in reference
implementations) run ``--runs`` times, median wall time and CPU time against the 5 s goal.

    python bench/main_job.py [--runs 5] [-k EXPR] [--write-bytecode] [--cold] [--against REV]

CPU time is the run's and its children's (the reference sender processes): ``resource.getrusage`` of waited
children, so the figure says what the run costs a machine, not only how long it took on this one. The load
average is printed before and after, since the machine may be shared. ``--write-bytecode`` runs without
``PYTHONDONTWRITEBYTECODE`` (a second figure for an environment that sets it, as many CI images do).
``--cold`` gives each run an empty Hypothesis storage directory (``$HYPOTHESIS_STORAGE_DIRECTORY``), as a run
on a fresh CI checkout has: without it, every run after the first reads the tables and caches that Hypothesis
keeps in ``.hypothesis/`` under the working directory.

A shared virtual machine's cores change speed from one second to the next (the same pure-Python loop took
1.3 to 2.3 s here within a minute, with nothing else running), so before each run the bench times a fixed
loop (``calibrate``) and prints the run's speed against the fastest loop of the session: ``speed 0.6`` means
the machine ran that loop at 60% of its best, and the run's times are to be read in that light.

``--against REV`` is the figure a change is judged by on such a machine: the commit ``REV`` is checked out in a
git worktree with a venv of its own (``pip install -e``, as README's main-job command installs), this checkout
gets a venv installed the same way, and the two sides' runs alternate, so that both meet the same speeds; it
prints both medians, their ratio and in how many pairs this checkout was the faster. The worktree and the
venvs are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 5.0


CALIBRATION_LOOP = 3_000_000


def calibrate() -> float:
    """CPU seconds of a fixed pure-Python loop in this process: the machine's speed just now."""
    began = time.process_time()
    total = 0
    for number in range(CALIBRATION_LOOP):
        total += number
    return time.process_time() - began


COLD = "hookproof-bench-cold"  # the value of $HYPOTHESIS_STORAGE_DIRECTORY that asks for an empty one per run


def one_run(extra: list[str], env: dict[str, str], python: str = sys.executable,
            cwd: Path = ROOT) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory(prefix="hookproof-bench-hypothesis-") as empty:
        if env.get("HYPOTHESIS_STORAGE_DIRECTORY") == COLD:
            env = {**env, "HYPOTHESIS_STORAGE_DIRECTORY": empty}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        done = subprocess.run([python, "-m", "hookproof.cli", "run", "-q", "-p", "no:randomly", "-rfs", *extra],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
        wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
    if done.returncode != 0:
        kept = Path(os.environ.get("TMPDIR", "/tmp")) / "hookproof-main-job-failure.log"
        kept.write_text(done.stdout + done.stderr, encoding="utf-8")
        raise SystemExit(f"the main job failed ({done.returncode}): {last} (output in {kept})")
    return wall, cpu, last


def step(rev: str, *argv: str, timeout: float, cwd: Path | None = None) -> None:
    """One step of setting ``rev`` up for ``--against``; a failure ends the bench with its last line."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"--against {rev}: {' '.join(argv[:4])} ... failed: {said}")


@contextmanager
def worktree_of(rev: str) -> Iterator[Path]:
    """A temporary folder holding ``tree``, commit ``rev`` checked out (a git worktree), and room for venvs;
    the worktree and the folder are removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="hookproof-against-"))
    try:
        step(rev, "git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder / "tree"), rev,
             timeout=120)
        yield folder
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder / "tree")], check=False,
                       timeout=120, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def checkout_of(rev: str) -> Iterator[tuple[str, Path, str]]:
    """(its venv's python, its folder, a python for this checkout): ``rev`` checked out and installed, and this
    checkout installed the same way (a venv of its own, without the dev extra, whose pytest plugins the run
    would otherwise load), all removed when the block ends."""
    with worktree_of(rev) as folder:
        tree, venv, here = folder / "tree", folder / "venv", folder / "venv-here"
        step(rev, sys.executable, "-m", "venv", str(venv), timeout=300)
        step(rev, str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(tree), timeout=900)
        step(rev, sys.executable, "-m", "venv", str(here), timeout=300)
        step(rev, str(here / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(ROOT), timeout=900)
        yield str(venv / "bin" / "python"), tree, str(here / "bin" / "python")


def compare(rev: str, runs: int, extra: list[str], env: dict[str, str]) -> int:
    with checkout_of(rev) as (python, tree, here):
        one_run(extra, env, python, tree)  # each side's first run compiles and fills caches: not counted
        one_run(extra, env, here)
        theirs, ours = [], []
        for number in range(1, runs + 1):
            theirs.append(one_run(extra, env, python, tree)[:2])
            ours.append(one_run(extra, env, here)[:2])
            print(f"pair {number}: {rev} {theirs[-1][0]:.2f} s, {theirs[-1][1]:.2f} CPU-s | this checkout "
                  f"{ours[-1][0]:.2f} s, {ours[-1][1]:.2f} CPU-s", flush=True)
    report_pairs(rev, theirs, ours)
    return 0


def report_pairs(rev: str, theirs: list[tuple[float, float]], ours: list[tuple[float, float]],
                 digits: int = 2) -> None:
    """The medians of interleaved (wall, CPU) pairs of ``rev`` and this checkout, their change, and in how many
    pairs this checkout was the faster."""
    wall_then, wall_now = statistics.median(w for w, _ in theirs), statistics.median(w for w, _ in ours)
    cpu_then, cpu_now = statistics.median(c for _, c in theirs), statistics.median(c for _, c in ours)
    faster = sum(now[0] < then[0] for then, now in zip(theirs, ours, strict=True))
    print(f"medians of {len(ours)} interleaved pairs: {rev} {wall_then:.{digits}f} s wall, {cpu_then:.{digits}f} "
          f"CPU-s; this checkout {wall_now:.{digits}f} s wall ({wall_now / wall_then - 1:+.0%}), "
          f"{cpu_now:.{digits}f} CPU-s ({cpu_now / cpu_then - 1:+.0%}); this checkout was faster in {faster} of "
          f"{len(ours)} pairs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs; the median counts (5)")
    parser.add_argument("-k", dest="select", default=None, help="only these checks (pytest -k)")
    parser.add_argument("--write-bytecode", action="store_true", help="unset PYTHONDONTWRITEBYTECODE for the runs")
    parser.add_argument("--cold", action="store_true",
                        help="an empty Hypothesis storage directory for each run, as on a fresh CI checkout")
    parser.add_argument("--against", metavar="REV", default=None,
                        help="interleave runs of this checkout with runs of commit REV (a worktree, a venv)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.cold:
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = COLD
    extra = ["-k", args.select] if args.select else []
    if args.against:
        return compare(args.against, args.runs, extra, env)
    print(f"{os.cpu_count()} CPUs; load average before {os.getloadavg()[0]:.2f}; "
          f"PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', 'unset')}; Hypothesis' storage "
          f"{'empty for each run' if args.cold else 'kept between runs'}")
    timed_runs(lambda: one_run(extra, env), args.runs, GOAL)
    return 0


def timed_runs(run: Callable[[], tuple[float, float, str]], runs: int, goal: float, digits: int = 2) -> None:
    """``runs`` runs of ``run`` (wall s, CPU s, its last line), each after :func:`calibrate`: each run's figures
    and speed, the run at the session's best speed, and the medians against ``goal`` on two cores."""
    walls, cpus, loops = [], [], []
    for number in range(1, runs + 1):
        loops.append(calibrate())
        wall, cpu, last = run()
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {number}: {wall:.{digits}f} s wall, {cpu:.{digits}f} CPU-s ({last}); load "
              f"{os.getloadavg()[0]:.2f}; speed {min(loops) / loops[-1]:.2f} of the session's best so far", flush=True)
    speeds = [min(loops) / loop for loop in loops]
    fastest = max(range(len(walls)), key=lambda i: speeds[i])
    print(f"at the session's best speed (run {fastest + 1}): {walls[fastest]:.{digits}f} s wall, "
          f"{cpus[fastest]:.{digits}f} CPU-s")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"median of {runs}: {wall:.{digits}f} s wall ({wall / goal:.2f}x the {goal:g} s goal), "
          f"{cpu:.{digits}f} CPU-s ({cpu / (2 * goal):.2f}x the CPU two cores have in {goal:g} s)")


if __name__ == "__main__":
    raise SystemExit(main())
