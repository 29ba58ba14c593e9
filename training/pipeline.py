"""The data scientist's steps as functions: simulate a dataset, train and log the models, promote a version set.

The `microlift` command and `serve --bootstrap` both call these; they print, these return what happened.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from microlift.models import registry
from microlift.models.contract import TABLES, validate
from microlift.models.datasets import load_dataset, with_results, write_tables
from microlift.models.modelstore import ModelRefused, load_version_set
from microlift.models.settings import MODEL_KINDS, Settings
from microlift.training.evaluate import evaluate, lift_table, score_lift
from microlift.training.prepare import held_out, prepare
from microlift.training.simulation.generator import simulate
from microlift.training.simulation.partitioned import simulate_partitioned
from microlift.training.tracking import (
    EarlierTraining,
    configure,
    fingerprint,
    log_training,
    same_training,
    training_run,
)
from microlift.training.train import train_all

log = logging.getLogger(__name__)


@dataclass
class Simulated:
    counts: dict[str, int]
    written: int
    seconds: float


def simulate_dataset(out: Path, creators: int, campaigns: int, seed: int = 0, fmt: str = "parquet",
                     partitions: int | None = None, progress: bool = True) -> Simulated:
    """Write a simulated dataset (contract tables held to the contract, plus truth tables) to `out`."""
    started = time.perf_counter()
    if partitions:
        if fmt != "parquet":
            raise ValueError(f"--partitions writes Parquet part files; got --format {fmt}")
        counts = simulate_partitioned(creators, campaigns, partitions, out, seed=seed, progress=progress)
        return Simulated(counts, partitions, time.perf_counter() - started)
    tables = simulate(creators, campaigns, seed=seed, progress=progress)
    for name in TABLES:  # the simulator must honour the contract it feeds
        if name in tables:
            validate(name, tables[name], source=f"simulated {name}")
    written = write_tables(tables, out, fmt=fmt)
    counts = {name: len(frame) for name, frame in tables.items() if not name.startswith("truth")}
    return Simulated(counts, len(written), time.perf_counter() - started)


@dataclass
class TrainingRun:
    run_id: str
    versions: dict[str, str]
    trained: object
    seconds: float
    same_as: EarlierTraining | None = None  # an earlier run of the same data and parameters


def train_models(data: Path, settings: Settings, experiment: str | None = None, params: dict | None = None,
                 seed: int = 0, register: bool = False, progress: bool = True,
                 results: dict | None = None) -> TrainingRun:
    """Train the four models in this process, log the run to MLflow and, if asked, register the models.
    `results`: contract tables of the campaigns imported and measured in the catalog database, trained on beside
    the dataset (`datasets.with_results`).

    Ctrl-C marks the run KILLED, registers nothing and raises `tracking.TrainingInterrupted`."""
    params = params or {}
    dataset = load_dataset(data)  # a malformed dataset fails here, before any run exists
    if results:
        dataset = with_results(dataset, results)
    prep = prepare(dataset)
    experiment_id = configure(settings, experiment)
    data_print = fingerprint(dataset)
    run_params = {"data": str(Path(data).resolve()), "seed": seed, "register": register,
                  **({"results_campaigns": _count(results, "campaigns")} if results else {}),
                  **{f"{k}.{p}": v for k, kp in params.items() for p, v in kp.items()}}
    same_as = same_training(experiment_id, {**run_params, **data_print})
    if same_as is not None:
        log.info("same data and parameters as run %s; training again", same_as.run_id)
    started = time.perf_counter()
    with training_run(experiment_id, f"train {Path(data).name}"):
        trained = train_all(prep, params, seed=seed, progress=progress)
        run_id, versions = log_training(trained, dataset, settings, run_params, register, data_print=data_print)
    return TrainingRun(run_id, versions, trained, time.perf_counter() - started, same_as)


def results_scores(models: dict, prep, measured: set[str]) -> dict[str, float]:
    """The lift model's figures on the held-out groups of the `measured` campaigns of a prepared dataset (empty when
    none is held out): what brands' own campaigns say of a version set. Their few posts say little of the other
    models, which the dataset's held-out groups score."""
    table, z = lift_table(prep, models["engagement"], models["conversion"])
    ours = table["campaign_id"].isin(measured).to_numpy()
    test = held_out(table["campaign_id"]) & ours
    if not test.any():
        return {}
    return score_lift(models["lift"], table, z, prep, test, ~test)[0]


def _count(tables: dict | None, name: str) -> int:
    frame = (tables or {}).get(name)
    return 0 if frame is None else len(frame)


@dataclass
class Promotion:
    """What `promote` did: `moved` says whether the alias moved; `lines` say why (comparisons first)."""

    moved: bool
    lines: list[str] = field(default_factory=list)
    needs_data: bool = False
    already: bool = False  # the candidate already holds the alias
    refused: bool = False  # the candidate fails the checks the service loads models under


def promote(settings: Settings, version: str, data: Path | None = None, force: bool = False,
            results: dict | None = None) -> Promotion:
    """Move the serving alias to a candidate version set if it beats the champion on the same held-out data
    (or with `force`, or when there is no champion yet). With `results` (contract tables of the campaigns imported
    and measured in the catalog database), both are also scored on the held-out ones among those campaigns, and
    the candidate must not be worse there either ("results." metrics)."""
    alias = settings.model_alias
    candidate = registry.resolve(settings, version)
    try:
        champion = registry.resolve(settings, alias)
    except LookupError:
        champion = None
    if champion is not None and champion.versions == candidate.versions:
        return Promotion(False, [f"not moved: versions {candidate.versions} already hold the {alias!r} alias"],
                         already=True)
    if set(candidate.versions) != set(MODEL_KINDS) and not force:
        return Promotion(False, [f"not moved: candidate {candidate.versions} lacks some of the four models; use "
                                 "--force to promote it anyway"])
    try:  # what the service would refuse to load is never promoted, --force or not
        load_version_set(settings, candidate.versions, candidate.label, tuple(candidate.versions), compile=False)
    except ModelRefused as exc:
        return Promotion(False, [f"not moved: the service would refuse it: {exc}"], refused=True)
    if force or champion is None:
        reason = "--force" if force else f"there is no {alias!r} yet"
        registry.set_alias(settings, candidate, alias)
        return Promotion(True, [f"moved {alias!r} to {candidate.versions}: {reason}"])
    if data is None:
        return Promotion(False, ["comparing with the champion needs --data DIR (scored on its held-out groups)"],
                         needs_data=True)
    dataset = load_dataset(data)
    preps = {"": prepare(dataset)}
    notes = []
    if results:
        preps["results."] = prepare(with_results(dataset, results))
        notes.append(f"  results: {_count(results, 'campaigns')} measured campaign(s) from the catalog database; "
                     "scored on their held-out groups")
    scores = {}
    for name, vs in (("candidate", candidate), ("champion", champion)):
        models = load_version_set(settings, vs.versions, vs.label, tuple(vs.versions), compile=False).models
        scores[name] = evaluate(models, preps[""], held_out_only=True)
        if "results." in preps:
            scores[name].update({"results." + k: v for k, v in results_scores(
                models, preps["results."], set(results["campaigns"]["campaign_id"])).items()})
    if "results." in preps and not any(k.startswith("results.") for k in scores["candidate"]):
        notes.append("  results: none of them falls in the held-out groups (one campaign in five, by id), so they "
                     "decide nothing yet")
    wins, reasons = registry.compare(scores["candidate"], scores["champion"], prefixes=tuple(preps))
    lines = notes + ["  " + line for line in reasons]
    if wins:
        registry.set_alias(settings, candidate, alias)
        return Promotion(True, [*lines, f"moved {alias!r} from {champion.versions} to {candidate.versions}: the "
                                        "candidate is better on the same held-out data"])
    return Promotion(False, [*lines, f"not moved: {alias!r} stays on {champion.versions}; the candidate does not "
                                     "beat it on the same held-out data"])
