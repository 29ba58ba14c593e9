"""The data contract: each way of breaking a table gives one exact failure, and every failure is listed at once."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from microlift.models.contract import ContractError, Failure, check_references, uninvited_posts, validate
from microlift.training.simulation.generator import simulate

SOURCE = {"creators": "creators.csv", "posts": "posts.csv", "campaigns": "campaigns.csv",
          "invitations": "invitations.csv"}
REPEATED_PAIR = "a unique combination of these columns (this one appears more than once)"


def invitations_of(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Invitations that agree with the posts: every creator with a post in a campaign (posted) and, per campaign,
    two creators without one there (no content received), first those who posted elsewhere; a fee on odd rows."""
    posts = tables["posts"]
    made = posts.loc[posts["campaign_id"].notna(), ["campaign_id", "creator_id"]].drop_duplicates()
    rows = []
    for campaign in tables["campaigns"]["campaign_id"]:
        posted = made.loc[made["campaign_id"] == campaign, "creator_id"].tolist()
        others = sorted((c for c in tables["creators"]["creator_id"] if c not in posted),
                        key=lambda c: c not in set(made["creator_id"]))
        rows += [(campaign, c, True) for c in posted] + [(campaign, c, False) for c in others[:2]]
    frame = pd.DataFrame(rows, columns=["campaign_id", "creator_id", "posted"])
    return frame.assign(fee=[150.0 if i % 2 else np.nan for i in range(len(frame))])


@pytest.fixture(scope="module")
def simulated() -> dict[str, pd.DataFrame]:
    tables = simulate(60, 3, seed=1, progress=False)
    return {**tables, "invitations": invitations_of(tables)}


def first_posted(invitations: pd.DataFrame, posts: pd.DataFrame) -> tuple[int, str, str, pd.Series]:
    """The first invitation marked posted: its index, campaign, creator and the ids of their posts there."""
    row = int(invitations.index[invitations["posted"]][0])
    campaign, creator = invitations.loc[row, "campaign_id"], invitations.loc[row, "creator_id"]
    theirs = posts.loc[(posts["campaign_id"] == campaign) & (posts["creator_id"] == creator), "post_id"]
    return row, campaign, creator, theirs


def with_cell(frame: pd.DataFrame, column: str, index: int, value: object) -> pd.DataFrame:
    """A copy of `frame` with one cell replaced; the column becomes `object` so any raw value fits."""
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[index, column] = value
    return frame


def same_value(got: object, expected: object) -> bool:
    """Equality that treats NaN as equal to NaN."""
    if isinstance(got, float) and isinstance(expected, float) and math.isnan(got) and math.isnan(expected):
        return True
    return got == expected


def as_csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a CSV export reads back: every value a string, empty cells missing."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=[""])


def failures_of(table: str, frame: pd.DataFrame) -> list[Failure]:
    with pytest.raises(ContractError) as caught:
        validate(table, frame, source=SOURCE[table])
    return caught.value.failures


# (table, column, 0-based index of the broken row, raw value, words the `accepted` text must contain)
ONE_BAD_VALUE = [
    pytest.param("creators", "platform", 2, "myspace", ("instagram", "tiktok", "youtube"), id="unknown-platform"),
    pytest.param("creators", "followers", 2, "12k", ("whole number",), id="followers-not-a-number"),
    pytest.param("creators", "followers", 2, 0, ("whole number", "between 1 and 1e+10"), id="followers-zero"),
    pytest.param("creators", "followers", 2, -5, ("whole number", "between 1 and 1e+10"), id="followers-negative"),
    pytest.param("creators", "followers", 2, 12.5, ("whole number",), id="followers-fractional"),
    pytest.param("creators", "followers", 2, "12.5", ("whole number",), id="followers-fractional-text"),
    pytest.param("creators", "followers", 2, np.nan, ("required", "whole number"), id="followers-nan"),
    pytest.param("creators", "followers", 2, "", ("required", "whole number"), id="followers-empty"),
    pytest.param("creators", "creator_id", 2, "", ("required", "an id of 1 to 200 characters"), id="creator-id-empty"),
    pytest.param("creators", "creator_id", 2, None, ("required", "an id of 1 to 200 characters"), id="creator-id-none"),
    pytest.param("posts", "posted_at", 2, None, ("required", "ISO 8601"), id="posted-at-none"),
    pytest.param("posts", "sponsored", 2, "", ("required", "true/false"), id="sponsored-empty"),
    pytest.param("creators", "platform", 2, "", ("required", "instagram", "tiktok", "youtube"),
                 id="platform-empty"),
    pytest.param("creators", "niche", 2, np.nan, ("required", "beauty", "other"),
                 id="niche-nan"),
    pytest.param("creators", "audience_quality", 2, "inf", ("finite", "between 0 and 1"), id="inf-text"),
    pytest.param("creators", "avg_views", 2, -np.inf, ("finite", "between 0 and 1e+11"), id="minus-inf-float"),
    pytest.param("creators", "audience_quality", 2, 1.5, ("between 0 and 1",), id="audience-quality-above-1"),
    pytest.param("posts", "sponsored", 2, "maybe", ("true/false", "yes/no"), id="sponsored-not-a-boolean"),
    pytest.param("posts", "posted_at", 2, "yesterday", ("ISO 8601",), id="posted-at-words"),
    pytest.param("posts", "posted_at", 2, "2025-13-45", ("ISO 8601",), id="posted-at-impossible-date"),
    pytest.param("posts", "format", 2, "carousel", ("feed", "reel", "story", "video", "short"), id="unknown-format"),
    pytest.param("campaigns", "compensation", 1, "barter", ("gifting", "paid", "affiliate"), id="bad-compensation"),
    pytest.param("campaigns", "start_date", 1, "next monday", ("YYYY-MM-DD",), id="start-date-words"),
    pytest.param("campaigns", "weeks", 1, 200, ("between 0.5 and 104",), id="weeks-too-long"),
    pytest.param("campaigns", "marketplace", 1, "ebay", ("amazon", "shopify", "retail", "other"),
                 id="unknown-marketplace"),
    # creator numbers within their domain (BOUNDS), text within the catalog's column sizes
    pytest.param("creators", "followers", 2, 1e30, ("between 1 and 1e+10",), id="followers-beyond-any-account"),
    pytest.param("creators", "followers", 2, "10000000000000000000", ("between 1 and 1e+10",),
                 id="followers-beyond-bigint"),
    pytest.param("creators", "price_per_post", 2, 1e12, ("between 0 and 1e+07",), id="price-beyond-any-creator"),
    pytest.param("creators", "posts_per_week", 2, 1e5, ("between 0 and 10000",), id="posting-beyond-once-a-minute"),
    pytest.param("creators", "creator_id", 2, "a/b", ("without '/'",), id="creator-id-slash"),
    pytest.param("creators", "creator_id", 2, "a\x00b", ("control characters",), id="creator-id-nul"),
    pytest.param("creators", "creator_id", 2, "x" * 201, ("1 to 200 characters",), id="creator-id-too-long"),
    pytest.param("creators", "creator_id", 2, "..", ("not only dots",), id="creator-id-dots"),
    pytest.param("posts", "post_id", 2, "p\x07", ("control characters",), id="post-id-bell"),
    pytest.param("creators", "country", 2, "usa", ("ISO 3166-1 alpha-2",), id="country-three-letters"),
    pytest.param("creators", "country", 2, "U" * 100, ("ISO 3166-1 alpha-2",), id="country-too-long"),
    pytest.param("invitations", "posted", 2, "maybe", ("true/false", "yes/no"), id="posted-not-a-boolean"),
    pytest.param("invitations", "posted", 2, "", ("required", "true/false"), id="posted-empty"),
    pytest.param("invitations", "fee", 2, -5.0, ("between 0 and 1e+07",), id="fee-negative"),
    pytest.param("invitations", "fee", 2, 1e12, ("between 0 and 1e+07",), id="fee-beyond-any-creator"),
    pytest.param("invitations", "fee", 2, "free", ("finite number",), id="fee-words"),
    pytest.param("invitations", "campaign_id", 2, None, ("required", "an id of 1 to 200 characters"),
                 id="invitation-campaign-id-none"),
]


@pytest.mark.parametrize(("table", "column", "index", "value", "accepted_words"), ONE_BAD_VALUE)
def test_one_bad_value_gives_one_exact_failure(simulated, table, column, index, value, accepted_words):
    # given a valid simulated table with one cell broken
    frame = with_cell(simulated[table], column, index, value)

    # when
    failures = failures_of(table, frame)

    # then exactly that cell is reported: file, 1-based data row, column, the raw value, what is accepted
    assert len(failures) == 1, failures
    failure = failures[0]
    assert (failure.file, failure.row, failure.column) == (SOURCE[table], index + 1, column)
    assert same_value(failure.value, value)
    for word in accepted_words:
        assert word in failure.accepted
    assert f"row {index + 1}, column {column}" in str(failure)


@pytest.mark.parametrize(("table", "column", "index"), [("posts", "format", 2), ("campaigns", "marketplace", 1)])
def test_blank_optional_vocabulary_value_is_accepted_as_missing(simulated, table, column, index):
    # given an optional vocabulary column left empty on one row, as a CSV export would leave it
    frame = as_csv_text(with_cell(simulated[table], column, index, None))

    # when
    checked = validate(table, frame, source=SOURCE[table])

    # then the row passes and the value is missing
    assert len(checked.frame) == len(frame)
    assert pd.isna(checked.frame[column].iloc[index])


@pytest.mark.parametrize(("raw", "expected"), [("family", "parenting"), ("interior", "home"), ("pet", "pets"),
                                                ("Family ", "parenting"), ("FITNESS", "fitness")])
def test_niche_alias_maps_onto_vocabulary_without_warning(simulated, raw, expected):
    # given
    frame = with_cell(simulated["creators"], "niche", 4, raw)

    # when
    checked = validate("creators", frame, source="creators.csv")

    # then
    assert checked.frame["niche"].iloc[4] == expected
    assert checked.warnings == []


@pytest.mark.parametrize("table", ["creators", "campaigns"])
def test_unknown_niches_become_other_with_a_warning_counting_them(simulated, table):
    # given two rows with the same unknown niche and one with another
    frame = simulated[table].copy()
    frame["niche"] = frame["niche"].astype(object)
    frame.loc[[0, 2], "niche"] = "knitting"
    frame.loc[1, "niche"] = "crypto"

    # when
    checked = validate(table, frame, source=SOURCE[table])

    # then no error: they map to `other`, and one warning names the file, the count and the labels
    assert checked.frame["niche"].iloc[:3].tolist() == ["other", "other", "other"]
    assert len(checked.frame) == len(frame)
    assert len(checked.warnings) == 1
    warning = checked.warnings[0]
    assert warning.startswith(SOURCE[table])
    assert "3 row(s)" in warning
    assert "'crypto'" in warning and "'knitting'" in warning


@pytest.mark.parametrize(("raw", "expected"), [("IG", "instagram"), ("yt", "youtube"), ("TikTok", "tiktok")])
def test_platform_alias_and_case_are_normalized(simulated, raw, expected):
    # given
    frame = with_cell(simulated["creators"], "platform", 0, raw)

    # when
    checked = validate("creators", frame)

    # then
    assert checked.frame["platform"].iloc[0] == expected


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("1", True), ("1.0", True), ("TRUE", True),
                                                ("no", False), ("0", False), ("f", False)])
def test_boolean_spellings_are_accepted(simulated, raw, expected):
    # given
    frame = with_cell(simulated["posts"], "sponsored", 0, raw)

    # when
    checked = validate("posts", frame)

    # then
    assert checked.frame["sponsored"].iloc[0] == expected


def test_duplicate_creator_id_reports_both_rows(simulated):
    # given row 6 (index 5) repeats the id of row 3 (index 2)
    creators = simulated["creators"]
    duplicated = creators["creator_id"].iloc[2]
    frame = with_cell(creators, "creator_id", 5, duplicated)

    # when
    failures = failures_of("creators", frame)

    # then both rows are named, with the repeated value
    assert [(f.file, f.row, f.column, f.value) for f in failures] == [
        ("creators.csv", 3, "creator_id", duplicated),
        ("creators.csv", 6, "creator_id", duplicated),
    ]
    assert all("unique" in f.accepted for f in failures)


@pytest.mark.parametrize(("table", "column"), [
    ("creators", "followers"),
    ("posts", "posted_at"),
    ("posts", "engagements"),
    ("posts", "sponsored"),
    pytest.param("creators", "platform"),
    pytest.param("campaigns", "compensation"),
])
def test_missing_required_column_is_one_whole_column_failure(simulated, table, column):
    # given
    frame = simulated[table].drop(columns=column)

    # when
    failures = failures_of(table, frame)

    # then one failure for the column, not one per row
    assert failures == [Failure(SOURCE[table], None, column, "(column missing)", f"a column named {column}")]


def test_missing_optional_column_is_not_a_failure(simulated):
    # given
    frame = simulated["creators"].drop(columns=["avg_views", "country"])

    # when
    checked = validate("creators", frame)

    # then
    assert len(checked.frame) == len(frame)
    assert checked.frame["avg_views"].isna().all()


def test_several_problems_are_all_reported_in_one_error(simulated):
    # given five different problems on five rows, and one duplicated id (two more rows)
    frame = simulated["creators"].copy().astype(object)
    frame.loc[0, "platform"] = "myspace"
    frame.loc[1, "followers"] = "lots"
    frame.loc[2, "audience_quality"] = 2.0
    frame.loc[3, "followers"] = 0
    frame.loc[4, "sponsored_share"] = "inf"
    frame.loc[8, "creator_id"] = frame.loc[7, "creator_id"]

    # when
    with pytest.raises(ContractError) as caught:
        validate("creators", frame, source="creators.csv")

    # then all seven are listed, in row order, and the message counts them
    found = [(f.row, f.column) for f in caught.value.failures]
    assert found == [(1, "platform"), (2, "followers"), (3, "audience_quality"), (4, "followers"),
                     (5, "sponsored_share"), (8, "creator_id"), (9, "creator_id")]
    message = str(caught.value)
    assert message.startswith("7 problem(s)")
    assert "creators.csv row 2, column followers: got 'lots'" in message


def test_problems_in_several_columns_of_posts_are_all_reported(simulated):
    # given bad values in four different kinds of column
    frame = simulated["posts"].copy().astype(object)
    frame.loc[0, "posted_at"] = "soon"
    frame.loc[1, "sponsored"] = "perhaps"
    frame.loc[2, "engagements"] = -1
    frame.loc[3, "format"] = "carousel"

    # when
    failures = failures_of("posts", frame)

    # then
    assert [(f.row, f.column, f.value) for f in failures] == [
        (1, "posted_at", "soon"), (2, "sponsored", "perhaps"), (3, "engagements", -1), (4, "format", "carousel")]


def test_posts_with_likes_and_comments_get_engagements_as_their_sum(simulated):
    # given posts with likes and comments but no engagements column
    posts = simulated["posts"].head(5).drop(columns="engagements")
    likes, comments = [10, 0, 3, 7, 100], [1, 2, 0, 5, 50]
    frame = posts.assign(likes=likes, comments=comments)

    # when
    checked = validate("posts", frame)

    # then
    assert checked.frame["engagements"].tolist() == [11, 2, 3, 12, 150]
    assert checked.frame["likes"].tolist() == likes


def test_posts_with_engagement_parts_as_csv_text_get_their_sum(simulated):
    # given the same, read back from CSV (strings, one empty part)
    posts = simulated["posts"].head(3).drop(columns="engagements")
    frame = as_csv_text(posts.assign(likes=["4", "", "6"], shares=["1", "2", "0"]))

    # when
    checked = validate("posts", frame)

    # then an empty part counts as zero
    assert checked.frame["engagements"].tolist() == [5, 2, 6]


@pytest.mark.parametrize("form", ["typed", "csv-text"])
@pytest.mark.parametrize("table", ["creators", "posts", "campaigns", "invitations"])
def test_valid_frame_passes_unchanged(simulated, table, form):
    # given a valid table, as typed values or as a CSV export reads back
    original = simulated[table]
    frame = original if form == "typed" else as_csv_text(original)

    # when
    checked = validate(table, frame, source=SOURCE[table])

    # then every row is kept, numbers are numeric and times are datetimes, values unchanged
    parsed = checked.frame
    assert len(parsed) == len(original)
    assert checked.warnings == []
    key = {"creators": "creator_id", "posts": "post_id", "campaigns": "campaign_id", "invitations": "creator_id"}[table]
    assert parsed[key].tolist() == original[key].tolist()
    if table == "creators":
        assert pd.api.types.is_numeric_dtype(parsed["followers"])
        assert (parsed["followers"] == original["followers"]).all()
        assert parsed["platform"].tolist() == original["platform"].tolist()
    if table == "posts":
        assert pd.api.types.is_datetime64_any_dtype(parsed["posted_at"])
        assert (parsed["posted_at"] == original["posted_at"]).all()
        assert parsed["sponsored"].tolist() == original["sponsored"].tolist()
        assert (parsed["engagements"] == original["engagements"]).all()
    if table == "campaigns":
        assert pd.api.types.is_datetime64_any_dtype(parsed["start_date"])
        assert (parsed["start_date"] == original["start_date"]).all()
        assert np.allclose(parsed["budget"], original["budget"])
    if table == "invitations":
        assert parsed["campaign_id"].tolist() == original["campaign_id"].tolist()
        assert parsed["posted"].tolist() == original["posted"].tolist()
        assert np.allclose(parsed["fee"], original["fee"], equal_nan=True)
        assert parsed["fee"].isna().any()  # an empty fee (the creator's price) stays empty


def test_validate_does_not_modify_the_input(simulated):
    # given
    frame = simulated["creators"].copy()
    frame["niche"] = frame["niche"].astype(object)
    frame.loc[0, "niche"] = "family"
    before = frame.copy()

    # when
    validate("creators", frame)

    # then
    pd.testing.assert_frame_equal(frame, before)


def test_check_references_names_dangling_creator_and_campaign(simulated):
    # given posts pointing at a creator and a campaign that do not exist
    posts = simulated["posts"].copy()
    posts["campaign_id"] = posts["campaign_id"].astype(object)
    posts.loc[1, "creator_id"] = "ghost"
    posts.loc[3, "campaign_id"] = "cmp-ghost"
    tables = {"creators": simulated["creators"], "posts": posts, "campaigns": simulated["campaigns"]}

    # when
    failures = check_references(tables, SOURCE)

    # then organic posts (no campaign) are fine; the two dangling ids are named
    assert [(f.file, f.row, f.column, f.value) for f in failures] == [
        ("posts.csv", 2, "creator_id", "ghost"), ("posts.csv", 4, "campaign_id", "cmp-ghost")]
    assert failures[0].accepted == "a creator_id present in creators.csv"
    assert failures[1].accepted == "a campaign_id present in campaigns.csv"


@pytest.mark.parametrize(("column", "value", "words"), [
    ("hist_log_er_mean", 1e308, "between -24 and 10"), ("hist_log_er_mean", "-1000", "between -24 and 10"),
    ("hist_log_er_sd", -0.5, "between 0 and 17"), ("hist_posts", "lots", "a finite number"),
    ("track_units", "inf", "between 0 and 1e+09"),
])
def test_history_columns_given_in_a_creators_table_are_held_to_their_range(simulated, column, value, words):
    # given a creators table with one history column, one value out of its range
    frame = with_cell(simulated["creators"].assign(**{column: 1.0}), column, 3, value)
    # when
    failures = failures_of("creators", frame)
    # then that cell is named
    assert [(f.row, f.column) for f in failures] == [(4, column)]
    assert words in failures[0].accepted


def test_history_columns_are_kept_when_given_and_left_out_when_not(simulated):
    # given a creators table with two of the history columns
    frame = simulated["creators"].assign(hist_posts="12", hist_log_er_mean=-3.5)
    # when
    parsed = validate("creators", frame).frame
    # then those two are parsed; the others are not made up (a catalog keeps what it has for them)
    assert parsed["hist_posts"].tolist() == [12.0] * len(frame)
    assert (parsed["hist_log_er_mean"] == -3.5).all()
    assert not {"hist_log_er_sd", "track_posts", "track_units", "track_followers_k"} & set(parsed.columns)


def test_an_unknown_creators_column_is_named_with_the_accepted_ones(simulated):
    # given a creators table whose followers column is misspelt
    frame = simulated["creators"].rename(columns={"followers": "follower_count"})
    # when
    failures = failures_of("creators", frame)
    # then the missing column and the unknown one are both named, the unknown one with every accepted column
    assert [(f.row, f.column, f.value) for f in failures] == [
        (None, "followers", "(column missing)"), (None, "follower_count", "(not a column of the contract)")]
    assert "creator_id, platform, niche, followers" in failures[1].accepted
    assert "hist_log_er_mean" in failures[1].accepted


def test_an_unknown_posts_column_is_ignored_with_a_warning_naming_it(simulated):
    # given posts with a column of the exporting tool
    frame = simulated["posts"].assign(caption="hello")
    # when
    checked = validate("posts", frame, source="posts.csv")
    # then the table passes without it, and the warning says so
    assert "caption" not in checked.frame.columns
    assert checked.warnings == ["posts.csv: column(s) not in the contract, ignored: caption"]


def test_countries_are_stored_in_capitals(simulated):
    # given a country written in small letters
    frame = with_cell(simulated["creators"], "country", 0, "gb")
    # when / then
    assert validate("creators", frame).frame["country"].iloc[0] == "GB"


def test_invitations_repeat_creators_and_campaigns_but_not_their_pairs(simulated):
    # given the valid invitations: a creator invited to several campaigns, a campaign inviting several creators
    frame = simulated["invitations"]
    assert frame["creator_id"].duplicated().any() and frame["campaign_id"].duplicated().any()
    # when / then each column alone may repeat: only the pair is unique
    assert len(validate("invitations", frame).frame) == len(frame)


@pytest.mark.parametrize("form", ["typed", "csv-text"])
def test_an_invitation_listed_twice_names_both_rows_and_the_pair(simulated, form):
    # given row 6 (index 5) repeats the campaign and creator of row 3 (index 2)
    invitations = simulated["invitations"]
    campaign, creator = invitations.loc[2, "campaign_id"], invitations.loc[2, "creator_id"]
    frame = with_cell(with_cell(invitations, "campaign_id", 5, campaign), "creator_id", 5, creator)
    frame = frame if form == "typed" else as_csv_text(frame)

    # when
    failures = failures_of("invitations", frame)

    # then both rows are named, with the repeated pair
    assert failures == [
        Failure("invitations.csv", 3, "campaign_id, creator_id", (campaign, creator), REPEATED_PAIR),
        Failure("invitations.csv", 6, "campaign_id, creator_id", (campaign, creator), REPEATED_PAIR),
    ]
    assert str(failures[1]) == (f"invitations.csv row 6, column campaign_id, creator_id: got "
                                f"('{campaign}', '{creator}'); expected {REPEATED_PAIR}")


def test_invitations_missing_their_creator_are_not_reported_as_a_repeated_pair(simulated):
    # given two invitations of one campaign, both without a creator
    invitations = simulated["invitations"]
    frame = with_cell(invitations, "campaign_id", 5, invitations.loc[2, "campaign_id"])
    frame = with_cell(with_cell(frame, "creator_id", 2, None), "creator_id", 5, None)

    # when
    failures = failures_of("invitations", frame)

    # then each missing value is its own failure, and nothing more
    assert [(f.row, f.column) for f in failures] == [(3, "creator_id"), (6, "creator_id")]
    assert all("required" in f.accepted for f in failures)


def test_invitations_that_agree_with_the_posts_pass_across_tables(simulated):
    # given invitations with posters and creators who sent nothing, some of whom posted in another campaign
    tables = {name: simulated[name] for name in SOURCE}
    invitations = tables["invitations"]
    silent = invitations.loc[~invitations["posted"], "creator_id"]
    assert silent.isin(invitations.loc[invitations["posted"], "creator_id"]).any()

    # when / then
    assert check_references(tables, SOURCE) == []
    assert uninvited_posts(tables, SOURCE) == []


def test_check_references_names_invitations_of_unknown_campaigns_and_creators(simulated):
    # given an invitation to a campaign that does not exist (row 2) and one of an unknown creator (row 5)
    invitations = with_cell(simulated["invitations"], "campaign_id", 1, "cmp-ghost")
    invitations = with_cell(invitations, "creator_id", 4, "cr-ghost")
    tables = {**{name: simulated[name] for name in SOURCE}, "invitations": invitations}

    # when
    failures = check_references(tables, SOURCE)

    # then both are named, with where the id should have been
    assert failures == [
        Failure("invitations.csv", 2, "campaign_id", "cmp-ghost", "a campaign_id present in campaigns.csv"),
        Failure("invitations.csv", 5, "creator_id", "cr-ghost", "a creator_id present in creators.csv"),
    ]


def test_posted_false_for_a_creator_with_posts_in_that_campaign_is_a_failure(simulated):
    # given an invitation marked "no content received" whose creator has posts of that campaign
    posts = simulated["posts"]
    row, _, _, theirs = first_posted(simulated["invitations"], posts)
    extra = posts.loc[[theirs.index[0]]].assign(post_id="p-again")  # and one more post, so there are several
    posts = pd.concat([posts, extra], ignore_index=True)
    invitations = with_cell(simulated["invitations"], "posted", row, False)
    tables = {**{name: simulated[name] for name in SOURCE}, "posts": posts, "invitations": invitations}

    # when
    failures = check_references(tables, SOURCE)

    # then the invitation is named, with the first of those posts and how many more there are
    accepted = (f"true: posts.csv holds post {theirs.iloc[0]} (and {len(theirs)} more) of this creator in this "
                "campaign")
    assert failures == [Failure("invitations.csv", row + 1, "posted", False, accepted)]
    assert str(failures[0]) == f"invitations.csv row {row + 1}, column posted: got False; expected {accepted}"


def test_a_campaign_post_by_a_creator_not_invited_is_a_warning_not_a_failure(simulated):
    # given invitations to a campaign that leave out one of the creators who posted in it
    posts = simulated["posts"]
    row, campaign, creator, theirs = first_posted(simulated["invitations"], posts)
    tables = {**{name: simulated[name] for name in SOURCE},
              "invitations": simulated["invitations"].drop(index=row)}

    # when
    failures = check_references(tables, SOURCE)
    warnings = uninvited_posts(tables, SOURCE)

    # then no failure; one warning counts the posts and names them (posts file row, post, creator, campaign)
    assert failures == []
    named = ", ".join(f"row {index + 1} (post {post} by {creator} in {campaign})"
                      for index, post in theirs.head(5).items())
    assert warnings == [f"posts.csv: {len(theirs)} campaign post(s) by creators not invited to that campaign in "
                        f"invitations.csv: {named}"]


def test_campaigns_without_invitation_rows_are_not_checked_for_uninvited_posts(simulated):
    # given invitations for every campaign but the first, whose posts are all by creators it does not list
    invitations = simulated["invitations"]
    first = simulated["campaigns"]["campaign_id"].iloc[0]
    tables = {**{name: simulated[name] for name in SOURCE},
              "invitations": invitations[invitations["campaign_id"] != first]}
    assert (simulated["posts"]["campaign_id"] == first).any()

    # when / then
    assert check_references(tables, SOURCE) == []
    assert uninvited_posts(tables, SOURCE) == []


def test_categorical_spellings_in_a_csv_map_as_they_do_in_a_brief_or_a_request():
    # given a creators CSV written the way exports spell things
    text = ("creator_id,platform,niche,followers\n"
            "a1,ig,Interior,20000\n"
            "a2, TikTok ,home,20000\n"
            "a3,YT,  Pets ,20000\n")
    # when
    checked = validate("creators", pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                               na_values=[""]), source="creators.csv")
    # then each value is in its canonical spelling, with no warning (nothing unknown was mapped to `other`)
    assert checked.frame["platform"].tolist() == ["instagram", "tiktok", "youtube"]
    assert checked.frame["niche"].tolist() == ["home", "home", "pets"]
    assert checked.warnings == []


def test_a_junk_platform_in_a_file_is_refused_with_the_vocabulary_listed(simulated):
    # given
    frame = with_cell(simulated["creators"], "platform", 0, "myspace")
    # when
    failures = failures_of("creators", frame)
    # then the same accepted words as a brief or a request
    assert [(f.row, f.column, f.value, f.accepted) for f in failures] == [
        (1, "platform", "myspace", "one of instagram, tiktok, youtube")]


def test_an_unknown_creators_column_is_named_with_the_column_it_likely_means(simulated):
    # given a creators table whose followers column is misspelt
    frame = simulated["creators"].rename(columns={"followers": "follower_count"})
    # when
    with pytest.raises(ContractError) as caught:
        validate("creators", frame, source="creators.csv")
    # then the message names the unknown column, the closest known one, and the missing one
    message = str(caught.value)
    assert "creators.csv: unknown column 'follower_count' (did you mean 'followers'?)" in message
    assert "creators.csv: column followers missing" in message
    assert "::" not in message


@pytest.mark.parametrize(("column", "hint"), [("Followers", "followers"), ("plat", "platform"),
                                              ("avg_view", "avg_views"), ("handle", None)])
def test_the_suggested_column_is_the_closest_known_one_or_none(simulated, column, hint):
    # given a creators table with one extra column
    frame = simulated["creators"].assign(**{column: 1})
    # when
    failures = failures_of("creators", frame)
    # then
    assert [f.column for f in failures] == [column]
    suggestion = f" (did you mean {hint!r}?)" if hint else ""
    assert failures[0].message == f"unknown column {column!r}{suggestion}"


def test_an_ignored_posts_column_is_named_with_the_column_it_likely_means(simulated):
    # given posts with a misspelt optional column
    frame = simulated["posts"].assign(like=3)
    # when
    checked = validate("posts", frame, source="posts.csv")
    # then
    assert checked.warnings == ["posts.csv: column(s) not in the contract, ignored: like (did you mean 'likes'?)"]
