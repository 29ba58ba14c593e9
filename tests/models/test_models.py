"""Features and estimators: one feature path, text-only artifacts, calibrated and monotone where promised."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microlift.models import features as F
from microlift.models import loglinear
from microlift.models.datasets import Dataset
from microlift.models.estimators import ConversionModel, EngagementModel, LiftModel, _Model
from microlift.models.loglinear import LogLinear
from microlift.training.prepare import held_out, prepare
from microlift.training.simulation.generator import simulate


@pytest.fixture(scope="module")
def prepared():
    tables = simulate(800, 30, seed=4, progress=False)
    dataset = Dataset.of(tables)
    return prepare(dataset)


@pytest.mark.parametrize("dtype", [None, object, "string", "string[pyarrow]"])
def test_unknown_and_missing_categories_get_the_reserved_code(dtype):
    # given: the values as a list, or as a column stored as objects or as (arrow) strings
    values = ["instagram", "TikTok", "myspace", None]
    # when
    got = F.codes(values if dtype is None else pd.Series(values, dtype=dtype), ("instagram", "tiktok", "youtube"))
    # then
    assert got.tolist() == [0, 1, 3, 3]


@pytest.mark.parametrize("dtype", [object, "string", "string[pyarrow]"])
def test_niche_match_is_one_only_where_both_niches_are_known_and_equal(dtype):
    rows = pd.DataFrame({"niche": pd.Series(["home", "home", None, "pets"], dtype=dtype),
                         "campaign_niche": pd.Series(["home", None, "home", "home"], dtype=dtype)})
    assert F.FEATURES["conversion"]["niche_match"](rows).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_matrix_builds_every_feature_in_order_and_missing_optional_inputs_are_nan():
    # given: only the required creator fields
    rows = pd.DataFrame({"platform": ["instagram"], "niche": ["home"], "followers": [25_000]})
    # when
    X = F.matrix("engagement", rows)
    # then
    names = F.feature_names("engagement")
    assert X.shape == (1, len(names))
    assert X[0, names.index("log_followers")] == pytest.approx(np.log10(25_000))
    assert np.isnan(X[0, names.index("audience_quality")])


def test_matrix_refuses_features_it_cannot_build():
    with pytest.raises(ValueError, match="cannot build: crystal_ball"):
        F.matrix("engagement", pd.DataFrame({"platform": [], "niche": []}), ["platform", "crystal_ball"])


def test_history_leaves_the_post_itself_out(prepared):
    # given: a creator's organic posts
    posts = prepared.posts
    creator = posts.loc[posts["campaign_id"].isna(), "creator_id"].value_counts().index[0]
    own = posts[(posts["creator_id"] == creator) & posts["campaign_id"].isna()]
    # when / then: each organic post's history mean is the mean of the creator's other organic posts
    for _, row in own.head(3).iterrows():
        others = own.loc[own["post_id"] != row["post_id"], "log_er"]
        assert row["hist_posts"] == len(others)
        assert row["hist_log_er_mean"] == pytest.approx(others.mean())
    campaign_rows = posts[(posts["creator_id"] == creator) & posts["campaign_id"].notna()]
    for _, row in campaign_rows.iterrows():
        assert row["hist_posts"] == len(own)


def test_track_record_leaves_the_posts_own_campaign_out(prepared):
    # given: a creator who posted more than once in one campaign and also in other campaigns
    rows = prepared.conversions
    per = rows.groupby(["creator_id", "campaign_id"]).size()
    campaigns_of = per.groupby(level="creator_id").size()
    repeated = [(c, k) for (c, k), n in per.items() if n > 1 and campaigns_of[c] > 1]
    assert repeated, "the fixture should hold a creator with two posts in one campaign and other campaigns"
    creator, campaign = repeated[0]
    mine = rows[rows["creator_id"] == creator]
    # when / then: each post's track record is exactly the creator's posts in the other campaigns
    for _, row in mine[mine["campaign_id"] == campaign].iterrows():
        others = mine[mine["campaign_id"] != campaign]
        assert row["track_posts"] == len(others)
        assert row["track_units"] == pytest.approx(float(others["conversions"].sum()))
        assert row["track_followers_k"] == pytest.approx(len(others) * row["followers"] / 1000)
    # and a creator whose only campaign is this one has none
    alone = [(c, k) for (c, k), n in per.items() if campaigns_of[c] == 1]
    if alone:
        only = rows[rows["creator_id"] == alone[0][0]]
        assert (only["track_posts"] == 0).all() and only["track_units"].isna().all()


def test_held_out_split_depends_only_on_the_ids():
    ids = pd.Series([f"c{i}" for i in range(2000)])
    first = held_out(ids)
    shuffled = ids.sample(frac=1, random_state=1)
    again = pd.Series(held_out(shuffled), index=shuffled.index).sort_index().to_numpy()
    assert (first == again).all()
    assert 0.15 < first.mean() < 0.25


@pytest.fixture(scope="module")
def engagement(prepared):
    posts = prepared.posts
    test = held_out(posts["creator_id"])
    return EngagementModel(rounds=60).fit(posts[~test], posts.loc[~test, "log_er"].to_numpy(),
                                          (posts[test], posts.loc[test, "log_er"].to_numpy()))


def test_saved_model_is_text_and_reloads_to_identical_predictions(prepared, engagement, tmp_path):
    # given
    model = engagement
    # when
    folder = model.save(tmp_path / "engagement")
    again = EngagementModel.load(folder)
    # then: LightGBM text boosters and JSON only, same predictions
    assert sorted(p.name for p in folder.iterdir()) == ["booster.txt", "spec.json"]
    assert (folder / "booster.txt").read_text().startswith("tree")
    rows = prepared.posts.head(200)
    np.testing.assert_allclose(again.predict(rows)["p50"], model.predict(rows)["p50"])


def test_load_refuses_an_artifact_from_other_code(engagement, tmp_path):
    folder = engagement.save(tmp_path / "engagement")
    spec = json.loads((folder / "spec.json").read_text())
    spec["vocabularies"]["niche"] = ["beauty", "crypto"]
    (folder / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="vocabulary of 'niche'"):
        EngagementModel.load(folder)
    with pytest.raises(ValueError, match="expected 'conversion'"):
        ConversionModel.load(folder)


def test_load_refuses_a_truncated_booster_instead_of_letting_lightgbm_abort(engagement, tmp_path):
    folder = engagement.save(tmp_path / "engagement")
    booster = folder / EngagementModel.booster_files[0]
    text = booster.read_text()
    booster.write_text(text[: len(text) * 2 // 3])
    with pytest.raises(ValueError, match="truncated"):
        EngagementModel.load(folder)


def test_engagement_intervals_are_ordered_and_cover_about_80_percent(prepared, engagement):
    model = engagement
    posts = prepared.posts[held_out(prepared.posts["creator_id"])]
    predicted = model.predict(posts)
    assert (predicted["p10"] <= predicted["p50"]).all() and (predicted["p50"] <= predicted["p90"]).all()
    observed = np.exp(posts["log_er"].to_numpy())
    inside = ((observed >= predicted["p10"]) & (observed <= predicted["p90"])).mean()
    assert 0.7 <= inside <= 0.9


def test_conversion_model_is_calibrated_in_the_mean_on_its_training_rows(prepared):
    rows = prepared.conversions
    test = held_out(rows["creator_id"])
    y = rows["conversions"].to_numpy(dtype=float)
    model = ConversionModel(rounds=80).fit(rows[~test], y[~test], (rows[test], y[test]))
    assert model.predict_mean(rows[~test]).sum() == pytest.approx(y[~test].sum(), rel=0.1)
    bands = model.predict(rows[test])
    assert (bands["p10"] <= bands["p90"]).all()


@pytest.fixture(scope="module")
def lift_model():
    rng = np.random.default_rng(0)
    n = 300
    engagements = np.exp(rng.normal(10, 1.2, n))
    rows = pd.DataFrame({
        "pred_engagements": engagements, "pred_unique_engagements": engagements * 0.9,
        "pred_conversions": np.exp(rng.normal(4, 1, n)),
        "creators": rng.integers(5, 300, n), "posts": rng.integers(5, 400, n), "spend": np.exp(rng.normal(9, 1, n)),
        "baseline_units_per_month": np.exp(rng.normal(6, 1, n)),
        "product_price": np.exp(rng.normal(3.3, 0.5, n)), "weeks": rng.choice([4, 8, 12], n),
        "marketplace": rng.choice(["amazon", "shopify"], n), "compensation": rng.choice(["gifting", "paid"], n),
        "discount_code": rng.random(n) < 0.5,
    })
    intensity = rows["pred_engagements"] / rows["baseline_units_per_month"] / (rows["weeks"] / 4.35)
    z = np.log1p(3 * intensity / (intensity + 60)) + rng.normal(0, 0.2, n)
    return LiftModel(rounds=100).fit(rows, z.to_numpy()), rows


@settings(max_examples=25, deadline=None)
@given(row=st.integers(0, 299), factor=st.floats(1.0, 50.0))
def test_lift_never_falls_when_the_roster_grows(lift_model, row, factor):
    # given a campaign, and the same campaign with more engagement, conversions, creators and posts
    model, rows = lift_model
    base = rows.iloc[[row]]
    bigger = base.assign(**{c: base[c] * factor for c in ("pred_engagements", "pred_unique_engagements",
                                                          "pred_conversions", "creators", "posts")})
    # when / then
    assert model.predict(bigger)["p50"][0] >= model.predict(base)["p50"][0] - 1e-9


def test_lift_intervals_hold_the_median(lift_model):
    model, rows = lift_model
    predicted = model.predict(rows)
    assert (predicted["p10"] <= predicted["p50"]).all() and (predicted["p50"] <= predicted["p90"]).all()


@pytest.fixture(scope="module")
def conversion(prepared):
    rows = prepared.conversions
    test = held_out(rows["creator_id"])
    y = rows["conversions"].to_numpy(dtype=float)
    return ConversionModel(rounds=80).fit(rows[~test], y[~test], (rows[test], y[test]))


def test_path_contributions_add_up_to_each_prediction_and_agree_with_shap(prepared, engagement, conversion):
    for model, rows in ((engagement, prepared.posts.head(300)), (conversion, prepared.conversions.head(300))):
        X = F.matrix(model.kind, rows, model.features_)
        # when
        contributions = _Model.contributions(model, X)
        # then: the base value plus each row's contributions is its raw score (init score / offset aside)
        raw = model.booster_.predict(X, raw_score=True)
        np.testing.assert_allclose(contributions.sum(axis=1) + model.paths_.base, raw, rtol=1e-9, atol=1e-9)
        # and they tell the same story as TreeSHAP, feature by feature
        shap = model.booster_.predict(X, pred_contrib=True)[:, :-1]
        assert np.corrcoef(contributions.ravel(), shap.ravel())[0, 1] > 0.8
        unused = model.booster_.feature_importance("split") == 0
        assert (contributions[:, unused] == 0).all()  # a feature the trees never split on moves nothing


def test_conversion_contributions_add_the_base_rate_terms_to_the_trees(prepared, conversion):
    rows = prepared.conversions.head(300)
    X = F.matrix("conversion", rows, conversion.features_)
    # when
    contributions = conversion.contributions(X)
    # then: with the typical post's rate and the trees' base value they add up to ln expected units per follower
    followers = rows["followers"].to_numpy(dtype=float)
    expected = np.log(conversion.predict_mean(rows, X) / (followers / 1000))
    np.testing.assert_allclose(contributions.sum(axis=1) + conversion.paths_.base + conversion.base_.typical,
                               expected, rtol=1e-9, atol=1e-9)
    # and a niche match is a reason to expect more units, as the data were simulated
    match = X[:, conversion.features_.index("niche_match")] == 1
    assert match.any() and (~match).any()
    column = contributions[:, conversion.features_.index("niche_match")]
    assert column[match].mean() > column[~match].mean()


def test_the_base_rate_recovers_a_log_linear_law_and_reads_unseen_or_missing_values_as_typical():
    # given: counts whose log rate is linear in a level (x1.6 for level 2) and a number (slope 0.4), with noise
    rng = np.random.default_rng(5)
    n = 20_000
    level = rng.integers(0, 3, n).astype(float)
    number = rng.normal(2.0, 1.0, n)
    exposure = np.exp(rng.normal(0.0, 1.0, n))
    units = rng.poisson(exposure * 0.2 * np.where(level == 2, 1.6, 1.0) * np.exp(0.4 * number)
                        * rng.gamma(0.5, 2.0, n))
    X = np.column_stack([level, number])
    # when
    base = LogLinear.fit(["level", "number"], {"level"}, X, units, exposure)
    # then: the effects come back, and the saved spec answers the same
    probe = np.array([[0.0, 2.0], [2.0, 2.0], [0.0, 3.0], [9.0, 2.0], [0.0, np.nan], [0.0, 1.0]])
    rate = base(probe)
    assert np.exp(rate[1] - rate[0]) == pytest.approx(1.6, rel=0.08)
    assert (rate[2] - rate[5]) / 2 == pytest.approx(0.4, abs=0.05)  # the slope over the middle two sd (a number's
    # term is a piecewise curve: one unit's difference alone is noisier)
    np.testing.assert_allclose(LogLinear.from_spec(json.loads(json.dumps(base.spec())))(probe), rate)
    # and an unseen level, or a missing number, contributes what a typical training row does
    contributions = base.contributions(probe)
    assert contributions[3, 0] == pytest.approx(0.0, abs=1e-12)
    assert abs(contributions[4, 1]) < abs(contributions[2, 1])


def test_the_base_rate_answers_each_row_the_same_alone_as_in_a_batch_of_many_blocks():
    # given: a base rate of a level and two numbers (one with missing values), and 40,000 rows to answer: more than
    # two blocks of rows computed together
    rng = np.random.default_rng(8)
    n = 40_000
    level = rng.integers(0, 4, n).astype(float)
    numbers = rng.normal(0.0, 1.0, (n, 2))
    numbers[rng.random(n) < 0.1, 1] = np.nan
    exposure = np.exp(rng.normal(0.0, 1.0, n))
    units = rng.poisson(exposure * 0.3 * np.exp(0.2 * level + 0.3 * np.nan_to_num(numbers[:, 1])))
    X = np.column_stack([numbers[:, 0], level, numbers[:, 1]])
    base = LogLinear.fit(["a", "level", "b"], {"level"}, X, units, exposure)
    assert n > 2 * loglinear._BLOCK
    # when
    rate, values = base(X), base.contributions(X)
    # then: each row, alone, gets the very same floats (a block boundary changes nothing)
    for i in (0, 1, loglinear._BLOCK - 1, loglinear._BLOCK, loglinear._BLOCK + 1, 2 * loglinear._BLOCK, n - 1):
        row = X[i:i + 1]
        assert base(row)[0] == rate[i]
        assert np.array_equal(base.contributions(row)[0], values[i])
    # and the rate is the typical rate plus each term's departure from its centre
    np.testing.assert_allclose(rate, base.typical + values.sum(axis=1), rtol=0, atol=1e-12)


def test_the_base_rate_weighs_overdispersed_counts_so_that_a_few_large_exposures_do_not_decide_an_effect():
    # given: units far more dispersed than Poisson (gamma shape 0.25), exposures spread over orders of magnitude,
    # and a level that sells x1.5
    rng = np.random.default_rng(0)
    n = 20_000
    level = rng.integers(0, 2, n).astype(float)
    exposure = np.exp(rng.normal(0.0, 2.0, n))
    units = rng.poisson(exposure * 0.5 * np.where(level == 1, 1.5, 1.0) * rng.gamma(0.25, 4.0, n))
    probe = np.array([[0.0], [1.0]])
    # when: fitted with negative binomial weights, and by plain Poisson likelihood
    errors = []
    for rounds in (3, 0):
        rate = LogLinear.fit(["level"], {"level"}, level[:, None], units, exposure, dispersion_rounds=rounds)(probe)
        errors.append(abs(rate[1] - rate[0] - np.log(1.5)))
    # then: the weighted fit finds the effect, much closer than the Poisson fit ruled by its largest exposures
    assert errors[0] < 0.05
    assert errors[0] < errors[1] / 2


def test_a_flag_entered_as_a_number_gets_one_plausible_coefficient_not_two_that_cancel():
    # given: a flag (0 or 1, as `niche_match` is) that sells x2, set on half the rows, and a number beside it
    rng = np.random.default_rng(3)
    n = 20_000
    flag = rng.integers(0, 2, n).astype(float)
    number = rng.normal(0.0, 1.0, n)
    exposure = np.exp(rng.normal(0.0, 1.0, n))
    units = rng.poisson(exposure * 0.3 * np.where(flag == 1, 2.0, 1.0) * np.exp(0.2 * number) * rng.gamma(0.5, 2.0, n))
    # when
    base = LogLinear.fit(["flag", "number"], set(), np.column_stack([flag, number]), units, exposure)
    # then: the flag is a line (its square would be a line through the same two points: a singular design whose
    # two coefficients grow apart, as a ln rate of 68 per unit once did), the effect comes back, and every
    # number of the term is within the bounds the service loads a model under
    term = base.terms[0]
    assert term["linear"] and term["coef"][1] == 0.0
    rate = base(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert np.exp(rate[1] - rate[0]) == pytest.approx(2.0, rel=0.08)
    assert all(abs(v) < 5 for v in term["coef"])
    assert not base.terms[1]["linear"]  # a number of many values keeps its curve


def test_a_numbers_term_bends_where_the_law_does():
    # given: a rate flat in x, then rising with slope 1, then flat again (as a creator's rate per follower bends
    # between tiers): no straight line or parabola follows it
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.normal(0.0, 1.0, n)
    exposure = np.exp(rng.normal(0.0, 2.0, n))
    units = rng.poisson(exposure * np.exp(np.clip(x, -0.8, 0.8)) * rng.gamma(0.25, 4.0, n))
    # when
    rate = LogLinear.fit(["x"], set(), x[:, None], units, exposure)(np.array([[-2.0], [-1.0], [-0.5], [0.5], [1.0],
                                                                              [2.0]]))
    # then: flat, slope 1, flat
    assert rate[1] - rate[0] == pytest.approx(0.0, abs=0.2)
    assert rate[3] - rate[2] == pytest.approx(1.0, abs=0.1)
    assert rate[5] - rate[4] == pytest.approx(0.0, abs=0.2)


def test_the_base_rates_fast_path_answers_what_its_terms_say(prepared, conversion):
    # given: training rows with unseen levels, missing and out-of-range numbers mixed in
    rows = _mixed_rows(prepared.conversions)
    X = F.matrix("conversion", rows, conversion.features_)
    base = conversion.base_
    # when: each term is computed from its own design columns and coefficients, one by one
    blocks = zip(base.terms, base._columns(X), strict=True)
    by_term = np.column_stack([block @ np.asarray(t["coef"] + t.get("hinge", [])) for t, block in blocks])
    for j, term in enumerate(base.terms):
        if term["kind"] == "level":
            unseen = ~np.isin(X[:, j], np.asarray(term["levels"], dtype=float))
            by_term[unseen, j] = term["center"]
        if term.get("held"):
            by_term[:, j] = term["center"]
    centers = np.array([t["center"] for t in base.terms])
    # then: the vectorised contributions and rate agree with them
    np.testing.assert_allclose(base.contributions(X), by_term - centers, atol=1e-9)
    np.testing.assert_allclose(base(X), base.typical + (by_term - centers).sum(axis=1), atol=1e-9)
    # and every term answers, numbers with their hinges
    assert not any(t.get("held") for t in base.terms)
    assert any(t.get("hinge") for t in base.terms if t["kind"] == "number")


def test_a_conversion_model_saved_with_the_retired_format_feature_still_builds_its_matrix():
    rows = pd.DataFrame({"platform": ["instagram", "tiktok"], "niche": ["home", "home"], "followers": [5e3, 9e4]})
    X = F.matrix("conversion", rows, ["platform", "format"])
    assert X[:, 1].tolist() == [F.FORMATS.index("feed"), F.FORMATS.index("video")]
    assert "format" not in F.feature_names("conversion")


def _mixed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with missing optional fields, unknown categories and extreme numbers mixed in."""
    odd = rows.head(60).copy()
    odd.loc[odd.index[::3], "country"] = None
    odd.loc[odd.index[1::3], "niche"] = "crypto"
    odd.loc[odd.index[2::5], "followers"] = 1e9
    odd.loc[odd.index[::4], "hist_log_er_mean"] = np.nan
    return pd.concat([rows.head(300), odd], ignore_index=True)


def test_compiled_models_predict_what_lightgbm_predicts_and_compile_once(prepared, engagement, conversion,
                                                                         lift_model, tmp_path):
    from microlift.models.estimators import MODELS

    lift, lift_rows = lift_model
    cases = ((engagement, _mixed_rows(prepared.posts)), (conversion, _mixed_rows(prepared.conversions)),
             (lift, lift_rows))
    for model, rows in cases:
        folder = model.save(tmp_path / model.kind)
        plain, fast = MODELS[model.kind].load(folder), MODELS[model.kind].load(folder)
        # when
        assert fast.compile(tmp_path / "compiled")
        # then: the same answers to 1e-12 on ordinary, missing, unknown and extreme inputs
        for name, values in plain.predict(rows).items():
            np.testing.assert_allclose(fast.predict(rows)[name], values, rtol=1e-12, atol=1e-12, err_msg=name)
    objects = sorted((tmp_path / "compiled").glob("*.o"))
    assert len(objects) == 3 and not [p for p in (tmp_path / "compiled").iterdir() if p.is_dir()]
    # a second load reuses the cached object files: nothing is compiled or written again
    stamps = [p.stat().st_mtime_ns for p in objects]
    again = MODELS["engagement"].load(tmp_path / "engagement")
    assert again.compile(tmp_path / "compiled")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "compiled").glob("*.o"))] == stamps


def test_a_compiled_object_that_disagrees_with_its_booster_is_not_used(engagement, conversion, tmp_path, caplog):
    # given: the cache file of the engagement booster holds the conversion booster's machine code (a whole object
    # file, its SHA-256 recorded: nothing tells it apart but what it answers)
    assert conversion.compile(tmp_path / "other")
    (stale,) = (tmp_path / "other").glob("*.o")
    fresh = EngagementModel.load(engagement.save(tmp_path / "engagement"))
    assert fresh.compile(tmp_path / "compiled")
    (target,) = (tmp_path / "compiled").glob("*.o")
    target.write_bytes(stale.read_bytes())
    target.with_name(target.name + ".sha256").write_text(stale.with_name(stale.name + ".sha256").read_text())
    again = EngagementModel.load(tmp_path / "engagement")
    # when
    used = again.compile(tmp_path / "compiled")
    # then: LightGBM predicts, and the log says why
    assert not used and again.compiled_ is None
    assert "disagrees with LightGBM" in caplog.text
    rows = F.matrix("engagement", pd.DataFrame({"platform": ["instagram"], "niche": ["home"]}), again.features_)
    np.testing.assert_allclose(again.predict_log(None, rows), engagement.predict_log(None, rows))


def test_a_cache_that_cannot_be_written_leaves_lightgbm_predicting(engagement, tmp_path, caplog):
    # given: the cache path is a file, not a folder
    (tmp_path / "compiled").write_text("not a folder")
    model = EngagementModel.load(engagement.save(tmp_path / "engagement"))
    # when / then: no compiled predictor, a warning, and the same answers as before
    assert not model.compile(tmp_path / "compiled")
    assert "booster not compiled" in caplog.text
    rows = F.matrix("engagement", pd.DataFrame({"platform": ["tiktok"], "niche": ["pets"]}), model.features_)
    np.testing.assert_allclose(model.predict_log(None, rows), engagement.predict_log(None, rows))
