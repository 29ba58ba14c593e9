"""`microlift serve --bootstrap DIR`: on a fresh machine, make whatever the service lacks, by calling both sides.

A simulated dataset in DIR (training), models trained, registered and promoted to the serving alias (training),
the catalog database migrated and imported from DIR (serving). Whatever exists already (data, a model under the
serving alias, a non-empty catalog) is reused.
"""

from __future__ import annotations

from pathlib import Path

from microlift.models import registry
from microlift.models.settings import Settings
from microlift.serving import catalog
from microlift.serving.serve import import_dataset, safe_url
from microlift.serving.settings import ServiceSettings
from microlift.training import pipeline

CREATORS, CAMPAIGNS, SEED = 6000, 200, 0


def bootstrap(data: Path, creators: int = CREATORS, campaigns: int = CAMPAIGNS, seed: int = SEED) -> None:
    settings, service = Settings.from_env(), ServiceSettings.from_env()
    catalog.migrate(service.database_url)
    engine = catalog.engine_for(service.database_url)
    need_models = not registry.complete(settings)
    need_catalog = catalog.snapshot(engine).creators.empty
    if (need_models or need_catalog) and not (data / "creators.parquet").exists() \
            and not (data / "creators.csv").exists():
        print(f"simulating {creators:,} creators and {campaigns} campaigns into {data} ...", flush=True)
        pipeline.simulate_dataset(data, creators, campaigns, seed=seed, progress=False)
    if need_models:
        print(f"no '{settings.model_alias}' models registered: training on {data} ...", flush=True)
        run = pipeline.train_models(data, settings, register=True, progress=False)
        headline = [key for key, _ in registry.PRIMARY.values() if key in run.trained.metrics]
        print(f"  run {run.run_id} in {run.seconds:.1f} s: "
              + ", ".join(f"{key} {run.trained.metrics[key]:.4g}" for key in headline))
        for line in pipeline.promote(settings, "latest", force=True).lines:
            print("  " + line)
    else:
        print(f"models: reusing the registered '{settings.model_alias}' version set")
    if need_catalog:
        result = import_dataset(data, engine)
        print(f"catalog: imported {result.created:,} creators from {data} into {safe_url(service.database_url)}")
    else:
        print(f"catalog: reusing {safe_url(service.database_url)}")
    engine.dispose()
