"""`microlift`: the one command of both sides. It parses arguments and hands them to a handler in
`microlift.commands` (training, planning, service), which calls functions of `microlift.training`,
`microlift.serving` and the planning service of `microlift.models`, and prints.

A command's handler module is imported when the command runs, not here: `microlift --help` takes 0.6 s this way
and 3.6 s with every side imported up front (MLflow, Flask, LightGBM, SQLAlchemy). The Dask and Optuna modules
come from the optional `dask` and `tune` extras and are imported only by the commands that use them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from microlift.models.contract import ContractError
from microlift.models.settings import process_environment

log = logging.getLogger("microlift")


def _existing(text: str) -> Path:
    """An input path on the command line: refused by the parser, naming the option, when nothing is there."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text!r}")
    return path


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
    sim.set_defaults(run="training:simulate")

    val = commands.add_parser("validate", help="check a dataset folder against the data contract",
                              description="Load creators, posts and campaigns (CSV or Parquet) from a folder "
                                          "and report every problem at once. Exit code 1 when invalid.")
    val.add_argument("--data", type=_existing, required=True, help="folder with creators/posts/campaigns files")
    val.set_defaults(run="training:validate")

    cal = commands.add_parser("calibrate", help="compare a simulated dataset with the calibration targets",
                              description="Print each calibration target, its source, the accepted range and "
                                          "the dataset's value. Exit code 1 when a target is out of range.")
    cal.add_argument("--data", type=_existing, required=True, help="folder written by `microlift simulate`")
    cal.add_argument("--reference", type=int, default=0, metavar="DRAWS",
                     help="also run the reference campaign (DESIGN §2) this many times")
    cal.add_argument("--seed", type=int, default=0, help="seed for the reference draws")
    cal.set_defaults(run="training:calibrate")

    tr = commands.add_parser("train", help="train the engagement, conversion, posting and lift models (MLflow run)",
                             description="Train the four models from a contract dataset, score them on grouped "
                                         "held-out data (by creator; by campaign for lift) and log one MLflow run: "
                                         "parameters, data fingerprint, metrics, plots and the models. Models that "
                                         "the data cannot train (no campaigns) are skipped with a message.")
    tr.add_argument("--data", type=_existing, required=True, help="folder with creators/posts[/campaigns] files")
    tr.add_argument("--experiment", help="MLflow experiment (default $MICROLIFT_EXPERIMENT or 'microlift')")
    tr.add_argument("--register", action="store_true", help="create registry versions of the trained models")
    tr.add_argument("--params", help="hyperparameters as JSON or a JSON file, e.g. the output of `microlift tune`")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.add_argument("--with-results", action="store_true",
                    help="also train on the campaigns whose results were imported and measured in the catalog "
                         "database (DATABASE_URL): their posts, invitations and measured lift")
    _dask_arguments(tr, "--engine dask fits the engagement and conversion models with LightGBM's Dask estimators "
                        "on partitioned data (a folder of Parquet parts per table)")
    tr.set_defaults(run="training:train")

    ev = commands.add_parser("evaluate", help="score a registered version set on any contract dataset (JSON)",
                             description="Load a registered version set and print its metrics on a dataset as "
                                         "JSON (all rows by default).")
    ev.add_argument("--data", type=_existing, required=True, help="contract dataset folder")
    ev.add_argument("--version", help="alias, version number or 'latest' (default: the serving alias)")
    ev.add_argument("--held-out", action="store_true", help="score only the held-out groups of the dataset")
    ev.set_defaults(run="training:evaluate")

    pr = commands.add_parser("promote", help="move the serving alias to a candidate if it beats the champion",
                             description="Score candidate and champion on the same held-out data and move the "
                                         "alias ($MICROLIFT_MODEL_ALIAS, default 'champion') only when the "
                                         "candidate is better on at least one headline metric (engagement R2, "
                                         "conversion deviance, lift MdAPE) and worse on none. Says why either way.")
    pr.add_argument("--version", default="latest", help="candidate: version number, alias or 'latest' (default)")
    pr.add_argument("--data", type=_existing, help="dataset whose held-out groups decide")
    pr.add_argument("--force", action="store_true", help="move the alias without comparing")
    pr.add_argument("--with-results", action="store_true",
                    help="also compare on the held-out campaigns among those imported and measured in the catalog "
                         "database (DATABASE_URL); the candidate must not be worse there either")
    pr.set_defaults(run="training:promote")

    md = commands.add_parser("models", help="list registered versions and their aliases")
    md.set_defaults(run="training:models")

    tu = commands.add_parser("tune", help="search hyperparameters with Optuna (one nested MLflow run per trial)",
                             description="Search LightGBM hyperparameters of one model on a validation split "
                                         "carved out of the training groups (the held-out test groups are never "
                                         "used). Prints the best parameters as JSON for `train --params`.")
    tu.add_argument("--data", type=_existing, required=True, help="contract dataset folder")
    tu.add_argument("--trials", type=int, default=20, help="number of trials (default 20)")
    tu.add_argument("--model", choices=("engagement", "conversion", "posting", "lift"), default="engagement",
                    help="which model to tune (default engagement)")
    tu.add_argument("--experiment", help="MLflow experiment (default $MICROLIFT_EXPERIMENT or 'microlift')")
    tu.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    tu.set_defaults(run="training:tune")

    ad = commands.add_parser("adapt", help="turn a public creator dataset into contract tables",
                             description="Convert a public dataset into creators/posts tables. Sources: "
                                         "kim-instagram (influencers.txt, post_table.csv and, when present, "
                                         "posts_meta_derived.csv).")
    ad.add_argument("source", choices=("kim-instagram",), help="which dataset")
    ad.add_argument("--src", type=_existing, required=True, help="folder holding the source files")
    ad.add_argument("--out", type=Path, required=True, help="output folder")
    ad.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format")
    ad.set_defaults(run="training:adapt")

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
    sc.set_defaults(run="planning:score")

    bt = commands.add_parser("backtest", help="forecast held-out past campaigns and compare with what happened",
                             description="For each held-out campaign with observed sales, forecast its roster "
                                         "with the registered models and report the 80% interval coverage and the "
                                         "median absolute percentage error of the median forecast (beside the "
                                         "truth's own error on simulated data), as JSON.")
    bt.add_argument("--data", type=_existing, required=True, help="contract dataset with campaigns and outcomes")
    bt.add_argument("--version", help="alias or version number (default: the serving alias)")
    bt.add_argument("--draws", type=int, default=400, help="Monte Carlo draws per campaign (default 400)")
    bt.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    bt.set_defaults(run="training:backtest")

    sv = commands.add_parser("serve", help="run the HTTP service under gunicorn",
                             description="Bring the catalog database to the newest schema, then run the service "
                                         "under gunicorn. Settings come from environment variables (README: "
                                         "Service). With --bootstrap DIR, first make whatever is missing: a "
                                         "simulated dataset in DIR, models trained and registered under the "
                                         "serving alias, the catalog imported from DIR, an API key. When "
                                         "MICROLIFT_BIND's address is in use it says so and exits, first.")
    sv.add_argument("--bootstrap", type=Path, metavar="DIR", help="dataset folder to simulate into / import from")
    sv.set_defaults(run="service:serve")
    kg = commands.add_parser("keygen", help="make an API key for write and admin routes (only its hash is kept)",
                             description="Make an API key for write and admin routes and add its sha256 digest to "
                                         "MICROLIFT_API_KEYS_FILE. The key is printed once, alone on stdout "
                                         "(export KEY=$(microlift keygen)); a running service reads its keys when "
                                         "it starts.")
    kg.set_defaults(run="service:keygen")
    ic = commands.add_parser("import-creators", help="upsert creators into the service's catalog database",
                             description="Validate and upsert a creators file, or a dataset folder whose posts "
                                         "give each creator a history and track record, into DATABASE_URL; all "
                                         "rows or none. Running workers pick the change up on their next request.")
    ic.add_argument("path", type=_existing, help="creators file (CSV/Parquet) or dataset folder")
    ic.add_argument("--replace-history", action="store_true",
                    help="a stored creator whose platform changes or whose followers move by more than 2x gets the "
                         "file's history columns, or none, instead of keeping its stored history (reported per row)")
    ic.set_defaults(run="service:import_creators")
    ir = commands.add_parser("import-results", help="import a campaign's results and measure its lift",
                             description="Validate a campaign's results (the product's unit sales per day or week "
                                         "before, during and after it; who was invited and who posted; each post's "
                                         "engagements and attributed units) with the data contract and store them "
                                         "in DATABASE_URL beside the kept plan, all or nothing; the creators' "
                                         "history and track record learn the posts, and the lift is measured. "
                                         "The same files again change nothing. Files: CSV, Parquet or JSON (a list "
                                         "of records). Exit 2 with every problem listed when the files are wrong.")
    ir.add_argument("campaign_id", nargs="?", metavar="CAMPAIGN_ID",
                    help="the kept plan's id (cmp-...); leave it out with --unplanned for a new campaign")
    ir.add_argument("--sales", type=_existing, required=True, metavar="FILE", help="date,units per day or per week")
    ir.add_argument("--invitations", type=_existing, metavar="FILE", help="creator_id,posted[,fee]")
    ir.add_argument("--posts", type=_existing, metavar="FILE",
                    help="post_id,creator_id,posted_at,engagements (or likes,comments,...)[,conversions,...]")
    ir.add_argument("--unplanned", action="store_true",
                    help="results of a campaign never planned here: measured, never compared with a forecast; "
                         "needs --brief, --start-date and --weeks")
    ir.add_argument("--brief", type=_existing, metavar="FILE.json",
                    help="the campaign's brief (niche, product_price, baseline_units_per_month, ...) for --unplanned")
    ir.add_argument("--start-date", metavar="YYYY-MM-DD", help="the campaign's first day (when the plan has none)")
    ir.add_argument("--weeks", type=float, metavar="N", help="the campaign's length in weeks (--unplanned)")
    ir.add_argument("--brand", metavar="NAME", help="the brand the campaign belongs to (--unplanned)")
    ir.add_argument("--replace", action="store_true",
                    help="replace results already imported for the campaign (otherwise other results are refused)")
    ir.set_defaults(run="service:import_results")
    tk = commands.add_parser("track-record", help="print how the kept forecasts compare with the measured lift",
                             description="For every measured planned campaign in DATABASE_URL: the forecast's "
                                         "p10-p50-p90 of incremental units against the measured lift; the share "
                                         "inside the 80% range and the median error, by model version set and by "
                                         "month (the figures GET /v1/track-record answers).")
    tk.add_argument("--brand", metavar="NAME", help="one brand's campaigns only")
    tk.add_argument("--json", action="store_true", help="print JSON (the shape the HTTP API returns)")
    tk.set_defaults(run="service:track_record")
    mg = commands.add_parser("migrate", help="bring the catalog database to the newest schema (Alembic)")
    mg.set_defaults(run="service:migrate")

    for which, text in (("rank", "rank a campaign's candidates by profit, ROI, conversions or engagement"),
                        ("forecast", "choose a roster for the budget and forecast the sales lift")):
        sub = commands.add_parser(which, help=text, description=text.capitalize() + ", with the registered "
                                  "models. The campaign file is a JSON request body as for POST /v1/" + which +
                                  ": {\"brief\": {niche, product_price, baseline_units_per_month, compensation, "
                                  "marketplace, weeks, ...}, \"budget\": USD, and optionally objective, top_k, "
                                  "limits, target_roas, draws and seed}; candidates come from --candidates.")
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
        sub.set_defaults(run=f"planning:{which}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    process_environment()  # our own output stays readable
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin registry logs at import time
    try:
        side, name = args.run.split(":")
        return getattr(importlib.import_module(f"microlift.commands.{side}"), name)(args)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, LookupError, ImportError) as exc:  # PlanningError, ModelRefused too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: one line, no traceback; training says what became of its run
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report it


