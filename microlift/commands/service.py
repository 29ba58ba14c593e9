"""The operator's commands: serve (with --bootstrap), keygen, import-creators, migrate."""

from __future__ import annotations

import argparse
import sys

from microlift import bootstrap
from microlift.serving import catalog
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


def migrate(args: argparse.Namespace) -> int:
    catalog.migrate(ServiceSettings.from_env().database_url)
    print("catalog database is at the newest schema")
    return 0


