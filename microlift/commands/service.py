"""The operator's commands: serve (with --bootstrap), keygen, import-creators, import-results, track-record,
migrate."""

from __future__ import annotations

import argparse
import json
import sys

from microlift import bootstrap
from microlift.models import measurement
from microlift.models.contract import ContractError
from microlift.models.results import read_part, results_from
from microlift.models.track_record import summarise
from microlift.serving import campaigns, catalog
from microlift.serving import serve as service
from microlift.serving.auth import new_key
from microlift.serving.settings import ServiceSettings


def serve(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    # before the minutes a bootstrap may take, and again just before gunicorn (another server may have started)
    if not _can_listen(settings):
        return 1
    if args.bootstrap:
        bootstrap.bootstrap(args.bootstrap)
    else:
        catalog.migrate(settings.database_url)
    service.ensure_key(settings)
    if not _can_listen(settings):
        return 1
    print(f"starting gunicorn on {settings.bind}: {settings.workers} worker(s) x {settings.threads} thread(s), "
          f"timeout {settings.timeout} s", flush=True)
    service.run_gunicorn(settings)
    return 0  # not reached: gunicorn replaces this process


def _can_listen(settings: ServiceSettings) -> bool:
    """Says why gunicorn could not listen on MICROLIFT_BIND, in one line on stderr, instead of letting it retry."""
    problem = service.check_bind(settings.bind)
    if problem:
        print(f"error: {problem}", file=sys.stderr, flush=True)
    return problem is None


def keygen(args: argparse.Namespace) -> int:
    """The key alone on stdout (`export KEY=$(microlift keygen)`), what it is on stderr."""
    settings = ServiceSettings.from_env()
    key = new_key(settings.api_keys_file)
    print(f"new API key for write and admin routes, shown once, here only (only its sha256 is kept, added to "
          f"{settings.api_keys_file}):", file=sys.stderr, flush=True)
    print(key)
    return 0


def import_creators(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    catalog.migrate(settings.database_url)
    engine = catalog.engine_for(settings.database_url)
    result = service.import_dataset(args.path, engine, replace_history=args.replace_history)
    print(f"{result.received:,} creators: {result.created:,} new, {result.updated:,} updated, "
          f"{result.unchanged:,} unchanged; the catalog holds {result.catalog_size:,} (revision {result.revision})")
    kept = sum(w.history == "kept" for w in result.warnings)
    for warning in result.warnings:
        print(f"warning: {warning.message}" if warning.history == "kept" else f"history: {warning.message}")
    if kept:
        print(f"{kept:,} creator(s) changed platform or followers beyond {catalog.FOLLOWERS_JUMP:g}x and kept their "
              "stored history (warnings above)")
    return 0


def import_results(args: argparse.Namespace) -> int:
    """Exit 2 with every problem when the files break the contract; nothing is written then."""
    if args.campaign_id is None and not args.unplanned:
        print("error: CAMPAIGN_ID: the kept plan's id is needed (or --unplanned, for results of a campaign never "
              "planned here)", file=sys.stderr)
        return 2
    files = {"sales": args.sales, "invitations": args.invitations, "posts": args.posts}
    files = {name: path for name, path in files.items() if path is not None}
    try:
        results = results_from({name: read_part(path) for name, path in files.items()}, args.campaign_id,
                               {name: path.name for name, path in files.items()})
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    brief = json.loads(args.brief.read_text(encoding="utf-8")) if args.brief else None
    settings = ServiceSettings.from_env()
    catalog.migrate(settings.database_url)
    engine = catalog.engine_for(settings.database_url)
    outcome = campaigns.import_results(engine, args.campaign_id, results, measure=measurement.measure,
                                       unplanned=args.unplanned, brief=brief, start_date=args.start_date,
                                       weeks=args.weeks, brand=args.brand, replace=args.replace)
    said = {"created": "stored", "unchanged": "already stored, unchanged", "replaced": "stored, replacing the "
            "earlier results"}[outcome.status]
    print(f"campaign {outcome.campaign_id}: results {said} ({outcome.invitations:,} invitations, {outcome.posts:,} "
          f"posts, {outcome.sales:,} rows of sales); {outcome.creators_updated:,} creator(s) in the catalog learnt "
          "their posts")
    for warning in outcome.warnings:
        print(f"warning: {warning}")
    if outcome.measurement is None:
        print(f"not measured: {outcome.refused}")
        return 0
    units = outcome.measurement["incremental_units"]
    for period in ("during", "after", "total"):
        if units.get(period):
            band = units[period]
            print(f"measured incremental units {period}: {band['p50']:,.0f} (80% interval {band['p10']:,.0f} to "
                  f"{band['p90']:,.0f})")
    if outcome.measurement.get("attributed_units") is not None:
        print(f"attributed units (links and codes): {outcome.measurement['attributed_units']:,.0f}")
    return 0


def track_record(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    catalog.migrate(settings.database_url)
    summary = summarise(campaigns.track_record_rows(catalog.engine_for(settings.database_url),
                                                           brand=args.brand))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['campaigns']:,} measured campaign(s)" + (f" of {args.brand}" if args.brand else ""))
    if not summary["campaigns"]:
        return 0
    print(f"{'':<52}{'campaigns':>10}{'inside 80%':>12}{'median APE':>12}")
    groups = [("all", summary)] + [(g["versions"], g) for g in summary["by_version_set"]] \
        + [(g["month"], g) for g in summary["by_month"]]
    for label, figures in groups:
        print(f"{label[:51]:<52}{figures['campaigns']:>10,}{_share(figures['inside_80']):>12}"
              f"{_share(figures['median_ape']):>12}")
    if summary["median_log_ratio"] is not None:
        print(f"median ln(measured / forecast): {summary['median_log_ratio']:+.3f} (above 0: forecasts were low)")
    print(f"\n{'campaign':<20}{'forecast p10':>14}{'p50':>10}{'p90':>10}{'measured p50':>14}  versions")
    for row in summary["rows"]:
        forecast, measured = row["forecast"], row["measured"]
        print(f"{row['campaign_id'][:19]:<20}{forecast['p10']:>14,.0f}{forecast['p50']:>10,.0f}"
              f"{forecast['p90']:>10,.0f}{measured['p50']:>14,.0f}  {row['versions']}")
    return 0


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def migrate(args: argparse.Namespace) -> int:
    catalog.migrate(ServiceSettings.from_env().database_url)
    print("catalog database is at the newest schema")
    return 0


