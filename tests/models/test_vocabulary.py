"""One reading of categorical values: case, spaces, synonyms and platform aliases map onto each vocabulary."""

from __future__ import annotations

import pytest

from microlift.models.vocabulary import VOCABULARIES, accepted, canonical, normalize_niche


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("niche", "Interior", "home"),
    ("niche", "  BEAUTY ", "beauty"),
    ("niche", "fashion  0.5", "fashion"),
    ("platform", "ig", "instagram"),
    ("platform", " TikTok ", "tiktok"),
    ("platform", "YT", "youtube"),
    ("tier", "Micro", "micro"),
    ("compensation", " Paid", "paid"),
    ("marketplace", "Amazon", "amazon"),
    ("format", "Reel", "reel"),
])
def test_an_accepted_spelling_maps_onto_the_vocabulary(kind, value, expected):
    assert canonical(kind, value) == expected


@pytest.mark.parametrize(("kind", "value"), [
    ("niche", "astrology"), ("platform", "myspace"), ("tier", "giga"), ("tier", "ig"), ("platform", "interior"),
    ("niche", None), ("platform", 3), ("compensation", ""),
])
def test_a_value_naming_nothing_maps_to_none(kind, value):
    assert canonical(kind, value) is None


def test_every_canonical_value_is_its_own_spelling_and_the_accepted_words_list_them():
    for kind, values in VOCABULARIES.items():
        assert [canonical(kind, v) for v in values] == list(values)
        assert accepted(kind) == "one of " + ", ".join(values)


def test_unknown_niches_in_files_become_other_and_are_counted():
    mapped, unknown = normalize_niche(["Interior", "cars", " Pets ", "cars"])
    assert mapped.tolist() == ["home", "other", "pets", "other"] and unknown == 2
