"""Models come from the MLflow registry alias only; each MLmodel file is checked before anything is loaded.

A registered microlift model is an MLflow pyfunc whose artifact `model` holds LightGBM text boosters and a JSON
spec. The service reads those two with its own code: it never runs code shipped inside a model (neither the
python_model script nor the `code/` folder is imported) and never unpickles. The `code/` folder may hold only the
copy of the `microlift.models` package that training ships for `mlflow models serve` elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.models import Model

from microlift.models import features as F
from microlift.models import plausible, registry
from microlift.models.estimators import MODELS, SPEC_FILE
from microlift.models.settings import MODEL_KINDS, Settings

log = logging.getLogger(__name__)
EXPECTED_FLAVORS = {"python_function"}
EXPECTED_LOADER = "mlflow.pyfunc.loaders.code_model"  # a model from code: its code is not run here
CODE_DIR = "code"  # MLflow's folder for a model's code paths
SHIPPED_CODE = re.compile(r"microlift/(?:__init__|models/\w+)\.py")  # the domain package training ships


class ModelRefused(ValueError):
    """A model that fails its checks. `reason` says in plain words why, for anyone (/readyz); `detail` adds what the
    checks found (fields, values, parser messages; never a file path), for the key holder (409) and the log;
    `model` names the model and version once known."""

    def __init__(self, reason: str, detail: str = "", model: str = ""):
        self.reason, self.detail, self.model = reason, _without_paths(detail)[:600], model
        self.logged = detail  # the server log keeps the paths
        super().__init__(self.public + (f" ({self.detail})" if self.detail else ""))

    @property
    def public(self) -> str:
        return f"{self.model} was refused: {self.reason}" if self.model else self.reason


# a filesystem path or file URI (two or more parts): the refusal keeps only its last part
_PATH = re.compile(r"(?<![\w.])(?:[a-z]+:)?(?:/+[\w.@%+~-]+){2,}/?")


def _without_paths(text: str) -> str:
    return _PATH.sub(lambda found: found.group(0).rstrip("/").rsplit("/", 1)[-1], text)


@dataclass(frozen=True)
class Bundle:
    """One loaded version set: the models and where they came from."""

    models: dict
    versions: dict[str, str]
    alias: str
    version_set: str
    loaded_at: float = field(default_factory=time.time)

    def describe(self) -> dict[str, str]:
        return {**{k: self.versions.get(k, "") for k in MODEL_KINDS}, "alias": self.alias,
                "version_set": self.version_set}

    def key(self) -> str:
        return json.dumps(self.versions, sort_keys=True)


def check_mlmodel(local: Path, kind: str) -> Path:
    """Check a downloaded MLflow model folder; returns the microlift model folder inside it."""
    mlmodel = local / "MLmodel"
    if not mlmodel.is_file():
        raise ModelRefused("it has no MLmodel file")
    try:
        meta = Model.load(str(mlmodel))
    except Exception as exc:  # a corrupt YAML file is refused, whatever the parser says
        raise ModelRefused("its MLmodel file cannot be read", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    flavors = set(meta.flavors)
    if flavors != EXPECTED_FLAVORS:
        raise ModelRefused("it declares a flavor microlift does not load",
                           f"unexpected flavor(s) {sorted(flavors - EXPECTED_FLAVORS) or sorted(flavors)}; "
                           f"expected only {sorted(EXPECTED_FLAVORS)}")
    pyfunc = meta.flavors["python_function"]
    if pyfunc.get("loader_module") != EXPECTED_LOADER:
        raise ModelRefused("it names a loader microlift does not use",
                           f"loader module {pyfunc.get('loader_module')!r}; expected {EXPECTED_LOADER!r}")
    check_code(local, pyfunc.get("code"))
    if meta.signature is None or meta.signature.inputs is None:
        raise ModelRefused("its MLmodel file has no signature")
    relative = pyfunc.get("artifacts", {}).get("model", {}).get("path")
    if not relative:
        raise ModelRefused("its MLmodel file names no 'model' artifact")
    folder = (local / relative).resolve()
    if not folder.is_relative_to(local.resolve()) or not (folder / SPEC_FILE).is_file():
        raise ModelRefused("its 'model' artifact is missing or outside the model folder")
    spec = read_spec(folder)
    if spec.get("kind") != kind:
        raise ModelRefused(f"it is a {spec.get('kind')!r} model, not a {kind} model")
    return folder


def check_code(local: Path, declared) -> None:
    """A model's code directory may hold only the `microlift.models` package training ships with it (never
    imported here); anything else there, or a code directory elsewhere, is refused."""
    if declared not in (None, CODE_DIR):
        raise ModelRefused("it names a code directory microlift does not ship",
                           f"code {str(declared)[:80]!r}; expected {CODE_DIR!r}")
    folder = local / CODE_DIR
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise ModelRefused("its code directory is not a plain folder")
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        plain_dir = path.is_dir() and relative in ("microlift", "microlift/models")
        plain_file = path.is_file() and SHIPPED_CODE.fullmatch(relative)
        if path.is_symlink() or not (plain_dir or plain_file):
            raise ModelRefused("its code directory holds more than microlift's domain package",
                               f"unexpected {relative[:120]!r}")


def read_spec(folder: Path) -> dict:
    """The model's spec.json as a JSON object, or a ModelRefused saying why not."""
    try:
        spec = json.loads((folder / SPEC_FILE).read_bytes())
    except json.JSONDecodeError as exc:
        raise ModelRefused("its spec is not valid JSON", f"{SPEC_FILE} line {exc.lineno} column {exc.colno}: "
                           f"{exc.msg}") from None
    except UnicodeDecodeError:
        raise ModelRefused("its spec is not valid JSON", f"{SPEC_FILE} is not UTF-8 text") from None
    if not isinstance(spec, dict):
        raise ModelRefused("its spec is not a JSON object", f"{SPEC_FILE} holds a JSON {type(spec).__name__}")
    return spec


def load_checked(folder: Path, kind: str, compiled: Path | None = None):
    """Load one model from its checked folder (its booster compiled, cached in `compiled`, when given) and make
    sure every number it holds is plausible (models.plausible) and it predicts finite numbers."""
    problems = plausible.spec_problems(kind, read_spec(folder))
    if problems:
        raise ModelRefused("its spec holds numbers that are not plausible", "; ".join(problems))
    try:  # the loader checks that every booster is whole before LightGBM reads it
        model = MODELS[kind].load(folder)
    except Exception as exc:  # truncated booster, unknown features, bad spec: all refused the same way
        raise ModelRefused("its files cannot be loaded", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    problems = plausible.leaf_problems(kind, model.booster_.model_to_string())
    if problems:
        raise ModelRefused("its booster holds leaf values that are not plausible", "; ".join(problems))
    if compiled is not None:
        model.compile(compiled)
    probe = _probe(kind)
    outputs = model.predict(probe)
    outputs = dict(outputs) if isinstance(outputs, dict) else {"prediction": outputs}
    # the reasons' contribution table is built here, at load, not by the first request that asks for reasons
    outputs["contributions"] = model.contributions(F.matrix(kind, probe, model.features_))
    for name, values in outputs.items():
        if not np.all(np.isfinite(np.asarray(values, dtype=float))):
            raise ModelRefused("it predicts numbers that are not finite", f"{name} on a reference row")
    return model


def load_model(local: Path, kind: str, compiled: Path | None = None):
    """Check and load one downloaded model. Whatever goes wrong is a ModelRefused: a model never stops the
    service (the full error, with its paths, is in the server log)."""
    try:
        return load_checked(check_mlmodel(local, kind), kind, compiled)
    except ModelRefused as exc:
        log.warning("%s model in %s refused: %s (%s)", kind, local, exc.reason, exc.logged)
        raise
    except Exception as exc:
        log.exception("%s model in %s could not be loaded", kind, local)
        raise ModelRefused("its files cannot be loaded", f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _probe(kind: str) -> pd.DataFrame:
    """One ordinary row of each model's inputs."""
    creator = {"platform": "instagram", "niche": "home", "followers": 40_000.0, "country": "US",
               "price_per_post": 400.0, "hist_posts": 20.0, "hist_log_er_mean": -3.0, "hist_log_er_sd": 0.5,
               "format": "feed", "sponsored": True, "compensation": "gifting", "campaign_niche": "home",
               "track_posts": 0.0, "product_price": 25.0, "discount_code": False, "marketplace": "amazon"}
    lift = {"pred_engagements": 200_000.0, "pred_unique_engagements": 150_000.0, "pred_conversions": 400.0,
            "creators": 100.0, "posts": 66.0, "baseline_units_per_month": 500.0, "product_price": 25.0,
            "weeks": 8.0, "marketplace": "amazon", "compensation": "gifting", "discount_code": False}
    posting = {**creator, "offer_ratio": 0.1}
    return pd.DataFrame([lift if kind == "lift" else posting if kind == "posting" else creator])


def load_version_set(settings: Settings, versions: dict[str, str], alias: str,
                     kinds: tuple[str, ...] = MODEL_KINDS, compile: bool = True) -> Bundle:
    """Download, check and load the `kinds` models of a version set (the service: all three), or a ModelRefused
    naming the model. The service and the command line load models only through here. `compile`: boosters
    compiled into the settings' cache (the service); the command line predicts with LightGBM, whose models can
    also travel to Dask workers."""
    compiled = settings.compiled_models if compile else None
    missing = [k for k in kinds if k not in versions]
    if missing:
        raise ModelRefused(f"the version set lacks the {', '.join(missing)} model")
    models, runs = {}, set()
    with tempfile.TemporaryDirectory(prefix="microlift-model-") as tmp:
        for kind in kinds:
            name = f"the {kind} model of version {versions[kind]}"
            try:
                local = registry.download_version(settings, kind, versions[kind], Path(tmp) / kind)
                models[kind] = load_model(local, kind, compiled)
                runs.add(registry.version_tag(settings, kind, versions[kind], "version_set"))
            except ModelRefused as exc:
                raise ModelRefused(exc.reason, exc.logged, name) from None
            except Exception as exc:  # the registry or its store: not reachable, or the version is gone
                log.warning("%s cannot be downloaded: %s: %s", name, type(exc).__name__, exc)
                raise ModelRefused("it cannot be read from the registry", f"{type(exc).__name__}: "
                                   f"{str(exc)[:200]}", name) from None
    return Bundle(models, {k: versions[k] for k in kinds}, alias, ",".join(sorted(r for r in runs if r)))


def load_alias(settings: Settings, alias: str | None = None) -> Bundle:
    """The version set the alias points at, checked and loaded; anything that stops it is a ModelRefused."""
    alias = alias or settings.model_alias
    try:
        found = registry.resolve(settings, alias)
    except Exception as exc:  # no such alias, or the registry not reachable
        log.warning("registry alias %r not resolved: %s: %s", alias, type(exc).__name__, exc)
        raise ModelRefused(f"no registered models could be found under the alias {alias!r}") from None
    return load_version_set(settings, found.versions, alias)
