"""Start-up cost of the two commands started most often, next to their floors, in one run.

    python bench/startup.py [--runs 7]

``hookproof validate`` on one documented example, next to the interpreter alone and to importing jsonschema
and referencing (what validating a file imported until a valid one was judged by jsonschema-rs alone); the
reference sender command (``sender_cli --help``, which imports everything a delivery does and then exits),
next to the interpreter and to what it imported before it moved to ``http.client`` (the httpx sender,
jsonschema and referencing). CPU time of each child (``resource.getrusage``), best of ``--runs``, interleaved
so that load on a shared machine hits all alike.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schemas" / "codewars" / "examples" / "code_challenge.created.json"
PY = sys.executable
COMMANDS = {
    "interpreter (python -c pass)": [PY, "-c", "pass"],
    "import jsonschema, referencing": [PY, "-c", "import jsonschema, referencing"],
    "hookproof validate (one file)": [PY, "-m", "hookproof.cli", "validate", "--platform", "codewars", "--event",
                                      "code_challenge.created", str(EXAMPLE)],
    "imports of the command before": [PY, "-c", "import jsonschema, referencing, hookproof.reference_impl.sender, "
                                      "hookproof.reference_impl.sender_cli"],
    "reference sender command (--help)": [PY, "-m", "hookproof.reference_impl.sender_cli", "--help"],
}


def cpu_of(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, timeout=60, check=False, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each; the best counts (7)")
    args = parser.parse_args()
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            best[name] = min(best[name], cpu_of(argv))
    for name, seconds in best.items():
        print(f"{name:<36} {seconds * 1000:6.0f} ms CPU")
    floor = best["import jsonschema, referencing"]
    print(f"hookproof validate / importing jsonschema and referencing: "
          f"{best['hookproof validate (one file)'] / floor:.2f}x")
    print(f"reference sender command / the imports it had before (httpx sender, jsonschema): "
          f"{best['reference sender command (--help)'] / best['imports of the command before']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
