"""`microlift rank|forecast --campaign FILE`: the campaign file is read as a request body is, spellings and all,
and a wrong file is refused naming every problem in one run, before any model or candidate is loaded."""

from __future__ import annotations

import json
from pathlib import Path

from microlift.cli import main
from microlift.commands.planning import read_campaign
from microlift.serving import schemas

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "creators.csv"
BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400, "compensation": "paid",
         "platforms": ["instagram", "tiktok"], "tiers": ["micro"]}


def campaign(tmp_path: Path, name: str, body: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return path


def test_a_campaign_file_spelt_as_exports_spell_it_plans_the_same_request(tmp_path):
    # given the same campaign in canonical values and in other accepted spellings
    plain = campaign(tmp_path, "plain.json", {"brief": BRIEF, "budget": 2000,
                                              "limits": {"max_per_tier": {"micro": 3}}})
    spelt = campaign(tmp_path, "spelt.json", {
        "brief": {**BRIEF, "niche": "Interior", "compensation": " Paid ", "platforms": ["ig", " TikTok "],
                  "tiers": ["Micro"]},
        "budget": 2000, "limits": {"max_per_tier": {"Micro": 3}}})
    # when
    requests = [(schemas.rank_request(body), schemas.forecast_request(body))
                for body in (read_campaign(plain), read_campaign(spelt))]
    # then
    assert requests[0] == requests[1]


def test_every_problem_of_a_campaign_file_is_printed_in_one_run(tmp_path, capsys):
    # given a campaign file with four mistakes
    path = campaign(tmp_path, "campaign.json", {
        "brief": {**BRIEF, "niche": "astrology", "product_price": -3, "platforms": ["ig", "myspace"]},
        "budget": 2000, "top_k": 0})
    # when
    code = main(["rank", "--campaign", str(path), "--candidates", str(SAMPLE)])
    # then each on its own line with the field, the value and what is accepted; exit code 2, no trace
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2
    assert lines[0] == f"error: {path}: 4 problems:"
    assert lines[1:] == [
        "  brief.niche: got 'astrology'; expected one of beauty, fashion, fitness, food, home, parenting, pets, "
        "tech, gaming, travel, books, other",
        "  brief.product_price: got -3; expected >= 0.01",
        "  brief.platforms[1]: got 'myspace'; expected one of instagram, tiktok, youtube",
        "  top_k: got 0; expected >= 1",
    ]


def test_one_problem_is_one_line(tmp_path, capsys):
    path = campaign(tmp_path, "campaign.json", {"brief": {**BRIEF, "tiers": ["giga"]}, "budget": 2000})
    assert main(["forecast", "--campaign", str(path), "--candidates", str(SAMPLE)]) == 2
    assert capsys.readouterr().err == (f"error: {path}: brief.tiers[0]: got 'giga'; expected one of nano, micro, "
                                       "macro, mega\n")
