"""The main job's time: ``hookproof run`` (README's main-job command, against the built-in reference
implementations) run ``--runs`` times, median wall time and CPU time against the 5 s goal.

    python bench/main_job.py [--runs 5] [-k EXPR] [--write-bytecode]

CPU time is the run's and its children's (the reference sender processes): ``resource.getrusage`` of waited
children, so the figure says what the run costs a machine, not only how long it took on this one. The load
average is printed before and after, since the machine may be shared. ``--write-bytecode`` runs without
``PYTHONDONTWRITEBYTECODE`` (a second figure for an environment that sets it, as many CI images do).

A shared virtual machine's cores change speed from one second to the next (the same pure-Python loop took
1.3 to 2.3 s here within a minute, with nothing else running), so before each run the bench times a fixed
loop (``calibrate``) and prints the run's speed against the fastest loop of the session: ``speed 0.6`` means
the machine ran that loop at 60% of its best, and the run's times are to be read in that light.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
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


def one_run(extra: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hookproof.cli", "run", "-q", "-p", "no:randomly", "-rfs", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
    if done.returncode != 0:
        kept = Path(os.environ.get("TMPDIR", "/tmp")) / "hookproof-main-job-failure.log"
        kept.write_text(done.stdout + done.stderr, encoding="utf-8")
        raise SystemExit(f"the main job failed ({done.returncode}): {last} (output in {kept})")
    return wall, cpu, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs; the median counts (5)")
    parser.add_argument("-k", dest="select", default=None, help="only these checks (pytest -k)")
    parser.add_argument("--write-bytecode", action="store_true", help="unset PYTHONDONTWRITEBYTECODE for the runs")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    extra = ["-k", args.select] if args.select else []
    print(f"{os.cpu_count()} CPUs; load average before {os.getloadavg()[0]:.2f}; "
          f"PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', 'unset')}")
    walls, cpus, loops = [], [], []
    for number in range(1, args.runs + 1):
        loops.append(calibrate())
        wall, cpu, last = one_run(extra, env)
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {number}: {wall:.2f} s wall, {cpu:.2f} CPU-s ({last}); load {os.getloadavg()[0]:.2f}; "
              f"speed {min(loops) / loops[-1]:.2f} of the session's best so far", flush=True)
    speeds = [min(loops) / loop for loop in loops]
    fastest = max(range(len(walls)), key=lambda i: speeds[i])
    print(f"at the session's best speed (run {fastest + 1}): {walls[fastest]:.2f} s wall, {cpus[fastest]:.2f} CPU-s")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"median of {args.runs}: {wall:.2f} s wall ({wall / GOAL:.2f}x the {GOAL:g} s goal), {cpu:.2f} CPU-s "
          f"({cpu / (2 * GOAL):.2f}x the CPU two cores have in {GOAL:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
