"""One campaign's results checked with the data contract: parts filled in, every failure listed, a stable digest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from microlift.models.contract import ContractError
from microlift.models.errors import PlanningError
from microlift.models.results import MAX_ROWS, read_part, results_from

CAMPAIGN = "cmp-0123456789ab"


def sales(days: int = 70, start: str = "2026-01-05", step: int = 1) -> pd.DataFrame:
    dates = pd.date_range(start, periods=days, freq=f"{step}D")
    units = 40 + (np.arange(days) % 7)
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "units": units.astype(str)})


def posts() -> pd.DataFrame:
    return pd.DataFrame({"post_id": ["p1", "p2", "p3"], "creator_id": ["a", "b", "c"],
                         "posted_at": ["2026-02-20T10:00:00Z", "2026-02-21", "2026-02-22 08:30"],
                         "likes": ["100", "20", "7"], "comments": ["5", "", "1"], "conversions": ["3", "", "0"]})


def invitations() -> pd.DataFrame:
    return pd.DataFrame({"creator_id": ["a", "b", "d"], "posted": ["yes", "true", "no"], "fee": ["", "120", ""]})


def test_results_take_the_campaign_id_and_sponsored_posts_when_left_out():
    # given parts without campaign_id and posts without sponsored
    # when
    results = results_from({"sales": sales(), "posts": posts(), "invitations": invitations()}, CAMPAIGN)
    # then every row is the campaign's, posts are sponsored, engagements are summed from their parts
    assert results.campaign_id == CAMPAIGN
    for frame in results.parts().values():
        assert (frame["campaign_id"] == CAMPAIGN).all()
    assert results.posts["sponsored"].tolist() == [True, True, True]
    assert results.posts["engagements"].tolist() == [105, 20, 8]
    assert results.attributed_units == 3.0
    assert results.sales["date"].is_monotonic_increasing and len(results.sales) == 70
    # and the post by a creator not invited is a warning naming it, not an error
    assert len(results.warnings) == 1 and "post p3 by c" in results.warnings[0]


def test_without_a_campaign_id_the_results_get_a_new_one():
    first = results_from({"sales": sales()}, None)
    second = results_from({"sales": sales()}, None)
    assert first.campaign_id != second.campaign_id
    assert first.campaign_id.startswith("cmp-") and len(first.campaign_id) == 16
    assert (first.sales["campaign_id"] == first.campaign_id).all()
    assert first.invitations is None and first.posts is None and first.attributed_units is None


def test_every_failure_is_listed_with_its_part_row_and_column():
    # given sales with a negative unit, posts naming another campaign, an invited creator marked not posted
    # although it posted, and an unknown part
    bad_sales = sales().assign(units=lambda f: f["units"].where(f.index != 3, "-2"))
    bad_posts = posts().assign(campaign_id=[CAMPAIGN, "cmp-other", None])
    bad_invitations = invitations().assign(posted=["no", "yes", "no"])
    # when
    with pytest.raises(ContractError) as caught:
        results_from({"sales": bad_sales, "posts": bad_posts, "invitations": bad_invitations, "extra": sales()},
                     CAMPAIGN, {"sales": "sales.csv", "posts": "posts.csv", "invitations": "invitations.csv"})
    # then each is reported, with where it is
    said = [str(f) for f in caught.value.failures]
    assert any(s.startswith("sales.csv row 4, column units: got '-2'") for s in said)
    assert any(s.startswith("posts.csv row 2, column campaign_id: got 'cmp-other'") and CAMPAIGN in s for s in said)
    assert any(s.startswith("invitations.csv row 1, column posted") and "post p1" in s for s in said)
    assert any("unknown part 'extra'" in s for s in said)
    assert len(said) == 4


def test_sales_dates_must_be_unique_and_regular():
    # a repeated date: the contract's key check names both rows
    repeated = pd.concat([sales(10), sales(1)], ignore_index=True)
    with pytest.raises(ContractError) as caught:
        results_from({"sales": repeated}, CAMPAIGN)
    assert [f.row for f in caught.value.failures] == [1, 11]
    # a gap: refused as irregular, naming the date after it
    gap = sales(20).drop(index=[7]).reset_index(drop=True)
    with pytest.raises(ContractError) as caught:
        results_from({"sales": gap}, CAMPAIGN)
    (failure,) = caught.value.failures
    assert failure.column == "date" and "2026-01-13" in str(failure)
    # no sales: refused, they are what the lift is measured from
    with pytest.raises(ContractError, match="no sales given"):
        results_from({"posts": posts()}, CAMPAIGN)


def test_weekly_sales_are_accepted():
    results = results_from({"sales": sales(20, step=7)}, CAMPAIGN)
    assert len(results.sales) == 20


def test_an_import_too_large_is_refused_naming_the_part():
    many = pd.DataFrame({"creator_id": [f"c{i}" for i in range(MAX_ROWS + 1)], "posted": "true"})
    with pytest.raises(PlanningError) as caught:
        results_from({"sales": sales(), "invitations": many}, CAMPAIGN)
    assert caught.value.field == "invitations" and caught.value.value == MAX_ROWS + 1
    with pytest.raises(PlanningError) as caught:
        results_from({"sales": sales(6 * 366)}, CAMPAIGN)
    assert caught.value.field == "sales"


def test_the_digest_ignores_row_and_column_order_and_sees_any_change():
    parts = {"sales": sales(), "posts": posts(), "invitations": invitations()}
    digest = results_from(parts, CAMPAIGN).digest()
    shuffled = {name: frame.sample(frac=1.0, random_state=3)[frame.columns[::-1]] for name, frame in parts.items()}
    assert results_from(shuffled, CAMPAIGN).digest() == digest
    changed = {**parts, "sales": sales().assign(units=lambda f: f["units"].where(f.index != 50, "41.5"))}
    assert results_from(changed, CAMPAIGN).digest() != digest
    assert results_from({"sales": sales()}, CAMPAIGN).digest() != digest
    assert results_from(parts, "cmp-another00000").digest() != digest


def test_csv_parquet_and_json_files_give_the_same_results(tmp_path):
    parts = {"sales": sales(), "posts": posts()}
    digests = set()
    for suffix in ("csv", "parquet", "json"):
        for name, frame in parts.items():
            path = tmp_path / f"{name}.{suffix}"
            if suffix == "csv":
                frame.to_csv(path, index=False)
            elif suffix == "parquet":
                frame.to_parquet(path, index=False)
            else:
                path.write_text(json.dumps(frame.to_dict("records")))
        read = {name: read_part(tmp_path / f"{name}.{suffix}") for name in parts}
        digests.add(results_from(read, CAMPAIGN).digest())
    assert len(digests) == 1
    (tmp_path / "bad.json").write_text('{"date": "2026-01-01"}')
    with pytest.raises(ValueError, match="list of records"):
        read_part(tmp_path / "bad.json")
