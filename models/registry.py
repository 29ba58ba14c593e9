"""Registry operations: list versions, load a version set, promote a candidate to the serving alias."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from microlift.models.settings import MODEL_KINDS, Settings

# Which way is better for each model's headline metric, and how much worse still counts as a tie.
PRIMARY = {"engagement": ("engagement.r2", +1), "conversion": ("conversion.poisson_deviance", -1),
           "lift": ("lift.mdape", -1), "posting": ("posting.log_loss", -1)}
TOLERANCE = 0.005


def client(settings: Settings) -> MlflowClient:
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    return MlflowClient(settings.tracking_uri, settings.registry_uri)


def list_versions(settings: Settings) -> list[dict]:
    """Every registered version of the four models with its aliases and version set."""
    c = client(settings)
    rows = []
    for kind in MODEL_KINDS:
        name = settings.model_name(kind)
        try:
            aliases = c.get_registered_model(name).aliases
        except MlflowException:
            continue
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        for v in c.search_model_versions(f"name='{name}'"):
            rows.append({"model": name, "version": int(v.version),
                         "aliases": sorted(by_version.get(str(v.version), [])),
                         "version_set": v.tags.get("version_set", ""), "run_id": v.run_id,
                         "created": v.creation_timestamp})
    return sorted(rows, key=lambda r: (r["model"], -r["version"]))


@dataclass
class VersionSet:
    """One registered version of each model kind (a kind may be missing)."""

    versions: dict[str, str]
    label: str


def resolve(settings: Settings, ref: str | None = None) -> VersionSet:
    """A version set by alias (default: the serving alias), by version number, or `latest`.

    `latest` is the newest training run's versions (all tagged with that run), never a mix of runs.
    """
    c = client(settings)
    ref = ref or settings.model_alias
    versions = {}
    if ref == "latest":
        found = []
        for kind in MODEL_KINDS:
            try:
                found += [(int(v.creation_timestamp), v.tags.get("version_set", ""), kind, v.version)
                          for v in c.search_model_versions(f"name='{settings.model_name(kind)}'")]
            except MlflowException:
                continue
        if found:
            newest = max(found)[1]
            versions = {kind: version for _, run, kind, version in sorted(found) if run == newest}
    else:
        for kind in MODEL_KINDS:
            name = settings.model_name(kind)
            try:
                if ref.isdigit():
                    versions[kind] = c.get_model_version(name, ref).version
                else:
                    versions[kind] = c.get_model_version_by_alias(name, ref).version
            except MlflowException:
                continue
    if not versions:
        raise LookupError(f"no registered microlift models match {ref!r} in {settings.registry_uri}")
    return VersionSet({k: str(v) for k, v in versions.items()}, ref)


def complete(settings: Settings) -> bool:
    """Does the serving alias name a version of each of the four models? (Opens the MLflow store.)"""
    try:
        return len(resolve(settings).versions) == len(MODEL_KINDS)
    except LookupError:
        return False


def download_version(settings: Settings, kind: str, version: str, dst: Path) -> Path:
    """Download a registered version; returns the MLflow model folder (the one holding MLmodel)."""
    client(settings)
    return Path(mlflow.artifacts.download_artifacts(f"models:/{settings.model_name(kind)}/{version}",
                                                    dst_path=str(dst)))


def version_tag(settings: Settings, kind: str, version: str, tag: str) -> str:
    return client(settings).get_model_version(settings.model_name(kind), version).tags.get(tag, "")


def compare(candidate: dict[str, float], champion: dict[str, float],
            prefixes: tuple[str, ...] = ("",)) -> tuple[bool, list[str]]:
    """Does the candidate beat the champion? Better on at least one headline metric and worse on none, over the
    metrics of every data set named by `prefixes` ("" the dataset's held-out groups, "results." the measured
    campaigns')."""
    reasons, better, worse = [], 0, 0
    for key, sign in [(prefix + key, sign) for prefix in prefixes for key, sign in PRIMARY.values()]:
        if key not in candidate or key not in champion:
            continue
        new, old = candidate[key], champion[key]
        delta = sign * (new - old) / max(abs(old), 1e-12)
        verdict = "better" if delta > TOLERANCE else "worse" if delta < -TOLERANCE else "same"
        better += verdict == "better"
        worse += verdict == "worse"
        reasons.append(f"{key}: candidate {new:.4g} vs champion {old:.4g} ({verdict})")
    return better > 0 and worse == 0, reasons


def set_alias(settings: Settings, version_set: VersionSet, alias: str) -> None:
    c = client(settings)
    for kind, version in version_set.versions.items():
        c.set_registered_model_alias(settings.model_name(kind), alias, version)
