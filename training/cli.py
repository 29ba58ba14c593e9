"""`microlift`: the command line for data scientists (simulate, validate, calibrate, ...)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from microlift.models.contract import ContractError

log = logging.getLogger("microlift")


def _simulate(args: argparse.Namespace) -> int:
    from microlift.models.contract import validate
    from microlift.training.datasets import write_tables
    from microlift.training.simulation.generator import simulate

    started = time.perf_counter()
    if args.partitions:
        return _simulate_partitioned(args, started)
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


def _simulate_partitioned(args: argparse.Namespace, started: float) -> int:
    from microlift.training.simulation.partitioned import simulate_partitioned

    if args.format != "parquet":
        raise ValueError(f"--partitions writes Parquet part files; got --format {args.format}")
    counts = simulate_partitioned(args.creators, args.campaigns, args.partitions, args.out, seed=args.seed,
                                  progress=not args.quiet)
    print(f"wrote {args.partitions} part(s) per table to {args.out} in {time.perf_counter() - started:.1f} s "
          f"({', '.join(f'{name} {n:,}' for name, n in counts.items())})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from microlift.training.datasets import load_dataset

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

    from microlift.training.datasets import load_dataset
    from microlift.training.simulation.calibration import REFERENCE_UNITS_DURING, calibrate, simulate_reference

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


def _existing(text: str) -> Path:
    """An input path on the command line: refused by the parser, naming the option, when nothing is there."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text!r}")
    return path


def _params(value: str | None) -> dict:
    """Hyperparameters from a JSON string or file: {"engagement": {...}, "conversion": {...}, "lift": {...}}."""
    if not value:
        return {}
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--params: not valid JSON ({exc})") from exc
    unknown = set(params) - {"engagement", "conversion", "lift"}
    if not isinstance(params, dict) or unknown:
        raise ValueError(f"--params: expected keys engagement, conversion, lift; got {sorted(unknown)}")
    return params


def _print_metrics(metrics: dict[str, float]) -> None:
    for key in sorted(metrics):
        print(f"  {key:40s} {metrics[key]:.4f}")


def _train(args: argparse.Namespace) -> int:
    import mlflow

    from microlift.models.settings import Settings
    from microlift.training.datasets import load_dataset
    from microlift.training.prepare import prepare
    from microlift.training.tracking import configure, log_training, project_run_tags
    from microlift.training.train import train_all

    settings = Settings.from_env()
    params = _params(args.params)
    if args.engine == "dask":
        return _train_dask(args, settings, params)
    dataset = load_dataset(args.data)  # a malformed dataset fails here, before any run exists
    prep = prepare(dataset)
    experiment_id = configure(settings, args.experiment)
    started = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train {Path(args.data).name}",
                          tags=project_run_tags()):
        trained = train_all(prep, params, seed=args.seed, progress=not args.quiet)
        run_params = {"data": str(Path(args.data).resolve()), "seed": args.seed, "register": args.register,
                      **{f"{k}.{p}": v for k, kp in params.items() for p, v in kp.items()}}
        run_id, versions = log_training(trained, dataset, settings, run_params, args.register)
    _print_training(run_id, started, settings, trained, versions)
    return 0


def _train_dask(args: argparse.Namespace, settings, params: dict) -> int:
    import mlflow

    from microlift.training.distributed.cluster import connect
    from microlift.training.distributed.data import load_partitioned
    from microlift.training.distributed.train import train_all
    from microlift.training.tracking import configure, log_training, project_run_tags

    data = load_partitioned(args.data)  # creators and campaigns are checked here; posts as they are read
    experiment_id = configure(settings, args.experiment)
    started = time.perf_counter()
    with connect(args.scheduler, workers=args.workers) as client, mlflow.start_run(
            experiment_id=experiment_id, run_name=f"train {Path(args.data).name}", tags=project_run_tags()):
        trained = train_all(client, data, params, seed=args.seed, progress=not args.quiet)
        run_params = {"data": str(Path(args.data).resolve()), "seed": args.seed, "register": args.register,
                      **{f"{k}.{p}": v for k, kp in params.items() for p, v in kp.items()},
                      "engine": "dask", "dask.workers": len(client.scheduler_info().get("workers", {})),
                      **{f"dask.rounds.{k}": v for k, v in trained.rounds.items()}}
        run_id, versions = log_training(trained, data.dataset(), settings, run_params, args.register)
    _print_training(run_id, started, settings, trained, versions)
    return 0


def _print_training(run_id: str, started: float, settings, trained, versions: dict) -> None:
    print(f"run {run_id} in {time.perf_counter() - started:.1f} s ({settings.tracking_uri})")
    _print_metrics(trained.metrics)
    for kind, reason in trained.skipped.items():
        print(f"  {kind} model skipped: {reason}")
    if versions:
        print("registered: " + ", ".join(f"{settings.model_name(k)} v{v}" for k, v in versions.items()))


def _evaluate(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training import registry
    from microlift.training.datasets import load_dataset
    from microlift.training.evaluate import evaluate
    from microlift.training.prepare import prepare

    settings = Settings.from_env()
    prep = prepare(load_dataset(args.data))
    version_set = registry.resolve(settings, args.version)
    metrics = evaluate(registry.load(settings, version_set), prep, held_out_only=args.held_out)
    print(json.dumps({"version_set": version_set.versions, "data": str(args.data), "held_out_only": args.held_out,
                      "metrics": metrics}, indent=2, sort_keys=True))
    return 0


def _promote(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training import registry
    from microlift.training.datasets import load_dataset
    from microlift.training.evaluate import evaluate
    from microlift.training.prepare import prepare

    settings = Settings.from_env()
    alias = settings.model_alias
    candidate = registry.resolve(settings, args.version)
    try:
        champion = registry.resolve(settings, alias)
    except LookupError:
        champion = None
    if champion is not None and champion.versions == candidate.versions:
        print(f"not moved: versions {candidate.versions} already hold the {alias!r} alias")
        return 0
    if set(candidate.versions) != {"engagement", "conversion", "lift"} and not args.force:
        print(f"not moved: candidate {candidate.versions} lacks some of the three models; use --force to promote "
              "it anyway")
        return 1
    if args.force or champion is None:
        reason = "--force" if args.force else f"there is no {alias!r} yet"
        registry.set_alias(settings, candidate, alias)
        print(f"moved {alias!r} to {candidate.versions}: {reason}")
        return 0
    if args.data is None:
        print("error: comparing with the champion needs --data DIR (scored on its held-out groups)", file=sys.stderr)
        return 2
    prep = prepare(load_dataset(args.data))
    scores = {name: evaluate(registry.load(settings, vs), prep, held_out_only=True)
              for name, vs in (("candidate", candidate), ("champion", champion))}
    wins, reasons = registry.compare(scores["candidate"], scores["champion"])
    for line in reasons:
        print("  " + line)
    if wins:
        registry.set_alias(settings, candidate, alias)
        print(f"moved {alias!r} from {champion.versions} to {candidate.versions}: the candidate is better on the "
              "same held-out data")
        return 0
    print(f"not moved: {alias!r} stays on {champion.versions}; the candidate does not beat it on the same "
          "held-out data")
    return 1


def _models(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training import registry

    rows = registry.list_versions(Settings.from_env())
    if not rows:
        print("no registered microlift models")
        return 0
    print(f"{'model':28s} {'version':>7s}  {'aliases':18s} version set")
    for row in rows:
        print(f"{row['model']:28s} {row['version']:>7d}  {','.join(row['aliases']) or '-':18s} {row['version_set']}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training.datasets import load_dataset
    from microlift.training.prepare import prepare
    from microlift.training.tune import tune

    settings = Settings.from_env()
    prep = prepare(load_dataset(args.data))
    best = tune(prep, settings, args.model, args.trials, args.experiment, seed=args.seed)
    print(json.dumps({args.model: best}, indent=2, sort_keys=True))
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from microlift.training.adapters import kim
    from microlift.training.datasets import write_tables

    tables = kim.adapt(args.src)
    written = write_tables(tables, args.out, fmt=args.format)
    print(f"wrote {len(written)} tables to {args.out} "
          f"({', '.join(f'{k} {len(v):,}' for k, v in tables.items())})")
    return 0


def _engine(args: argparse.Namespace, which: str) -> int:
    from microlift.models.brief import BriefError
    from microlift.models.settings import Settings
    from microlift.training import plan, registry

    plot = getattr(args, "plot", None)
    if plot is not None:
        plan.check_plot_path(plot)
    brief, options = plan.read_brief(args.campaign)
    if plot is not None:
        plan.check_plot_path(plot, brief.budget)
    creators = plan.load_candidates(args.candidates)
    settings = Settings.from_env()
    version_set = registry.resolve(settings, args.version)
    missing = {"engagement", "conversion", "lift"} - set(version_set.versions)
    if missing:
        raise LookupError(f"version set {version_set.versions} lacks the {', '.join(sorted(missing))} model(s)")
    models = registry.load(settings, version_set)
    try:
        run = plan.run_rank if which == "rank" else plan.run_forecast
        result = run(brief, options, creators, models, version_set.versions)
    except BriefError as exc:
        raise ValueError(str(exc)) from exc
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        (plan.print_rank if which == "rank" else plan.print_forecast)(result)
    if plot is not None:
        plan.save_budget_curve(result, brief, plot)
        print(f"budget curve written to {plot}", file=sys.stderr)
    return 0


def _score(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training import plan, registry
    from microlift.training.distributed import score

    brief, _ = plan.read_brief(args.campaign)
    settings = Settings.from_env()
    version_set = registry.resolve(settings, args.version)
    missing = {"engagement", "conversion"} - set(version_set.versions)
    if missing:
        raise LookupError(f"version set {version_set.versions} lacks the {', '.join(sorted(missing))} model(s)")
    wanted = {k: v for k, v in version_set.versions.items() if k in ("engagement", "conversion")}
    models = registry.load(settings, registry.VersionSet(wanted, version_set.label))
    started = time.perf_counter()
    if args.engine == "dask":
        import pyarrow.parquet as pq

        from microlift.training.distributed.cluster import connect

        with connect(args.scheduler, workers=args.workers):
            scored = score.score_partitioned(args.catalog, brief, models)
            scored.to_parquet(args.out, write_index=False, overwrite=Path(args.out).is_dir())
            rows = sum(pq.ParquetFile(part).metadata.num_rows for part in Path(args.out).glob("*.parquet"))
    else:
        frame = score.score_in_process(args.catalog, brief, models)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(args.out, index=False)
        rows = len(frame)
    seconds = time.perf_counter() - started
    print(f"scored {rows:,} creators with models {wanted} in {seconds:.1f} s "
          f"({rows / max(seconds, 1e-9):,.0f} rows/s); wrote {args.out}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from microlift.models.settings import Settings
    from microlift.training import registry
    from microlift.training.backtest import forecast_backtest
    from microlift.training.datasets import load_dataset

    settings = Settings.from_env()
    dataset = load_dataset(args.data, require=("creators", "posts", "campaigns"))
    version_set = registry.resolve(settings, args.version)
    result = forecast_backtest(dataset, registry.load(settings, version_set), draws=args.draws, seed=args.seed)
    print(json.dumps({"version_set": version_set.versions, "data": str(args.data), **result}, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from microlift.models.settings import ServiceSettings
    from microlift.serving import catalog
    from microlift.serving.serve import bootstrap, ensure_key, run_gunicorn

    if args.bootstrap:
        bootstrap(args.bootstrap)
    else:
        catalog.migrate(ServiceSettings.from_env().database_url)
    service = ServiceSettings.from_env()
    ensure_key(service)
    print(f"starting gunicorn on {service.bind}: {service.workers} worker(s) x {service.threads} thread(s), "
          f"timeout {service.timeout} s", flush=True)
    run_gunicorn(service)
    return 0  # not reached: gunicorn replaces this process


def _keygen(args: argparse.Namespace) -> int:
    from microlift.models.settings import ServiceSettings
    from microlift.serving.auth import new_key

    service = ServiceSettings.from_env()
    key = new_key(service.api_keys_file)
    print(f"new API key (shown once; its sha256 was added to {service.api_keys_file}):\n{key}")
    return 0


def _import_creators(args: argparse.Namespace) -> int:
    from microlift.models.settings import ServiceSettings
    from microlift.serving import catalog
    from microlift.serving.serve import import_dataset

    service = ServiceSettings.from_env()
    catalog.migrate(service.database_url)
    engine = catalog.engine_for(service.database_url)
    result = import_dataset(args.path, engine)
    print(f"{result.received:,} creators: {result.created:,} new, {result.updated:,} updated, "
          f"{result.unchanged:,} unchanged; the catalog holds {result.catalog_size:,} (revision {result.revision})")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from microlift.models.settings import ServiceSettings
    from microlift.serving import catalog

    url = ServiceSettings.from_env().database_url
    catalog.migrate(url)
    print("catalog database is at the newest schema")
    return 0


def _dask_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--engine", choices=("local", "dask"), default="local", help=f"{what} (default local)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default "
                        "$DASK_SCHEDULER_ADDRESS, else a local cluster started for this command)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default 2; 1 thread "
                        "each)")


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
    sim.add_argument("--partitions", type=int, metavar="N", help="write creators and posts as N Parquet part "
                     "files each, one market slice at a time, for datasets larger than memory")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(run=_simulate)

    val = commands.add_parser("validate", help="check a dataset folder against the data contract",
                              description="Load creators, posts and campaigns (CSV or Parquet) from a folder "
                                          "and report every problem at once. Exit code 1 when invalid.")
    val.add_argument("--data", type=_existing, required=True, help="folder with creators/posts/campaigns files")
    val.set_defaults(run=_validate)

    cal = commands.add_parser("calibrate", help="compare a simulated dataset with the calibration targets",
                              description="Print each calibration target, its source, the accepted range and "
                                          "the dataset's value. Exit code 1 when a target is out of range.")
    cal.add_argument("--data", type=_existing, required=True, help="folder written by `microlift simulate`")
    cal.add_argument("--reference", type=int, default=0, metavar="DRAWS",
                     help="also run the reference campaign (DESIGN §2) this many times")
    cal.add_argument("--seed", type=int, default=0, help="seed for the reference draws")
    cal.set_defaults(run=_calibrate)

    tr = commands.add_parser("train", help="train the engagement, conversion and lift models (tracked in MLflow)",
                             description="Train the three models from a contract dataset, score them on grouped "
                                         "held-out data (by creator; by campaign for lift) and log one MLflow run: "
                                         "parameters, data fingerprint, metrics, plots and the models. Models that "
                                         "the data cannot train (no campaigns) are skipped with a message.")
    tr.add_argument("--data", type=_existing, required=True, help="folder with creators/posts[/campaigns] files")
    tr.add_argument("--experiment", help="MLflow experiment (default $MICROLIFT_EXPERIMENT or 'microlift')")
    tr.add_argument("--register", action="store_true", help="create registry versions of the trained models")
    tr.add_argument("--params", help="hyperparameters as JSON or a JSON file, e.g. the output of `microlift tune`")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    _dask_arguments(tr, "--engine dask fits the engagement and conversion models with LightGBM's Dask estimators "
                        "on partitioned data (a folder of Parquet parts per table)")
    tr.set_defaults(run=_train)

    ev = commands.add_parser("evaluate", help="score a registered version set on any contract dataset (JSON)",
                             description="Load a registered version set and print its metrics on a dataset as "
                                         "JSON (all rows by default).")
    ev.add_argument("--data", type=_existing, required=True, help="contract dataset folder")
    ev.add_argument("--version", help="alias, version number or 'latest' (default: the serving alias)")
    ev.add_argument("--held-out", action="store_true", help="score only the held-out groups of the dataset")
    ev.set_defaults(run=_evaluate)

    pr = commands.add_parser("promote", help="move the serving alias to a candidate if it beats the champion",
                             description="Score candidate and champion on the same held-out data and move the "
                                         "alias ($MICROLIFT_MODEL_ALIAS, default 'champion') only when the "
                                         "candidate is better on at least one headline metric (engagement R2, "
                                         "conversion deviance, lift MdAPE) and worse on none. Says why either way.")
    pr.add_argument("--version", default="latest", help="candidate: version number, alias or 'latest' (default)")
    pr.add_argument("--data", type=_existing, help="dataset whose held-out groups decide")
    pr.add_argument("--force", action="store_true", help="move the alias without comparing")
    pr.set_defaults(run=_promote)

    md = commands.add_parser("models", help="list registered versions and their aliases")
    md.set_defaults(run=_models)

    tu = commands.add_parser("tune", help="search hyperparameters with Optuna (one nested MLflow run per trial)",
                             description="Search LightGBM hyperparameters of one model on a validation split "
                                         "carved out of the training groups (the held-out test groups are never "
                                         "used). Prints the best parameters as JSON for `train --params`.")
    tu.add_argument("--data", type=_existing, required=True, help="contract dataset folder")
    tu.add_argument("--trials", type=int, default=20, help="number of trials (default 20)")
    tu.add_argument("--model", choices=("engagement", "conversion", "lift"), default="engagement",
                    help="which model to tune (default engagement)")
    tu.add_argument("--experiment", help="MLflow experiment (default $MICROLIFT_EXPERIMENT or 'microlift')")
    tu.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    tu.set_defaults(run=_tune)

    ad = commands.add_parser("adapt", help="turn a public creator dataset into contract tables",
                             description="Convert a public dataset into creators/posts tables. Sources: "
                                         "kim-instagram (influencers.txt, post_table.csv and, when present, "
                                         "posts_meta_derived.csv).")
    ad.add_argument("source", choices=("kim-instagram",), help="which dataset")
    ad.add_argument("--src", type=_existing, required=True, help="folder holding the source files")
    ad.add_argument("--out", type=Path, required=True, help="output folder")
    ad.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format")
    ad.set_defaults(run=_adapt)

    sc = commands.add_parser("score", help="batch-score a creator catalog for a campaign (Parquet out)",
                             description="Score every creator of a catalog for a campaign brief with the "
                                         "registered engagement and conversion models: expected posts, "
                                         "engagements, attributed units, cost and eligibility per creator, "
                                         "written as Parquet. --engine dask scores partition by partition on a "
                                         "Dask cluster and writes a folder of Parquet parts.")
    sc.add_argument("--catalog", type=_existing, required=True, help="a creators file (CSV/Parquet), a folder of "
                    "creators Parquet parts, or a dataset folder whose posts give history")
    sc.add_argument("--campaign", type=_existing, required=True, help="campaign brief (JSON file, as for rank)")
    sc.add_argument("--out", type=Path, required=True, help="Parquet file (a folder of parts with --engine dask)")
    sc.add_argument("--version", help="alias or version number (default: the serving alias)")
    _dask_arguments(sc, "--engine dask scores the catalog's partitions on a Dask cluster")
    sc.set_defaults(run=_score)

    bt = commands.add_parser("backtest", help="forecast held-out past campaigns and compare with what happened",
                             description="For each held-out campaign with observed sales, forecast its roster "
                                         "with the registered models and report the 80% interval coverage and the "
                                         "median absolute percentage error of the median forecast (beside the "
                                         "truth's own error on simulated data), as JSON.")
    bt.add_argument("--data", type=_existing, required=True, help="contract dataset with campaigns and outcomes")
    bt.add_argument("--version", help="alias or version number (default: the serving alias)")
    bt.add_argument("--draws", type=int, default=400, help="Monte Carlo draws per campaign (default 400)")
    bt.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    bt.set_defaults(run=_backtest)

    sv = commands.add_parser("serve", help="run the HTTP service under gunicorn",
                             description="Bring the catalog database to the newest schema, then run the service "
                                         "under gunicorn. Settings come from environment variables (README: "
                                         "Service). With --bootstrap DIR, first make whatever is missing: a "
                                         "simulated dataset in DIR, models trained and registered under the "
                                         "serving alias, the catalog imported from DIR, an API key.")
    sv.add_argument("--bootstrap", type=Path, metavar="DIR", help="dataset folder to simulate into / import from")
    sv.set_defaults(run=_serve)
    kg = commands.add_parser("keygen", help="make an API key for write and admin routes (only its hash is kept)")
    kg.set_defaults(run=_keygen)
    ic = commands.add_parser("import-creators", help="upsert creators into the service's catalog database",
                             description="Validate and upsert a creators file, or a dataset folder whose posts "
                                         "give each creator a history and track record, into DATABASE_URL; all "
                                         "rows or none. Running workers pick the change up on their next request.")
    ic.add_argument("path", type=_existing, help="creators file (CSV/Parquet) or dataset folder")
    ic.set_defaults(run=_import_creators)
    mg = commands.add_parser("migrate", help="bring the catalog database to the newest schema (Alembic)")
    mg.set_defaults(run=_migrate)

    for which, text in (("rank", "rank a campaign's candidates by profit, ROI, conversions or engagement"),
                        ("forecast", "choose a roster for the budget and forecast the sales lift")):
        sub = commands.add_parser(which, help=text, description=text.capitalize() + ", with the registered "
                                  "models. The campaign file holds the brief (niche, product_price, "
                                  "baseline_units_per_month, compensation, marketplace, weeks, budget, ...) and "
                                  "optionally objective, top_k, limits, target_roas, draws and seed.")
        sub.add_argument("--campaign", type=_existing, required=True, help="campaign brief (JSON file)")
        sub.add_argument("--candidates", type=_existing, required=True,
                         help="a creators file (CSV/Parquet), or a dataset folder whose posts give history")
        sub.add_argument("--version", help="alias or version number (default: the serving alias)")
        sub.add_argument("--json", action="store_true", help="print JSON (the shape the HTTP API returns)")
        if which == "forecast":
            sub.add_argument("--plot", type=Path, metavar="FILE",
                             help="also draw the budget-response curve (median and p10-p90 of incremental "
                                  "units/month, marginal return per step, the asked and suggested budgets) to FILE "
                                  "(.png, .svg or .pdf)")
        sub.set_defaults(run=lambda args, which=which: _engine(args, which))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # our own output stays readable
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin registry logs at import time
    try:
        return args.run(args)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
