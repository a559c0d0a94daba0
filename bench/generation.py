"""Payloads per second for every event: ``hookproof.conformance.strategies`` against hypothesis-jsonschema.

Run by hand, on one core (the script pins itself to one CPU unless ``--no-pin``)::

    python bench/generation.py                      # ours only, in the project's venv
    python bench/generation.py --ceiling            # per platform, wall time, next to Hypothesis' own loop
    /tmp/hjs-venv/bin/python bench/generation.py    # ours and hypothesis-jsonschema, same run

hypothesis-jsonschema 0.23.1 fails on Hypothesis 6.170 (docs/decisions.md#own-schema-compiler), so the
comparison runs in a venv that pins ``hypothesis==6.155.2 hypothesis-jsonschema==0.23.1
jsonschema[format-nongpl] referencing`` and has this project installed with ``pip install -e . --no-deps``.
It cannot follow our cross-file ``$ref``s, so it
gets each event schema with its references inlined (:func:`inline_refs`); ours compiles the same schemas
from the registry. Both are timed by the same harness: a ``@given`` test that only collects its argument,
generate phase only, no database, derandomized. Rates are per CPU second (``time.process_time``), best of
``--repeats`` runs, so that other work on the machine disturbs them less; "valid/s" counts only payloads
that pass the event's schema with format checking on. Pure generation: no network.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning

from hookproof import catalog, validation
from hookproof.conformance import strategies
from hookproof.conformance.run_settings import DEFAULT_EXAMPLES

if TYPE_CHECKING:
    from referencing._core import Resolver

DROPPED = frozenset({"$schema", "$id", "$defs", "$comment", "title"})
MAX_INLINE_DEPTH = 8


def inline_refs(schema: Any, resolver: Resolver, depth: int = 0) -> Any:
    """The schema with every ``$ref`` replaced by what it points to, for a generator without a registry.

    Handles the keywords our schemas use. Refs nested deeper than MAX_INLINE_DEPTH become ``false`` (never
    taken): that narrows a recursive schema, it never widens it; ours nest four refs deep at most.
    """
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        if depth >= MAX_INLINE_DEPTH:
            return False
        resolved = resolver.lookup(schema["$ref"])
        return inline_refs(resolved.contents, resolved.resolver, depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: inline_refs(sub, resolver, depth) for name, sub in value.items()}
        elif key == "items":
            out[key] = inline_refs(value, resolver, depth)
        elif key == "anyOf":
            out[key] = [inline_refs(sub, resolver, depth) for sub in value]
        elif key not in DROPPED:
            out[key] = value
    return out


def inlined(schema_id: str) -> Any:
    resolver = catalog.active().registry().resolver(base_uri=schema_id)
    return inline_refs(resolver.lookup(schema_id).contents, resolver)


@dataclass
class Rate:
    per_second: float  # payloads per CPU second
    valid_fraction: float
    count: int

    @property
    def valid_per_second(self) -> float:
        return self.per_second * self.valid_fraction


def _run_once(strategy: st.SearchStrategy[Any], examples: int) -> tuple[float, list[Any]]:
    drawn: list[Any] = []

    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    started = time.process_time()
    collect()
    return time.process_time() - started, drawn


def measure(strategy: st.SearchStrategy[Any], schema_id: str, examples: int, repeats: int) -> Rate:
    """The best of ``repeats`` timed runs, and how many of its payloads are valid."""
    runs = [_run_once(strategy, examples) for _ in range(repeats)]
    seconds, drawn = min(runs, key=lambda run: run[0] / max(len(run[1]), 1))
    valid = sum(1 for body in drawn if not validation.check_instance(schema_id, body))
    return Rate(len(drawn) / seconds, valid / max(len(drawn), 1), len(drawn))


def wall_once(strategy: st.SearchStrategy[Any], examples: int) -> tuple[float, int]:
    """Wall seconds of one ``@given`` run over ``strategy`` (generate phase, derandomized), and its examples."""
    seen = [0]

    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        seen[0] += 1

    started = time.perf_counter()
    collect()
    return time.perf_counter() - started, seen[0]


def choices_per_example(strategy: st.SearchStrategy[Any], examples: int) -> tuple[float, float] | None:
    """Hypothesis choices and bytes drawn per example, untimed: what the engine pays for per payload.

    Reads the test case's choice nodes, an internal of Hypothesis (None where it has none)."""
    counts: list[tuple[int, int]] = []

    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        data.draw(strategy)
        nodes = getattr(getattr(data, "conjecture_data", None), "nodes", None)
        if nodes is not None:
            counts.append((len(nodes), sum(len(n.value) for n in nodes if isinstance(n.value, bytes))))

    collect()
    if not counts:
        return None
    return sum(c for c, _ in counts) / len(counts), sum(b for _, b in counts) / len(counts)


def ceiling(examples: int, repeats: int, from_schema: Callable[[Any], st.SearchStrategy[Any]] | None) -> None:
    """Each platform's whole-contract strategy (``events(platform)``, what the receiver checks draw from) under
    ``@given``, next to Hypothesis' own engine drawing ``st.integers()`` - the fastest a ``@given`` loop goes
    on this core - timed by the wall clock in the same run, interleaved, best of ``repeats``. The ratio is the
    share of the engine's ceiling our payloads reach (goal: 50%)."""
    print(f"ceiling: wall time under @given, {examples} examples, best of {repeats}, interleaved with the engine's "
          "own st.integers() loop\n")
    print("| platform | events(platform) examples/s | st.integers() examples/s | ours / engine ceiling |"
          " choices / example | bytes drawn / example |" + (" hjs examples/s | hjs / ceiling |" if from_schema else ""))
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if from_schema else ""))
    for platform in catalog.platforms():
        ours_strategy = strategies.events(platform)
        hjs_strategy = None
        if from_schema is not None:
            hjs_strategy = st.one_of([from_schema(inlined(e.schema_id))
                                      for e in catalog.contract(platform).events.values()])
        wall_once(ours_strategy, 5)  # compiled and warmed before timing
        best = {"ours": 0.0, "engine": 0.0, "hjs": 0.0}
        for _ in range(repeats):
            for key, strategy, count in (("engine", st.integers(), examples), ("ours", ours_strategy, examples),
                                         ("hjs", hjs_strategy, max(examples // 5, 10))):
                if strategy is None:
                    continue
                seconds, seen = wall_once(strategy, count)
                best[key] = max(best[key], seen / seconds)
        drawn = choices_per_example(ours_strategy, examples)
        row = f"| {platform} | {best['ours']:,.0f} | {best['engine']:,.0f} | {best['ours'] / best['engine']:.0%} |"
        row += f" {drawn[0]:.2f} | {drawn[1]:.0f} |" if drawn else " - | - |"
        if from_schema is not None:
            row += f" {best['hjs']:,.0f} | {best['hjs'] / best['engine']:.0%} |"
        print(row, flush=True)
    print()


def hjs_compiler() -> tuple[Callable[[Any], st.SearchStrategy[Any]] | None, str]:
    """hypothesis-jsonschema's ``from_schema``, or None and why it cannot run here."""
    try:
        from hypothesis_jsonschema import from_schema

        from_schema({"type": "object", "properties": {"a": {"type": "string"}}}).example()
    except Exception as exc:  # ImportError, or its AttributeError on Hypothesis 6.170
        return None, f"{type(exc).__name__}: {exc}"
    return from_schema, metadata.version("hypothesis-jsonschema")


def default_run_seconds() -> tuple[float, int]:
    """Wall time of the default run's generation: every event, documented examples then DEFAULT_EXAMPLES."""
    started = time.perf_counter()
    drawn = strategies.default_run_deliveries(DEFAULT_EXAMPLES)
    return time.perf_counter() - started, len(drawn)


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPUs ({model}), measured on 1; Python {py_platform.python_version()}, "
            f"Hypothesis {hypothesis.__version__}")


def _fmt(rate: Rate | None) -> tuple[str, str]:
    if rate is None:
        return "-", "-"
    return f"{rate.per_second:,.0f}", f"{rate.valid_fraction:.0%}"


def _ratios(ours: Rate, theirs: Rate | None) -> str:
    if theirs is None:
        return "- | -"
    valid = "inf (hjs: none valid)"
    if theirs.valid_fraction:
        valid = f"{ours.valid_per_second / theirs.valid_per_second:,.1f}x"
    return f"{ours.per_second / theirs.per_second:,.1f}x | {valid}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="payloads per event for ours (300)")
    parser.add_argument("--hjs-examples", type=int, default=60,
                        help="payloads per event for hypothesis-jsonschema (60)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per event for ours; the best counts (3)")
    parser.add_argument("--extras", action="store_true", help="time ours with extras=True as well")
    parser.add_argument("--no-hjs", action="store_true", help="skip hypothesis-jsonschema even where it works")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--ceiling", action="store_true",
                        help="only the share of Hypothesis' own ceiling, per platform, by the wall clock")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore", HypothesisDeprecationWarning)  # raised from inside hypothesis-jsonschema
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from_schema, hjs_note = (None, "skipped (--no-hjs)") if args.no_hjs else hjs_compiler()
    print(f"machine: {machine()}")
    print(f"hypothesis-jsonschema: {hjs_note}\n")
    if args.ceiling:
        ceiling(args.examples, args.repeats, from_schema)
        return 0

    compile_started = time.perf_counter()
    for platform in catalog.platforms():
        for event in catalog.contract(platform).events.values():
            strategies.body_strategy(event.schema_id)
    print(f"compiling every event schema: {time.perf_counter() - compile_started:.2f} s\n")

    header = "| platform | event | ours payloads/s | ours valid |"
    header += " ours+extras payloads/s |" if args.extras else ""
    header += " hjs payloads/s | hjs valid | ours/hjs payloads/s | ours/hjs valid/s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    totals = {"ours": [0.0, 0.0, 0.0], "hjs": [0.0, 0.0, 0.0]}  # payloads, valid payloads, CPU seconds
    for platform in catalog.platforms():
        for name, event in catalog.contract(platform).events.items():
            ours = measure(strategies.body_strategy(event.schema_id), event.schema_id, args.examples, args.repeats)
            row = f"| {platform} | {name} | {_fmt(ours)[0]} | {_fmt(ours)[1]} |"
            if args.extras:
                extra = measure(strategies.body_strategy(event.schema_id, extras=True), event.schema_id,
                                args.examples, args.repeats)
                row += f" {_fmt(extra)[0]} |"
            theirs = None
            if from_schema is not None:
                theirs = measure(from_schema(inlined(event.schema_id)), event.schema_id, args.hjs_examples, 1)
            print(row + f" {_fmt(theirs)[0]} | {_fmt(theirs)[1]} | {_ratios(ours, theirs)} |", flush=True)
            for key, rate in (("ours", ours), ("hjs", theirs)):
                if rate is not None:
                    totals[key][0] += rate.count
                    totals[key][1] += rate.count * rate.valid_fraction
                    totals[key][2] += rate.count / rate.per_second

    print()
    for key, label in (("ours", "hookproof.conformance.strategies"), ("hjs", "hypothesis-jsonschema")):
        count, valid, seconds = totals[key]
        if seconds:
            print(f"whole catalog, {label}: {count / seconds:,.1f} payloads/s, {valid / seconds:,.1f} valid payloads/s")
    if totals["hjs"][2]:
        ours_rate, hjs_rate = (totals[k][0] / totals[k][2] for k in ("ours", "hjs"))
        ours_valid, hjs_valid = (totals[k][1] / totals[k][2] for k in ("ours", "hjs"))
        print(f"ours/hjs over the catalog: {ours_rate / hjs_rate:,.1f}x payloads/s, "
              f"{ours_valid / hjs_valid:,.1f}x valid payloads/s")
    seconds, count = default_run_seconds()
    print(f"default run ({DEFAULT_EXAMPLES} examples per event after the documented ones, every event of every "
          f"platform): {count} deliveries in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
