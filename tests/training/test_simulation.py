"""The simulator: deterministic, honours the contract, matches its calibration targets and the reference campaign."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from microlift.models.contract import markdown_reference, validate
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.calibration import (
    REFERENCE_UNITS_DURING,
    calibrate,
    reference_campaign,
    simulate_reference,
)
from microlift.training.simulation.generator import sample_creators, simulate
from microlift.training.simulation.partitioned import simulate_partitioned

REPO = Path(__file__).resolve().parents[2]
ID_COLUMNS = {"creators": "creator_id", "campaigns": "campaign_id", "posts": "post_id"}


def test_same_seed_gives_identical_tables_and_another_seed_does_not():
    # given / when
    first, second, other = (simulate(400, 4, seed=s, progress=False) for s in (3, 3, 4))
    # then
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert not first["posts"]["engagements"].equals(other["posts"]["engagements"])


def test_ids_carry_the_seed_so_datasets_of_different_seeds_share_none():
    # given / when
    first, again, other = (simulate(60, 3, seed=s, progress=False) for s in (22, 22, 23))
    # then the same seed names the same rows alike; another seed names none of them
    for table, column in ID_COLUMNS.items():
        ids = first[table][column]
        assert ids.str.startswith("s22-").all() and ids.is_unique
        pd.testing.assert_series_equal(ids, again[table][column])
        assert not set(ids) & set(other[table][column]), table
    assert first["posts"]["creator_id"].isin(first["creators"]["creator_id"]).all()
    assert first["invitations"]["campaign_id"].isin(first["campaigns"]["campaign_id"]).all()


def _ids(folder: Path) -> dict[str, set[str]]:
    """A partitioned dataset's ids, per table (creators and posts are folders of parts)."""
    return {table: set(pd.read_parquet(folder / (table if table != "campaigns" else "campaigns.parquet"))[column])
            for table, column in ID_COLUMNS.items()}


def test_partitioned_ids_carry_the_seed_and_the_number_of_slices(tmp_path):
    # given datasets simulated in slices: twice alike, with another seed, in another number of slices
    for name, seed, parts in (("a", 3, 2), ("again", 3, 2), ("seed", 4, 2), ("parts", 3, 4)):
        simulate_partitioned(80, 4, parts, tmp_path / name, seed=seed, progress=False)
    first = _ids(tmp_path / "a")
    whole = simulate(80, 4, seed=3, progress=False)
    # then the same seed and slices give the same ids; no other dataset (nor the same seed simulated whole) shares one
    assert first == _ids(tmp_path / "again")
    assert all(i.startswith("s3p2-") for ids in first.values() for i in ids)
    for other in (_ids(tmp_path / "seed"), _ids(tmp_path / "parts"),
                  {table: set(whole[table][column]) for table, column in ID_COLUMNS.items()}):
        assert all(not first[table] & other[table] for table in ID_COLUMNS)


def test_the_committed_sample_is_what_its_recorded_command_writes():
    # given the command data/README.md records for data/sample
    command = re.search(r"microlift simulate --creators (\d+) --campaigns (\d+) --seed (\d+) --out data/sample",
                        (REPO / "data" / "README.md").read_text(encoding="utf-8"))
    creators, campaigns, seed = map(int, command.groups())
    # when it is simulated again
    tables = simulate(creators, campaigns, seed=seed, progress=False)
    # then the committed tables have its ids (which carry its seed) and its values
    for table, column in ID_COLUMNS.items():
        committed = pd.read_csv(REPO / "data" / "sample" / f"{table}.csv", dtype={column: str})
        assert committed[column].tolist() == tables[table][column].tolist(), table
        assert committed[column].str.startswith(f"s{seed}-").all()
    committed = pd.read_csv(REPO / "data" / "sample" / "creators.csv")
    np.testing.assert_array_equal(committed["followers"], tables["creators"]["followers"])
    np.testing.assert_array_equal(committed["platform"], tables["creators"]["platform"])


def test_simulated_tables_pass_the_contract():
    # given
    tables = simulate(300, 5, seed=1, progress=False)
    # when / then: validate raises on any failure
    for name in ("creators", "posts", "campaigns"):
        checked = validate(name, tables[name])
        assert len(checked.frame) == len(tables[name])
    assert tables["posts"]["campaign_id"].notna().sum() > 0


@pytest.mark.slow
def test_calibration_targets_are_all_in_range():
    # given
    tables = simulate(20_000, 300, seed=11, progress=False)
    # when
    report = calibrate(tables)
    # then
    with pd.option_context("display.width", 200, "display.max_colwidth", 50):
        print("\n" + report.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    assert report["ok"].all(), report.loc[~report["ok"], ["target", "low", "high", "actual"]].to_string()


@pytest.mark.slow
def test_reference_campaign_lifts_sales_a_few_times_as_reported():
    # given: DESIGN §2, 211 micro Instagram creators gifted ~$47 each, Amazon, baseline 542 units/month
    runs = simulate_reference(draws=120, seed=5)
    # when
    low, high = runs["units_during"].quantile([0.1, 0.9])
    multiple = runs["expected_units_during"].median() / reference_campaign()["baseline_units_per_month"]
    print(f"\nreference: p10 {low:,.0f} p90 {high:,.0f} expected multiple {multiple:.2f} (reported 4.7)")
    # then
    assert (runs["creators"] == 211).all()
    assert low <= REFERENCE_UNITS_DURING <= high
    assert 3.0 <= multiple <= 6.5


@pytest.fixture(scope="module")
def creators():
    return sample_creators(3_000, np.random.default_rng(0))


def _campaign(**changes):
    return {**reference_campaign(), **changes}


def test_no_roster_gives_no_lift(creators):
    outcome = ex.expected_campaign_outcome(_campaign(), creators.iloc[:0])
    assert outcome["expected_incremental_units_per_month"] == 0.0
    assert outcome["expected_cost"] == 0.0


def test_lift_grows_with_the_roster_with_diminishing_returns(creators):
    # given: rosters of 10, 20, 40, 80 copies of one typical creator
    one = creators[(creators["platform"] == "instagram") & (creators["niche"] == "home")].iloc[[0]]
    sizes = np.array([10, 20, 40, 80])
    # when
    lifts = np.array([ex.expected_campaign_outcome(_campaign(), pd.concat([one] * n).assign(
        creator_id=[f"c{i}" for i in range(n)]))["expected_incremental_units_per_month"] for n in sizes])
    # then: more creators never lower lift, and each added creator adds less than the ones before
    per_creator_gain = np.diff(lifts) / np.diff(sizes)
    assert (per_creator_gain > 0).all()
    assert (np.diff(per_creator_gain) < 0).all()


def test_a_duplicate_audience_adds_less_than_a_disjoint_one():
    # given: one creator, plus either a twin in the same niche and platform or a twin elsewhere
    base = sample_creators(1, np.random.default_rng(1)).assign(
        platform="instagram", niche="home", followers=3_000_000, er_effect=0.0, conv_effect=0.0)
    twin = base.assign(creator_id="twin")
    elsewhere = base.assign(creator_id="elsewhere", niche="pets")
    # when
    alone = ex.expected_campaign_outcome(_campaign(), base)["expected_unique_impressions"]
    shared = ex.expected_campaign_outcome(_campaign(), pd.concat([base, twin]))["expected_unique_impressions"]
    disjoint = ex.expected_campaign_outcome(_campaign(), pd.concat([base, elsewhere]))["expected_unique_impressions"]
    # then
    assert shared - alone < disjoint - alone


def test_expectations_work_for_creators_without_latent_effects(creators):
    # given: an imported roster has no simulated latent effects
    plain = creators.drop(columns=["er_effect", "conv_effect"]).iloc[:30]
    # when
    outcome = ex.expected_campaign_outcome(_campaign(compensation="paid"), plain)
    # then: typical creators, finite positive outcome and a cost equal to expected posts x price
    assert outcome["expected_incremental_units_per_month"] > 0
    posts = ex.expected_posts(ex.campaign_context(plain, _campaign(compensation="paid")))
    assert outcome["expected_cost"] == pytest.approx(float((posts * plain["price_per_post"]).sum()))


def test_data_readme_documents_every_contract_column():
    with open("data/README.md", encoding="utf-8") as handle:
        text = handle.read()
    assert markdown_reference() in text


def test_marginal_units_are_what_each_creator_adds_to_or_takes_from_a_roster(creators):
    # given: 60 creators of two platforms and a few niches (crowded cells), 25 of them in the roster
    pool = creators[creators["platform"].isin(["instagram", "tiktok"])].iloc[:60].reset_index(drop=True)
    pool = pool.assign(niche=np.where(np.arange(60) % 3 == 0, "home", pool["niche"]))
    campaign = _campaign(niche="home")
    roster = np.zeros(60, dtype=bool)
    roster[::2][:25] = True
    posts = ex.roster_posts(campaign, pool)
    totals = posts.assign(impressions=posts["weight"] * posts["expected_impressions"],
                          engagements=posts["weight"] * posts["expected_engagements"] * posts["relevance"],
                          conversions=posts["weight"] * posts["expected_conversions"])
    per_creator = totals.groupby("creator_id", sort=False)[["impressions", "engagements", "conversions"]].sum()
    frame = pool[["creator_id", "platform", "niche"]].join(per_creator, on="creator_id")
    # when
    marginal = ex.marginal_units(campaign, frame, roster)
    # then: the same as toggling each creator and asking for the whole roster's lift again
    units = lambda mask: ex.expected_campaign_outcome(campaign, pool[mask])["expected_incremental_units_per_month"]  # noqa: E731
    base = units(roster)
    toggled = []
    for i in range(60):
        other = roster.copy()
        other[i] = not roster[i]
        toggled.append(base - units(other) if roster[i] else units(other) - base)
    np.testing.assert_allclose(marginal, toggled, rtol=1e-9, atol=1e-9)
    assert (marginal[~roster] > 0).all()


# --- DESIGN §5a: what planners decide matters as it does in reality ----------------------------------------------

def _people(n: int, seed: int = 3, **fixed) -> pd.DataFrame:
    return sample_creators(n, np.random.default_rng(seed)).assign(**fixed).reset_index(drop=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_adding_any_creator_never_lowers_the_truths_expected_units(creators, data):
    # given: any roster from a crowded pool (few niches, two platforms) and any creator outside it
    pool = creators[creators["platform"].isin(["instagram", "tiktok"])].iloc[:40].reset_index(drop=True)
    pool = pool.assign(niche=np.array(["home", "gaming", "pets", "home"])[np.arange(40) % 4])
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=40, max_size=40)))
    extra = data.draw(st.integers(0, 39))
    assume(not mask[extra])
    campaign = _campaign(niche=data.draw(st.sampled_from(["home", "gaming", "tech"])),
                         compensation=data.draw(st.sampled_from(["gifting", "paid", "affiliate"])),
                         commission_rate=0.15, baseline_units_per_month=data.draw(st.sampled_from([0.0, 50.0, 542.0])))
    units = lambda m: ex.expected_campaign_outcome(campaign, pool[m])["expected_incremental_units_per_month"]  # noqa: E731
    # when
    bigger = mask.copy()
    bigger[extra] = True
    # then
    assert units(bigger) >= units(mask) - 1e-9


def test_an_overlapping_creator_adds_less_than_a_disjoint_one_and_never_a_negative_amount():
    # given: a roster of home creators on Instagram; one more home creator there (overlapping) or on TikTok
    roster = _people(30, platform="instagram", niche="home", followers=400_000)
    same = _people(1, seed=9, platform="instagram", niche="home", followers=400_000, creator_id="same")
    other = same.assign(creator_id="other", platform="tiktok")
    campaign = _campaign()
    units = lambda r: ex.expected_campaign_outcome(campaign, r)["expected_incremental_units_per_month"]  # noqa: E731
    base = units(roster)
    # when
    overlap, disjoint = units(pd.concat([roster, same])) - base, units(pd.concat([roster, other])) - base
    # then
    assert 0 < overlap < disjoint


def test_a_gift_far_below_a_creators_price_rarely_yields_a_post():
    # given: the reference gift ($39) to Instagram creators of 2 million followers, a paid post at the asking price,
    # and a gift worth a tenth of a micro creator's price
    # (Instagram's rate card: $10 per 1,000 followers)
    mega = _people(200, platform="instagram", followers=2_000_000, price_per_post=20_000.0)
    micro = _people(200, platform="instagram", followers=25_000, price_per_post=250.0)
    # when
    gifted_mega = ex.posting_probability(ex.campaign_context(mega, _campaign()))
    paid = ex.posting_probability(ex.campaign_context(micro, _campaign(compensation="paid")))
    tenth = ex.posting_probability(ex.campaign_context(micro, _campaign(gift_value=None)).assign(
        gift_value=micro["price_per_post"].to_numpy() / 10))
    # then (DESIGN §5a)
    assert gifted_mega.mean() < 0.02
    assert paid.min() > 0.95
    assert 0.4 < np.median(tenth) < 0.6


def test_a_product_sells_through_audiences_that_care_about_its_niche():
    # given: the same 100 Instagram micro creators labelled home, parenting (adjacent) or gaming (unrelated)
    people = _people(100, platform="instagram", followers=25_000)
    campaign = _campaign(niche="home")
    units = {niche: ex.expected_campaign_outcome(campaign, people.assign(niche=niche))
             for niche in ("home", "parenting", "gaming")}
    attributed = {k: v["expected_attributed_units"] for k, v in units.items()}
    halo = {k: v["expected_halo_units_per_month"] for k, v in units.items()}
    # then: matched sells most, adjacent in between, unrelated least, both attributed and through the halo
    assert attributed["home"] > attributed["parenting"] > attributed["gaming"]
    assert attributed["gaming"] < 0.2 * attributed["home"]
    assert halo["home"] > halo["parenting"] > halo["gaming"]


def test_a_new_product_gains_sales_from_its_campaign():
    # given: the reference campaign for a product without sales yet
    outcome = ex.expected_campaign_outcome(_campaign(baseline_units_per_month=0.0), _people(200, platform="instagram",
                                                                                          followers=25_000))
    # then: attributed units, word of mouth and the halo of a product that starts to rank
    assert outcome["expected_direct_units_per_month"] > 0
    assert outcome["expected_halo_units_per_month"] > 0
