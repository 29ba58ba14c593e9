"""Brands that come back: one product's campaigns in sequence, each planned, run, measured and learnt from.

A brand world (`SimulationConfig.brand_lift`: 0.5 for a product people ignore, 2 for one they love) sells more or
less through every post than the typical brand the models were trained on. A brand plans each campaign with the
models' forecast; what truly happens is the simulator's truth (who of the roster posts, the expected outcome given
those posts in the brand's world, the campaign-level noise); the sales report around the campaign is simulated
day by day and measured like any brand's (`models.measurement`); and every measured campaign calibrates the next
forecast (`models.calibration`). The learning test and the benches read the sequences this module runs.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from microlift.models.brief import Brief
from microlift.models.calibration import Calibration, calibrate
from microlift.models.candidates import score
from microlift.models.forecast import forecast
from microlift.models.measurement import MeasurementRefused, measure
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.config import DEFAULT, SimulationConfig
from microlift.training.simulation.generator import sample_campaign
from microlift.training.simulation.sales import campaign_sales

# JUDGE: a brand's budgets from one campaign to the next: its usual budget times a lognormal of this sd (about
# half to twice the usual budget), so the calibration has to hold across budgets, not at one.
BUDGET_SD = 0.5
# Weeks of daily sales before each campaign (the measurement needs at least 8) and after it.
PRE_WEEKS, AFTER_WEEKS = 16, 8
BRIEF_FIELDS = ("niche", "product_price", "baseline_units_per_month", "compensation", "marketplace",
                "discount_code", "gift_value", "commission_rate", "weeks", "margin", "platforms")


def sample_product(rng: np.random.Generator, cfg: SimulationConfig = DEFAULT, namespace: str = "") -> dict:
    """A brand's product as the simulator's brands set it (`sample_campaign`: niche, price, marketplace, way of
    paying, platforms, usual budget), drawn again until it already sells (baseline units/month > 0): a launch has no
    pre-period sales to measure a lift against."""
    while True:
        product = sample_campaign(0, rng, cfg, namespace)
        if product["baseline_units_per_month"] > 0:
            return product


def campaign_sequence(product: Mapping, count: int, rng: np.random.Generator, cfg: SimulationConfig = DEFAULT,
                      budget_sd: float = BUDGET_SD) -> list[dict]:
    """`count` campaigns of one product, one after the other: each with its own budget (the usual budget times a
    mean-one lognormal of `budget_sd`, within the simulator's budget range) and its own length, starting after the
    previous one's sales report ends."""
    weeks = np.array(list(cfg.weeks_choices), dtype=float)
    shares = np.array(list(cfg.weeks_choices.values()), dtype=float)
    start = pd.Timestamp(product["start_date"])
    out = []
    for k in range(count):
        length = float(rng.choice(weeks, p=shares / shares.sum()))
        budget = product["planned_budget"] * np.exp(rng.normal(-budget_sd ** 2 / 2, budget_sd))
        out.append({**product, "campaign_id": f"{product['campaign_id']}-{k + 1}", "weeks": length,
                    "planned_budget": float(np.clip(budget, *cfg.budget_range)), "start_date": start})
        start = start + pd.Timedelta(weeks=length + AFTER_WEEKS + PRE_WEEKS)
    return out


def brief_of(campaign: Mapping) -> Brief:
    """The planner's brief for a simulated campaign (missing gift value or commission: the brief's defaults)."""
    fields = {name: campaign[name] for name in BRIEF_FIELDS}
    for name in ("gift_value", "commission_rate"):
        if fields[name] is None or np.isnan(fields[name]):
            del fields[name]
    fields["platforms"] = [str(p) for p in fields["platforms"]]
    return Brief.from_mapping(fields)


@dataclass(frozen=True)
class Plan:
    """The models' own forecast of one campaign: the roster it chose and its band of incremental units over the
    campaign (mean, p10, p50, p90)."""

    campaign: dict
    roster: tuple[str, ...]
    forecast: dict


def plan_campaigns(campaigns: Sequence[Mapping], candidates: pd.DataFrame, models: dict, draws: int = 250,
                   seed: int = 0) -> list[Plan]:
    """The models' forecast of each campaign at its planned budget, without any calibration; campaign k is
    forecast with seed `seed + k`. These depend on the brand's briefs only, not on the world it sells in."""
    plans = []
    for k, campaign in enumerate(campaigns):
        brief = brief_of(campaign)
        answer = forecast(brief, score(brief, candidates, models), models["lift"], campaign["planned_budget"],
                          draws=draws, seed=seed + k)
        plans.append(Plan(dict(campaign), tuple(c["creator_id"] for c in answer["roster"]["creators"]),
                          answer["forecast"]["incremental_units"]))
    return plans


def realized_lift(campaign: Mapping, invited: pd.DataFrame, rng: np.random.Generator,
                  cfg: SimulationConfig = DEFAULT) -> dict:
    """What a campaign truly did in the brand's world: who of the invited creators (with their latent effects)
    posted and how often, the expected outcome given those posts, and the realized incremental units/month (that
    expectation times the simulator's mean-one campaign-level lognormal, `campaign_lift_sd`)."""
    context = ex.campaign_context(invited.reset_index(drop=True), campaign, cfg)
    posted = rng.random(len(invited)) < ex.posting_probability(context, cfg)
    extra = np.minimum(rng.poisson(cfg.extra_posts[campaign["compensation"]], len(invited)),
                       cfg.max_posts_per_creator - 1)
    posts = np.where(posted, 1 + extra, 0)
    outcome = ex.expected_campaign_outcome(campaign, invited, cfg, posts_per_creator=posts)
    expected = outcome["expected_incremental_units_per_month"]
    noise = np.exp(rng.normal(-cfg.campaign_lift_sd ** 2 / 2, cfg.campaign_lift_sd))
    return {"creators_posting": int(posted.sum()), "posts": int(posts.sum()),
            "expected_incremental_units_per_month": float(expected),
            "incremental_units_per_month": float(expected * noise),
            "attributed_units": int(rng.poisson(outcome["expected_attributed_units"]))}


@dataclass
class Outcome:
    """One campaign of a brand in its world: the models' forecast, the calibrated forecast (None when no measured
    campaign informed it or it was not asked for), the truth and the measurement (bands of incremental units over the
    campaign), and the calibration the campaign's forecast had."""

    plan: Plan
    calibration: Calibration
    calibrated: dict | None
    same_roster: bool | None
    truth: dict
    measured: dict | None = None
    refused: str | None = None


def run_brand(plans: Sequence[Plan], candidates: pd.DataFrame, truth_creators: pd.DataFrame, models: dict,
              cfg: SimulationConfig, rng: np.random.Generator, brand: str, draws: int = 250, seed: int = 0,
              calibrated_at: Sequence[int] | None = None, measure_draws: int = 1000,
              measure_last: bool = True) -> list[Outcome]:
    """A brand's campaigns in sequence in the world `cfg`: before campaign k, the campaigns measured so far
    calibrate its forecast (brand level, the lift model's residual spread as prior); then the campaign runs, its
    daily sales are simulated and measured. `truth_creators` are the candidates with their latent effects (keyed by
    creator_id); `calibrated_at` (0-based campaign positions; None: every one) says which calibrated forecasts to
    compute, with the plan's seed, so that they differ from the models' own by the calibration alone."""
    latent = truth_creators.set_index("creator_id")
    prior_sd = models["lift"].residual_sd
    rows: list[dict] = []
    out = []
    for k, plan in enumerate(plans):
        campaign = plan.campaign
        calibration = calibrate(rows, [], prior_sd=prior_sd, brand=brand, niche=campaign["niche"])
        calibrated, same_roster = None, None
        if calibration.active and (calibrated_at is None or k in calibrated_at):
            brief = brief_of(campaign)
            answer = forecast(brief, score(brief, candidates, models), models["lift"], campaign["planned_budget"],
                              draws=draws, seed=seed + k, calibration=calibration)
            calibrated = answer["forecast"]["incremental_units"]
            same_roster = tuple(c["creator_id"] for c in answer["roster"]["creators"]) == plan.roster
        invited = latent.loc[list(plan.roster)].reset_index()
        truth = realized_lift(campaign, invited, rng, cfg)
        sales, totals = campaign_sales(campaign, truth["incremental_units_per_month"], rng, cfg,
                                       pre_weeks=PRE_WEEKS, after_weeks=AFTER_WEEKS)
        truth["incremental_units"] = totals["incremental_during"]
        measured, refused = None, None
        if k < len(plans) - 1 or measure_last:
            try:
                measured = measure(sales, campaign["start_date"], campaign["weeks"], truth["attributed_units"],
                                   draws=measure_draws, seed=seed + k)["incremental_units"]["during"]
                rows.append({"forecast": plan.forecast, "measured": measured})
            except MeasurementRefused as refusal:  # a refused measurement teaches nothing, as in the service
                refused = refusal.message
        out.append(Outcome(plan, calibration, calibrated, same_roster, truth, measured, refused))
    return out


def brand_campaigns(brand: int, count: int, seed: int = 0, cfg: SimulationConfig = DEFAULT) -> list[dict]:
    """Brand number `brand`'s product and its `count` campaigns, drawn from its own seed ([seed, brand])."""
    rng = np.random.default_rng([seed, brand])
    return campaign_sequence(sample_product(rng, cfg, namespace=f"brand{brand:04d}-"), count, rng, cfg)


def brand_in_worlds(brand: int, worlds: Sequence[float], candidates: pd.DataFrame, truth_creators: pd.DataFrame,
                    models: dict, campaigns: int = 6, seed: int = 0, draws: int = 250, **options) -> dict[float, list]:
    """One brand's campaigns planned once by the models, then run in each brand world (`brand_lift` in `worlds`)
    from the world's own seed ([seed, brand, 1000 x brand_lift]); `options` go to `run_brand`."""
    plans = plan_campaigns(brand_campaigns(brand, campaigns, seed), candidates, models, draws=draws,
                           seed=seed + 1000 * brand)
    return {lift: run_brand(plans, candidates, truth_creators, models, replace(DEFAULT, brand_lift=lift),
                            np.random.default_rng([seed, brand, round(1000 * lift)]), brand=f"brand{brand:04d}",
                            draws=draws, seed=seed + 1000 * brand, **options)
            for lift in worlds}


def run_brands(brands: int, worlds: Sequence[float], candidates: pd.DataFrame, truth_creators: pd.DataFrame,
               models: dict, workers: int = 1, **options) -> dict[float, list[list[Outcome]]]:
    """`brands` brands, each in every brand world of `worlds`: per world, every brand's outcomes (brand order).
    With `workers` > 1 the brands run in that many processes; every brand draws from its own seeds, so the
    answers are the same either way. `options` go to `brand_in_worlds`."""
    job = partial(brand_in_worlds, worlds=tuple(worlds), candidates=candidates, truth_creators=truth_creators,
                  models=models, **options)
    if workers > 1:
        # spawned, not forked: a forked child of a process that has run LightGBM's OpenMP threads can hang
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(job, range(brands)))
    else:
        done = [job(b) for b in range(brands)]
    return {lift: [each[lift] for each in done] for lift in worlds}
