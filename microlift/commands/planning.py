"""The planner's commands: rank and forecast a campaign file (the planning service, as over HTTP), and
batch-score a catalog."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import ValidationError

from microlift import report
from microlift.models import planning, registry
from microlift.models.datasets import load_candidates
from microlift.models.errors import PlanningError, PlanningErrors
from microlift.models.modelstore import Bundle, load_version_set
from microlift.models.settings import MODEL_KINDS, Settings
from microlift.serving import schemas
from microlift.serving.problems import from_validation
from microlift.training import scoring


def models_of(settings: Settings, version: str | None, kinds=MODEL_KINDS) -> Bundle:
    """A registered version set, downloaded and checked by the same loader the service uses."""
    version_set = registry.resolve(settings, version)
    missing = [kind for kind in kinds if kind not in version_set.versions]
    if missing:
        raise LookupError(f"version set {version_set.versions} lacks the {', '.join(missing)} model(s)")
    return load_version_set(settings, version_set.versions, version_set.label, kinds, compile=False)


def read_campaign(path: Path):
    """A campaign file, validated by the same rules as an HTTP request body (serving.schemas.CampaignFile);
    old spellings are accepted with a deprecation note on stderr. Every wrong field is named at once
    (PlanningErrors: the command prints one per line)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with the campaign's brief, budget and options")
    data, notes = schemas.campaign_body(data)
    for note in notes:
        print(f"warning: {path}: {note}", file=sys.stderr)
    try:
        return schemas.CampaignFile.model_validate(data)
    except ValidationError as exc:
        errors = [PlanningError(e["field"], e["value"], e["accepted"], e["message"])
                  for e in from_validation(exc).errors]
        raise PlanningErrors(errors, source=str(path)) from None


def rank(args: argparse.Namespace) -> int:
    return _plan(args, "rank")


def forecast(args: argparse.Namespace) -> int:
    return _plan(args, "forecast")


def _plan(args: argparse.Namespace, which: str) -> int:
    plot = getattr(args, "plot", None)
    if plot is not None:
        report.check_plot_path(plot)
    body = read_campaign(args.campaign)
    if plot is not None:
        report.check_plot_path(plot, body.budget)
    request = schemas.rank_request(body) if which == "rank" else schemas.forecast_request(body)
    creators = load_candidates(args.candidates)
    bundle = models_of(Settings.from_env(), args.version)
    if which == "rank":
        result = planning.rank(request, creators, bundle.models, bundle.versions)
    else:
        result = planning.forecast(request, creators, bundle.models, bundle.versions)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        (report.print_rank if which == "rank" else report.print_forecast)(result)
    if plot is not None:
        report.save_budget_curve(result, request.brief, plot)
        print(f"budget curve written to {plot}", file=sys.stderr)
    return 0


def score(args: argparse.Namespace) -> int:
    request = schemas.rank_request(read_campaign(args.campaign))
    bundle = models_of(Settings.from_env(), args.version, ("engagement", "conversion", "posting"))
    started = time.perf_counter()
    if args.engine == "dask":
        from microlift.training.distributed import score  # the optional 'dask' extra
        from microlift.training.distributed.cluster import connect  # the optional 'dask' extra

        with connect(args.scheduler, workers=args.workers):
            scored = score.score_partitioned(args.catalog, request.brief, bundle.models)
            scored.to_parquet(args.out, write_index=False, overwrite=Path(args.out).is_dir())
            rows = sum(pq.ParquetFile(part).metadata.num_rows for part in Path(args.out).glob("*.parquet"))
    else:
        frame = scoring.score_in_process(args.catalog, request.brief, bundle.models)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(args.out, index=False)
        rows = len(frame)
    seconds = time.perf_counter() - started
    print(f"scored {rows:,} creators with models {bundle.versions} in {seconds:.1f} s "
          f"({rows / max(seconds, 1e-9):,.0f} rows/s); wrote {args.out}")
    return 0


