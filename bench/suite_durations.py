"""Test durations against an earlier commit: every test's time in this tree and in REV's, one suite after the other.

Baseline: the test suite of REV (its tree extracted by `git archive`, imported through PYTHONPATH by the same
virtualenv, as `forecast_load.py --baseline` runs it), run with the same command as this tree's
(`pytest -n 2 --dist loadgroup`, the README's) and the same environment, so the PostgreSQL and Redis tests run in
both when MICROLIFT_TEST_DATABASE_URL and MICROLIFT_TEST_REDIS_URL are set. Each test's time is its JUnit time
(setup, call and teardown). A module's shared fixtures are paid by whichever of its tests runs first on a worker,
which the two runs need not agree on, so every test found slower by more than the target (and long enough to
measure) is run again alone in both trees, in turn, `--confirm` times each; a test is slower only if every rerun
says so. Target: no test more than 1.1x its time at REV.

    python bench/suite_durations.py --baseline 0398a49                # both suites (about 40 minutes here)
    python bench/suite_durations.py --baseline 0398a49 --current NEW.xml --previous OLD.xml   # reports already run
    python bench/suite_durations.py --tiny                            # seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from _service import ROOT, BenchError, load_average, print_table, revision_tree, scratch

TARGET = 1.1


def junit_times(report: Path) -> pd.DataFrame:
    """One row per test of a JUnit report: its node id, seconds and outcome (passed, failed, skipped)."""
    rows = []
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        outcome = next((kind for kind in ("failure", "error", "skipped") if case.find(kind) is not None), "passed")
        rows.append({"test": f"{module}.py::{case.get('name')}", "file": f"{module}.py",
                     "seconds": float(case.get("time") or 0.0), "outcome": outcome})
    return pd.DataFrame(rows, columns=["test", "file", "seconds", "outcome"])


def run_suite(tree: Path, report: Path, selection: list[str], workers: int, env: dict[str, str]) -> float:
    """`pytest` in `tree` (its own code through PYTHONPATH), JUnit report to `report`; the wall seconds."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
            f"--basetemp={scratch('microlift-bench-tests-')}", *selection]
    if workers > 1:
        argv[4:4] = ["-n", str(workers), "--dist", "loadgroup"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
    if not report.is_file():
        raise BenchError(f"pytest in {tree} wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return time.perf_counter() - started


def tree_env(tree: Path) -> dict[str, str]:
    """This environment, less what a test run of pytest-xdist set (the bench may itself run under one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    if tree != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def compare(current: pd.DataFrame, previous: pd.DataFrame, min_seconds: float) -> pd.DataFrame:
    """Tests that passed in both, with both times and their ratio, slowest ratio first."""
    both = current.merge(previous, on="test", suffixes=("", "_rev"))
    both = both[(both["outcome"] == "passed") & (both["outcome_rev"] == "passed")]
    both = both.assign(ratio=both["seconds"] / both["seconds_rev"].clip(lower=1e-6),
                       measured=(both["seconds"] >= min_seconds) | (both["seconds_rev"] >= min_seconds))
    return both.sort_values("ratio", ascending=False, kind="stable").reset_index(drop=True)


def confirm(tests: list[str], trees: dict[str, Path], times: int) -> pd.DataFrame:
    """Each test run alone in both trees, in turn, `times` times: its seconds in each (JUnit time)."""
    rows = []
    for test in tests:
        for attempt in range(times):
            seconds = {}
            for name, tree in trees.items():
                report = scratch("microlift-bench-one-") / "junit.xml"
                run_suite(tree, report, [test], 1, tree_env(tree))
                found = junit_times(report)
                found = found[found["outcome"] == "passed"]
                seconds[name] = float(found["seconds"].sum()) if len(found) else float("nan")
            rows.append({"test": test, "attempt": attempt + 1, "seconds": seconds["current"],
                         "seconds_rev": seconds["rev"], "ratio": seconds["current"] / seconds["rev"]})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="0398a49", help="the earlier commit (default 0398a49)")
    parser.add_argument("--current", type=Path, help="this tree's JUnit report, already run (skips its suite)")
    parser.add_argument("--previous", type=Path, help="the baseline's JUnit report, already run (skips its suite)")
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="tests shorter than this in both runs are listed apart: their times are noise")
    parser.add_argument("--confirm", type=int, default=2,
                        help="reruns of each test found slower (default 2; 0: none). A test alone sets up its module's "
                             "fixtures: a few suspects of a slow module take minutes each")
    parser.add_argument("--tiny", action="store_true", help="one small test file against HEAD, for the smoke test")
    args = parser.parse_args()
    selection = ["tests/models/test_rounding.py"] if args.tiny else []
    baseline = "HEAD" if args.tiny else args.baseline
    tree, commit = revision_tree(baseline)
    trees = {"current": ROOT, "rev": tree}
    reports = {"current": args.current, "rev": args.previous}
    walls = {}
    for name in ("rev", "current"):  # the baseline first: this tree's run ends nearest the confirmation reruns
        if reports[name] is None:
            reports[name] = scratch(f"microlift-bench-{name}-") / "junit.xml"
            walls[name] = run_suite(trees[name], reports[name], selection, 1 if args.tiny else 2,
                                    tree_env(trees[name]))
    current, previous = junit_times(reports["current"]), junit_times(reports["rev"])
    both = compare(current, previous, args.min_seconds)
    measured = both[both["measured"]]
    print(f"{load_average()}; baseline {commit}")
    for name, label in (("rev", commit), ("current", "this tree")):
        frame = current if name == "current" else previous
        wall = f", wall {walls[name]:,.0f} s" if name in walls else " (report given)"
        print(f"{label}: {len(frame)} tests, {frame['outcome'].value_counts().to_dict()}, "
              f"summed {frame['seconds'].sum():,.0f} s{wall}")
    print(f"{len(both)} tests passed in both; {len(measured)} take {args.min_seconds:g} s or more in one of them")
    files = both.groupby("file")[["seconds", "seconds_rev"]].sum()
    files = files.assign(ratio=files["seconds"] / files["seconds_rev"].clip(lower=1e-6))
    print("\nslowest files against the baseline (sum of their tests' times):")
    print_table(files.sort_values("ratio", ascending=False).head(10).reset_index().to_dict("records"))
    print(f"\ntests of {args.min_seconds:g} s or more, slowest against the baseline:")
    if len(measured):
        print_table(measured[["test", "seconds", "seconds_rev", "ratio"]].head(15).to_dict("records"))
    else:
        print("none")
    suspects = measured.loc[measured["ratio"] > TARGET, "test"].tolist()
    slower = []
    if suspects and args.confirm > 0:
        print(f"\n{len(suspects)} test(s) above {TARGET}x: each run again alone in both trees, "
              f"{args.confirm} time(s)")
        reruns = confirm(suspects, trees, args.confirm)
        print_table(reruns.to_dict("records"))
        worst = reruns.groupby("test")["ratio"].min()
        slower = worst[worst > TARGET].index.tolist()
    if suspects and args.confirm <= 0:
        print(f"\n{len(suspects)} test(s) above {TARGET}x in the suites, not run again (--confirm 0): unconfirmed")
        return
    print(f"\nworst ratio over tests of {args.min_seconds:g} s or more: "
          f"{measured['ratio'].max() if len(measured) else float('nan'):.2f} in the suites; "
          f"tests slower than {TARGET}x in every rerun: {len(slower)} {slower} (target 0)")


if __name__ == "__main__":
    main()
