"""The data scientist's commands: simulate, validate, calibrate, train, evaluate, promote, models, tune, adapt,
backtest. Each takes the parsed arguments, calls `microlift.training` and prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from microlift.commands.planning import models_of
from microlift.models import registry
from microlift.models.datasets import load_dataset, write_tables
from microlift.models.modelstore import load_version_set
from microlift.models.settings import MODEL_KINDS, Settings
from microlift.training import evaluate as evaluation
from microlift.training import pipeline
from microlift.training.adapters import kim
from microlift.training.backtest import forecast_backtest
from microlift.training.prepare import prepare
from microlift.training.simulation import calibration


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars redraw one line with carriage returns: only for a person at a terminal, never in a log file,
    a pipe or CI (there the stages' log lines say how far a command got)."""
    return not args.quiet and sys.stderr.isatty()


def simulate(args: argparse.Namespace) -> int:
    done = pipeline.simulate_dataset(args.out, args.creators, args.campaigns, seed=args.seed, fmt=args.format,
                                     partitions=args.partitions, progress=_progress(args))
    counts = ", ".join(f"{name} {n:,}" for name, n in done.counts.items())
    what = f"{args.partitions} part(s) per table" if args.partitions else f"{done.written} tables"
    print(f"wrote {what} to {args.out} in {done.seconds:.1f} s ({counts})")
    return 0


def validate(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data)
    for name, frame in dataset.tables().items():
        print(f"{dataset.sources[name].name}: {len(frame):,} rows, valid")
    for message in dataset.warnings:
        print(f"warning: {message}")
    if dataset.truth:
        print(f"truth tables: {', '.join(sorted(dataset.truth))}")
    return 0


def calibrate(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data, require=("creators", "posts", "campaigns"))
    if "truth_rosters" not in dataset.truth:
        print(f"error: {args.data} has no truth tables; calibration needs a simulated dataset", file=sys.stderr)
        return 2
    table = calibration.calibrate({**dataset.tables(), **dataset.truth})
    with pd.option_context("display.width", 200, "display.max_colwidth", 50):
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    if args.reference:
        runs = calibration.simulate_reference(draws=args.reference, seed=args.seed)
        low, mid, high = runs["units_during"].quantile([0.1, 0.5, 0.9])
        print(f"\nreference campaign ({args.reference} draws): units/month during p10 {low:,.0f}, "
              f"p50 {mid:,.0f}, p90 {high:,.0f}; reported {calibration.REFERENCE_UNITS_DURING:,.0f}")
    return 0 if table["ok"].all() else 1


def _params(value: str | None) -> dict:
    """Hyperparameters from a JSON string or file: {"engagement": {...}, "conversion": {...}, "posting": {...},
    "lift": {...}} (any of them)."""
    if not value:
        return {}
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--params: not valid JSON ({exc})") from exc
    unknown = set(params) - set(MODEL_KINDS) if isinstance(params, dict) else {"(not an object)"}
    if unknown:
        raise ValueError(f"--params: expected keys {', '.join(MODEL_KINDS)}; got {sorted(unknown)}")
    return params


def _print_metrics(metrics: dict[str, float]) -> None:
    for key in sorted(metrics):
        print(f"  {key:40s} {metrics[key]:.4f}")


def train(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    params = _params(args.params)
    if args.engine == "dask" and args.with_results:
        print("error: --with-results trains in this process: leave out --engine dask (imported results are a "
              "few thousand rows at most)", file=sys.stderr)
        return 2
    if args.engine == "dask":
        from microlift.training.distributed import pipeline as dask_pipeline  # the optional 'dask' extra

        run = dask_pipeline.train_models(args.data, settings, args.scheduler, args.workers, args.experiment,
                                         params, args.seed, args.register, progress=_progress(args))
    else:
        run = pipeline.train_models(args.data, settings, args.experiment, params, args.seed, args.register,
                                    progress=_progress(args), results=_results(args))
    print(f"run {run.run_id} in {run.seconds:.1f} s ({settings.tracking_uri})")
    _print_metrics(run.trained.metrics)
    for kind, reason in run.trained.skipped.items():
        print(f"  {kind} model skipped: {reason}")
    if run.versions:
        print("registered: " + ", ".join(f"{settings.model_name(k)} v{v}" for k, v in run.versions.items()))
    if run.same_as is not None:
        earlier = ", ".join(f"{name} v{v}" for name, v in run.same_as.versions.items())
        print(f"same data and parameters as run {run.same_as.run_id} "
              f"({'registered as ' + earlier if earlier else 'not registered'})")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prep = prepare(load_dataset(args.data))
    version_set = registry.resolve(settings, args.version)
    bundle = load_version_set(settings, version_set.versions, version_set.label, tuple(version_set.versions),
                              compile=False)
    metrics = evaluation.evaluate(bundle.models, prep, held_out_only=args.held_out)
    print(json.dumps({"version_set": version_set.versions, "data": str(args.data), "held_out_only": args.held_out,
                      "metrics": metrics}, indent=2, sort_keys=True))
    return 0


def _results(args: argparse.Namespace) -> dict | None:
    """The measured campaigns of the catalog database as contract tables, when --with-results asks for them."""
    if not getattr(args, "with_results", False):
        return None
    from microlift.serving import campaigns, catalog
    from microlift.serving.settings import ServiceSettings

    url = ServiceSettings.from_env().database_url
    catalog.migrate(url)
    tables = campaigns.results_tables(catalog.engine_for(url))
    count = len(tables.get("campaigns", ()))
    print(f"with results: {count} measured campaign(s) from the catalog database", flush=True)
    return tables if count else None


def promote(args: argparse.Namespace) -> int:
    done = pipeline.promote(Settings.from_env(), args.version, args.data, args.force, results=_results(args))
    if done.needs_data:
        print(f"error: {done.lines[-1]}", file=sys.stderr)
        return 2
    print("\n".join(done.lines))
    return 0 if done.moved or done.already else 1


def models(args: argparse.Namespace) -> int:
    rows = registry.list_versions(Settings.from_env())
    if not rows:
        print("no registered microlift models")
        return 0
    print(f"{'model':28s} {'version':>7s}  {'aliases':18s} version set")
    for row in rows:
        print(f"{row['model']:28s} {row['version']:>7d}  {','.join(row['aliases']) or '-':18s} {row['version_set']}")
    return 0


def tune(args: argparse.Namespace) -> int:
    from microlift.training.tune import tune  # the optional 'tune' extra (Optuna)

    settings = Settings.from_env()
    prep = prepare(load_dataset(args.data))
    best = tune(prep, settings, args.model, args.trials, args.experiment, seed=args.seed)
    print(json.dumps({args.model: best}, indent=2, sort_keys=True))
    return 0


def adapt(args: argparse.Namespace) -> int:
    tables = kim.adapt(args.src)
    written = write_tables(tables, args.out, fmt=args.format)
    print(f"wrote {len(written)} tables to {args.out} "
          f"({', '.join(f'{k} {len(v):,}' for k, v in tables.items())})")
    return 0


def backtest(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    dataset = load_dataset(args.data, require=("creators", "posts", "campaigns"))
    bundle = models_of(settings, args.version)
    result = forecast_backtest(dataset, bundle.models, draws=args.draws, seed=args.seed)
    print(json.dumps({"version_set": bundle.versions, "data": str(args.data), **result}, indent=2))
    return 0


