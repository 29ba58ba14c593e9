"""The operator's commands: serve (with --bootstrap), keygen, import-creators, migrate."""

from __future__ import annotations

import argparse

from microlift import bootstrap
from microlift.serving import catalog
from microlift.serving import serve as service
from microlift.serving.auth import new_key
from microlift.serving.settings import ServiceSettings


def serve(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    if args.bootstrap:
        bootstrap.bootstrap(args.bootstrap)
    else:
        catalog.migrate(settings.database_url)
    service.ensure_key(settings)
    print(f"starting gunicorn on {settings.bind}: {settings.workers} worker(s) x {settings.threads} thread(s), "
          f"timeout {settings.timeout} s", flush=True)
    service.run_gunicorn(settings)
    return 0  # not reached: gunicorn replaces this process


def keygen(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    key = new_key(settings.api_keys_file)
    print(f"new API key (shown once; its sha256 was added to {settings.api_keys_file}):\n{key}")
    return 0


def import_creators(args: argparse.Namespace) -> int:
    settings = ServiceSettings.from_env()
    catalog.migrate(settings.database_url)
    engine = catalog.engine_for(settings.database_url)
    result = service.import_dataset(args.path, engine)
    print(f"{result.received:,} creators: {result.created:,} new, {result.updated:,} updated, "
          f"{result.unchanged:,} unchanged; the catalog holds {result.catalog_size:,} (revision {result.revision})")
    return 0


def migrate(args: argparse.Namespace) -> int:
    catalog.migrate(ServiceSettings.from_env().database_url)
    print("catalog database is at the newest schema")
    return 0


