"""`microlift`: the command line for data scientists (simulate, validate, calibrate, ...)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from models.contract import ContractError

log = logging.getLogger("microlift")


def _simulate(args: argparse.Namespace) -> int:
    from models.contract import validate
    from training.datasets import write_tables
    from training.simulation.generator import simulate

    started = time.perf_counter()
    tables = simulate(args.creators, args.campaigns, seed=args.seed, progress=not args.quiet)
    for name in ("creators", "posts", "campaigns"):  # the simulator must honour the contract it feeds
        if name in tables:
            validate(name, tables[name], source=f"simulated {name}")
    written = write_tables(tables, args.out, fmt=args.format)
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items()
                       if not name.startswith("truth"))
    print(f"wrote {len(written)} tables to {args.out} in {seconds:.1f} s ({counts})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from training.datasets import load_dataset

    dataset = load_dataset(args.data)
    for name, frame in dataset.tables().items():
        print(f"{dataset.sources[name].name}: {len(frame):,} rows, valid")
    for message in dataset.warnings:
        print(f"warning: {message}")
    if dataset.truth:
        print(f"truth tables: {', '.join(sorted(dataset.truth))}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import pandas as pd

    from training.datasets import load_dataset
    from training.simulation.calibration import REFERENCE_UNITS_DURING, calibrate, simulate_reference

    dataset = load_dataset(args.data, require=("creators", "posts", "campaigns"))
    if "truth_rosters" not in dataset.truth:
        print(f"error: {args.data} has no truth tables; calibration needs a simulated dataset", file=sys.stderr)
        return 2
    table = calibrate({**dataset.tables(), **dataset.truth})
    with pd.option_context("display.width", 200, "display.max_colwidth", 50):
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    if args.reference:
        runs = simulate_reference(draws=args.reference, seed=args.seed)
        low, mid, high = runs["units_during"].quantile([0.1, 0.5, 0.9])
        print(f"\nreference campaign ({args.reference} draws): units/month during p10 {low:,.0f}, "
              f"p50 {mid:,.0f}, p90 {high:,.0f}; reported {REFERENCE_UNITS_DURING:,.0f}")
    return 0 if table["ok"].all() else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microlift",
        description="Pick micro-influencers for a social-commerce campaign and forecast what a budget does "
                    "to sales. Data scientists simulate or load data, validate it and train the models here.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sim = commands.add_parser("simulate", help="write a simulated dataset (contract tables + truth tables)",
                              description="Simulate creators, their posts, campaigns and sales from the "
                                          "documented generative model (training/simulation/config.py). "
                                          "Deterministic for a seed.")
    sim.add_argument("--creators", type=int, default=5_000, help="number of creators (default 5000)")
    sim.add_argument("--campaigns", type=int, default=100, help="number of campaigns (default 100)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--out", type=Path, default=Path("data/simulated"), help="output folder "
                     "(default data/simulated)")
    sim.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format "
                     "(default parquet)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(run=_simulate)

    val = commands.add_parser("validate", help="check a dataset folder against the data contract",
                              description="Load creators, posts and campaigns (CSV or Parquet) from a folder "
                                          "and report every problem at once. Exit code 1 when invalid.")
    val.add_argument("--data", type=Path, required=True, help="folder with creators/posts/campaigns files")
    val.set_defaults(run=_validate)

    cal = commands.add_parser("calibrate", help="compare a simulated dataset with the calibration targets",
                              description="Print each calibration target, its source, the accepted range and "
                                          "the dataset's value. Exit code 1 when a target is out of range.")
    cal.add_argument("--data", type=Path, required=True, help="folder written by `microlift simulate`")
    cal.add_argument("--reference", type=int, default=0, metavar="DRAWS",
                     help="also run the reference campaign (DESIGN §2) this many times")
    cal.add_argument("--seed", type=int, default=0, help="seed for the reference draws")
    cal.set_defaults(run=_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
