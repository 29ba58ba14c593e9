"""A model whose files are whole but whose numbers would poison answers is refused at load, naming what and where."""

from __future__ import annotations

import json
import math
import re
import shutil

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from microlift.models import features as F
from microlift.models.datasets import Dataset
from microlift.models.estimators import ConversionModel, EngagementModel, LiftModel
from microlift.models.modelstore import ModelRefused, _probe, load_checked
from microlift.training.prepare import held_out, prepare
from microlift.training.simulation.generator import simulate


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Small models of the three kinds, saved as training saves them (boosters and spec.json)."""
    tables = simulate(300, 10, seed=5, progress=False)
    prepared = prepare(Dataset.of(tables))
    root = tmp_path_factory.mktemp("plausible")
    posts, rows = prepared.posts, prepared.conversions
    test, held = held_out(posts["creator_id"]), held_out(rows["creator_id"])
    units = rows["conversions"].to_numpy(dtype=float)
    EngagementModel(rounds=20).fit(posts[~test], posts.loc[~test, "log_er"].to_numpy(),
                                   (posts[test], posts.loc[test, "log_er"].to_numpy())).save(root / "engagement")
    ConversionModel(rounds=20).fit(rows[~held], units[~held], (rows[held], units[held])).save(root / "conversion")
    rng = np.random.default_rng(0)
    engagements = np.exp(rng.normal(10, 1.2, 200))
    campaigns = pd.DataFrame({
        "pred_engagements": engagements, "pred_unique_engagements": engagements * 0.9,
        "pred_conversions": np.exp(rng.normal(4, 1, 200)), "creators": rng.integers(5, 300, 200),
        "posts": rng.integers(5, 400, 200), "baseline_units_per_month": np.exp(rng.normal(6, 1, 200)),
        "product_price": np.exp(rng.normal(3.3, 0.5, 200)), "weeks": rng.choice([4, 8, 12], 200),
        "marketplace": rng.choice(["amazon", "shopify"], 200), "compensation": rng.choice(["gifting", "paid"], 200),
        "discount_code": rng.random(200) < 0.5})
    lift = np.log1p(campaigns["pred_engagements"] / campaigns["baseline_units_per_month"] / 1e3)
    LiftModel(rounds=20).fit(campaigns, lift.to_numpy() + rng.normal(0, 0.2, 200)).save(root / "lift")
    return root


@pytest.fixture
def model(saved, tmp_path):
    """A fresh copy of a saved model's folder, by kind."""
    def copy(kind: str):
        shutil.copytree(saved / kind, tmp_path / kind)
        return tmp_path / kind
    return copy


def edit_spec(folder, change) -> None:
    spec = json.loads((folder / "spec.json").read_text())
    change(spec)
    (folder / "spec.json").write_text(json.dumps(spec))  # NaN and Infinity written as Python's json writes them


@pytest.mark.parametrize("kind", ["engagement", "conversion", "lift"])
def test_models_as_training_saves_them_are_within_every_bound(model, kind):
    loaded = load_checked(model(kind), kind)
    assert all(np.isfinite(v).all() for v in loaded.predict(_probe(kind)).values())


@pytest.mark.parametrize("value", [1e300, -1e300, math.nan, 51.0])
def test_a_poisoned_leaf_the_reference_row_never_reaches_is_refused_naming_tree_leaf_and_value(model, value):
    # given: one leaf of the first tree, away from the reference row's path, set to an implausible value
    folder = model("engagement")
    booster = lgb.Booster(model_file=str(folder / "booster.txt"))
    features = json.loads((folder / "spec.json").read_text())["features"]
    reached = int(booster.predict(F.matrix("engagement", _probe("engagement"), features), pred_leaf=True)[0, 0])
    leaf = (reached + 1) % booster.dump_model()["tree_info"][0]["num_leaves"]
    booster.set_leaf_output(0, leaf, value)
    booster.save_model(str(folder / "booster.txt"))
    # when / then
    words = "leaf values that are not plausible .*" + re.escape(f"tree 0, leaf {leaf}: {value:g};")
    with pytest.raises(ModelRefused, match=words):
        load_checked(folder, "engagement")


def test_trees_whose_leaves_are_each_plausible_but_add_up_to_an_impossible_rate_are_refused(model):
    # given: every leaf of every tree at 40 (each within the leaf bound, the sum far beyond any engagement rate)
    folder = model("engagement")
    booster = lgb.Booster(model_file=str(folder / "booster.txt"))
    for tree in booster.dump_model()["tree_info"]:
        for leaf in range(tree["num_leaves"]):
            booster.set_leaf_output(tree["tree_index"], leaf, 40.0)
    booster.save_model(str(folder / "booster.txt"))
    # when / then
    with pytest.raises(ModelRefused, match=r"the trees together reach from (\d+) to \1; a model of ln engagement"):
        load_checked(folder, "engagement")


def _every_term(key: str, value: float):
    def change(spec):
        for term in spec["base"]["terms"]:
            term[key] = [value] * len(term[key])
    return change


@pytest.mark.parametrize("kind, change, words", [
    ("conversion", lambda s: s.update(dispersion=1e308), r"dispersion: got 1e\+308; expected the negative binomial"),
    ("conversion", lambda s: s.update(dispersion=0.0), r"dispersion: got 0.0"),
    ("conversion", lambda s: s.update(dispersion=math.inf), r"dispersion: got inf"),
    ("conversion", lambda s: s["base"]["terms"][4]["coef"].__setitem__(0, 1e6),
     r"base.terms\[log_followers\].coef\[0\]: got 1000000.0"),
    ("conversion", _every_term("coef", 45.0), r"base: its terms together reach from .* a rate stays within ±100"),
    ("conversion", lambda s: s.pop("base"), r"intercept: missing"),
    ("engagement", lambda s: s.update(smearing=1e308), r"smearing: got 1e\+308"),
    ("engagement", lambda s: s.update(residual_high=math.nan), r"residual_high: got nan"),
    ("engagement", lambda s: s.update(residual_low=5.0, residual_high=-5.0), r"residual_low 5.0 is above"),
    ("engagement", lambda s: s.update(coverage=1.5), r"coverage: got 1.5"),
    ("engagement", lambda s: s.update(rounds=math.inf), r"rounds: got inf; expected a finite number"),
    ("lift", lambda s: s.update(offsets=[[-1e300, 0.0, 0.5]]), r"offsets\[0\]\[0\]: got -1e\+300"),
    ("lift", lambda s: s.update(offsets=[[0.5, 0.0, -0.5]]), r"expected p10 <= p50 <= p90"),
    ("lift", lambda s: s.update(offsets=[[0.0]]), r"expected \[p10, p50, p90\]"),
    ("lift", lambda s: s.update(bin_edges=[0.5]), r"expected n edges and n \+ 1 offsets"),
])
def test_a_spec_number_out_of_its_plausible_range_is_refused_naming_field_and_value(model, kind, change, words):
    # given a model whose spec holds one implausible number (or interval terms that do not fit together)
    folder = model(kind)
    edit_spec(folder, change)
    # when / then
    with pytest.raises(ModelRefused, match="its spec holds numbers that are not plausible") as refused:
        load_checked(folder, kind)
    assert refused.match(words)
