"""Serving loads only what passes its checks: one flavor, no code directory, a signature, a loadable booster."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.models import infer_signature

from microlift.models.datasets import Dataset
from microlift.models.estimators import EngagementModel
from microlift.models.modelstore import ModelRefused, check_mlmodel, load_checked, load_model
from microlift.training.prepare import held_out, prepare
from microlift.training.simulation.generator import simulate
from microlift.training.tracking import PYFUNC_CODE, code_package


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real MLflow model folder of a small engagement model, as training logs it."""
    tables = simulate(300, 10, seed=5, progress=False)
    prepared = prepare(Dataset.of(tables))
    posts = prepared.posts
    test = held_out(posts["creator_id"])
    model = EngagementModel(rounds=20).fit(posts[~test], posts.loc[~test, "log_er"].to_numpy(),
                                           (posts[test], posts.loc[test, "log_er"].to_numpy()))
    root = tmp_path_factory.mktemp("model")
    folder = model.save(root / "artifact")
    example = pd.DataFrame([{"platform": "instagram", "niche": "home", "followers": 20000.0}])
    out = root / "mlflow-model"
    mlflow.pyfunc.save_model(str(out), python_model=str(PYFUNC_CODE), artifacts={"model": str(folder)},
                             signature=infer_signature(example, pd.DataFrame({"p50": [0.1]})),
                             code_paths=[str(code_package(root / "code"))])
    return out


@pytest.fixture
def copy(saved, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(saved, target)
    return target


def edit_mlmodel(folder, change) -> None:
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    change(meta)
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))


def test_a_model_as_training_logs_it_passes_and_predicts(copy):
    model = load_checked(check_mlmodel(copy, "engagement"), "engagement")
    assert set(model.predict(pd.DataFrame([{"platform": "tiktok", "niche": "pets", "followers": 5e4}]))) >= {"p50"}


@pytest.mark.parametrize("tamper, words", [
    (lambda m: m["flavors"].update({"sklearn": {"pickled_model": "model.pkl"}}), "unexpected flavor"),
    (lambda m: m["flavors"]["python_function"].update({"code": "../elsewhere"}), "code directory"),
    (lambda m: m.pop("signature"), "no signature"),
    (lambda m: m["flavors"]["python_function"].update({"loader_module": "mlflow.sklearn"}), "loader module"),
    (lambda m: m["flavors"]["python_function"]["artifacts"]["model"].update({"path": "../../etc"}), "outside"),
])
def test_a_tampered_mlmodel_file_is_refused_saying_why(copy, tamper, words):
    edit_mlmodel(copy, tamper)
    with pytest.raises(ModelRefused, match=words):
        check_mlmodel(copy, "engagement")


def test_a_model_ships_only_the_domain_package_as_code(copy):
    shipped = sorted(p.relative_to(copy / "code").as_posix() for p in (copy / "code").rglob("*.py"))
    assert "microlift/models/estimators.py" in shipped and all(p.startswith("microlift/") for p in shipped)


def test_a_code_directory_holding_more_than_the_domain_package_is_refused(copy):
    (copy / "code").mkdir(exist_ok=True)
    (copy / "code" / "evil.py").write_text("raise SystemExit('ran')\n")
    with pytest.raises(ModelRefused, match="code directory"):
        check_mlmodel(copy, "engagement")


def test_a_truncated_booster_is_refused_at_load(copy):
    folder = check_mlmodel(copy, "engagement")
    booster = next(folder.rglob("booster*.txt"))
    booster.write_text(booster.read_text()[: len(booster.read_text()) // 3])
    with pytest.raises(ModelRefused, match="truncated"):
        load_checked(folder, "engagement")


def test_a_booster_with_a_garbled_tree_is_refused_at_load(copy):
    folder = check_mlmodel(copy, "engagement")
    booster = next(folder.rglob("booster*.txt"))
    booster.write_text(booster.read_text().replace("threshold=", "threshold=x", 1))
    with pytest.raises(ModelRefused, match="truncated or altered|cannot be loaded"):
        load_checked(folder, "engagement")


def test_a_model_of_another_kind_is_refused(copy):
    with pytest.raises(ModelRefused, match="is a 'engagement' model"):
        check_mlmodel(copy, "lift")


@pytest.mark.parametrize("setting", ["", "off"])
def test_the_service_loads_compiled_boosters_unless_switched_off(copy, tmp_path, setting):
    from microlift.models.settings import Settings

    # given the service's settings, as the environment gives them
    settings = Settings.from_env({"MICROLIFT_HOME": str(tmp_path / "home"), "MICROLIFT_COMPILED_MODELS": setting})
    # when
    model = load_checked(check_mlmodel(copy, "engagement"), "engagement", settings.compiled_models)
    # then: by default compiled and cached under the home; `off` leaves LightGBM predicting and nothing cached
    if setting == "off":
        assert settings.compiled_models is None and getattr(model, "compiled_", None) is None
        assert not (tmp_path / "home" / "compiled").exists()
    else:
        assert settings.compiled_models == tmp_path / "home" / "compiled"
        assert model.compiled_ is not None and len(list(settings.compiled_models.glob("*.o"))) == 1


# --- the compiled-model cache --------------------------------------------------------------------------------------

LOAD_IN_A_NEW_PROCESS = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from microlift.models.modelstore import load_checked
model = load_checked(Path(sys.argv[1]), "engagement", Path(sys.argv[2]))
print("compiled:", model.compiled_ is not None)
"""
DAMAGE = {"garbage": lambda data: b"\x7fELF" + bytes(range(256)) * 8, "truncated": lambda data: data[: len(data) // 2]}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_compiled_cache_file_is_compiled_again_instead_of_aborting_the_worker(copy, tmp_path, damage):
    # given a model compiled once into the cache, then its object file damaged (LLVM aborts on loading such a file)
    cache = tmp_path / "compiled"
    folder = check_mlmodel(copy, "engagement")
    assert load_checked(folder, "engagement", cache).compiled_ is not None
    (cached,) = cache.glob("*.o")
    cached.write_bytes(DAMAGE[damage](cached.read_bytes()))
    # when a new process, as a worker starting, loads the model with that cache
    done = subprocess.run([sys.executable, "-c", LOAD_IN_A_NEW_PROCESS, str(folder), str(cache)],
                          capture_output=True, text=True, timeout=300)
    # then it lives, says why it compiled again, predicts compiled, and the cache is whole again
    assert done.returncode == 0, done.stderr[-2000:]
    assert "compiled: True" in done.stdout
    assert "does not match the SHA-256 recorded when it was written" in done.stderr
    record = cached.with_name(cached.name + ".sha256").read_text().split()[0]
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == record


@pytest.mark.parametrize("garbage, words", [(b"{not json", "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
                                            (b"[1, 2]", "not a JSON object")])
def test_a_spec_that_is_not_a_json_object_is_refused_not_raised(copy, garbage, words):
    # given: the model artifact's spec.json replaced by something no parser turns into a spec
    spec = next(copy.rglob("spec.json"))
    spec.write_bytes(garbage)
    # when / then: a refusal saying why in plain words, with no file path in what clients see
    with pytest.raises(ModelRefused, match=words) as refused:
        load_model(copy, "engagement")
    assert str(copy) not in refused.value.public and str(copy) not in refused.value.detail
