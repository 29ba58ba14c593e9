"""Request bodies and queries read categorical values as the brief and the data contract do (one function,
`vocabulary.canonical`), and refuse what names nothing with the same accepted words."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from microlift.models.brief import Brief, BriefError
from microlift.models.contract import TABLES
from microlift.serving import schemas
from microlift.serving.problems import from_validation
from microlift.serving.views.creators import CreatorList

BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400}
SPELT = {"niche": "Interior", "platforms": ["ig", " TikTok "], "tiers": ["Micro"], "compensation": " Paid",
         "marketplace": "Amazon"}
PLAIN = {"niche": "home", "platforms": ["instagram", "tiktok"], "tiers": ["micro"], "compensation": "paid",
         "marketplace": "amazon"}
CREATOR = {"creator_id": "c1", "platform": "instagram", "niche": "home", "followers": 20_000}


def problem(model, data, json_text: bool = False) -> dict:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(data)) if json_text else model.model_validate(data)
    return from_validation(caught.value).errors


def test_a_brief_in_a_request_reads_spellings_as_the_brief_does():
    # when
    spelt = schemas.BriefIn.model_validate_json(json.dumps({**BRIEF, **SPELT}))
    plain = schemas.BriefIn.model_validate_json(json.dumps({**BRIEF, **PLAIN}))
    # then the request holds canonical values, the same as the brief makes of either
    assert spelt == plain
    assert Brief.from_mapping({**BRIEF, **SPELT}) == Brief.from_mapping(spelt.model_dump(exclude_none=True))


def test_filters_limits_and_the_creators_query_read_spellings_too():
    filters = schemas.CatalogFilters.model_validate_json(json.dumps(
        {"platforms": [" TikTok ", "ig"], "niches": ["Interior"], "tiers": ["Micro"]}))
    assert (filters.platforms, filters.niches, filters.tiers) == (["tiktok", "instagram"], ["home"], ["micro"])
    limits = schemas.LimitsIn.model_validate_json(json.dumps(
        {"max_per_tier": {"Micro": 3}, "max_per_platform": {"ig": 2}, "max_per_niche": {"Interior": 1}}))
    assert (limits.max_per_tier, limits.max_per_platform, limits.max_per_niche) == (
        {"micro": 3}, {"instagram": 2}, {"home": 1})
    query = schemas.CreatorQuery.model_validate({"platform": [" TikTok ", "ig"], "niche": ["Interior"],
                                                 "tier": ["Micro"]})
    assert query.filters() == schemas.CatalogFilters(platforms=["tiktok", "instagram"], niches=["home"],
                                                     tiers=["micro"])


def test_inline_candidates_and_imported_creators_read_spellings_as_a_creators_file_does():
    spelt = {**CREATOR, "platform": "ig", "niche": "Interior"}
    assert schemas.RankRequest.model_validate_json(json.dumps(
        {"brief": BRIEF, "candidates": [spelt]})).candidates == [CREATOR]
    assert CreatorList.model_validate_json(json.dumps([spelt])).root[0].model_dump(exclude_none=True) == CREATOR


def test_two_limit_keys_naming_one_tier_are_refused():
    errors = problem(schemas.LimitsIn, {"max_per_tier": {"Micro": 3, "micro": 5}}, json_text=True)
    assert [e["field"] for e in errors] == ["max_per_tier"]
    assert "each tier once ('Micro' and 'micro' both name 'micro')" in errors[0]["accepted"]


@pytest.mark.parametrize(("kind", "junk"), [("platform", "myspace"), ("niche", "astrology"), ("tier", "giga")])
def test_a_junk_value_is_refused_everywhere_with_the_same_accepted_words(kind, junk):
    # given what each place accepts for this vocabulary
    words = {"platform": "one of instagram, tiktok, youtube",
             "niche": "one of beauty, fashion, fitness, food, home, parenting, pets, tech, gaming, travel, books, "
                      "other",
             "tier": "one of nano, micro, macro, mega"}[kind]
    brief_field = {"platform": "platforms", "niche": "niche", "tier": "tiers"}[kind]
    junk_brief = {**BRIEF, brief_field: [junk] if kind != "niche" else junk}
    said = []
    # when it is sent in a brief, to the brief itself, in filters, in limits and in the query
    said += [e["accepted"] for e in problem(schemas.BriefIn, junk_brief, json_text=True)]
    with pytest.raises(BriefError) as caught:
        Brief.from_mapping(junk_brief)
    said.append(caught.value.accepted)
    said += [e["accepted"] for e in problem(schemas.CatalogFilters, {f"{kind}s": [junk]}, json_text=True)]
    said += [e["accepted"] for e in problem(schemas.LimitsIn, {f"max_per_{kind}": {junk: 1}}, json_text=True)]
    said += [e["accepted"] for e in problem(schemas.CreatorQuery, {kind: [junk]})]
    if kind != "tier":  # a creators column
        said.append(TABLES["creators"].column(kind).accepted())
        said += [e["accepted"] for e in problem(CreatorList, [{**CREATOR, kind: junk}], json_text=True)]
    # then every place says the same
    assert said == [words] * len(said)


def test_the_openapi_schema_lists_the_canonical_values():
    brief = schemas.BriefIn.model_json_schema()["properties"]
    assert brief["niche"]["enum"] == list(TABLES["creators"].column("niche").vocabulary)
    assert brief["platforms"]["anyOf"][0]["items"]["enum"] == ["instagram", "tiktok", "youtube"]
    limits = schemas.LimitsIn.model_json_schema()["properties"]
    assert limits["max_per_tier"]["propertyNames"]["enum"] == ["nano", "micro", "macro", "mega"]


def test_an_unknown_key_of_an_imported_creator_is_named_as_an_unknown_column_with_the_closest_one():
    # when a JSON creator has follower_count for followers
    errors = problem(CreatorList, [{k: v for k, v in CREATOR.items() if k != "followers"} | {"follower_count": 5}],
                     json_text=True)
    # then both, as for a creators file: the missing column and the unknown one with the column it likely means
    assert [e["field"] for e in errors] == ["[0].followers", "[0].follower_count"]
    assert errors[1]["message"].startswith("[0].follower_count: unknown column 'follower_count' (did you mean "
                                           "'followers'?); expected only the creators columns: creator_id,")
    assert errors[1]["accepted"] == TABLES["creators"].only_columns()
