"""Rank and forecast from the command line: load a brief, candidates and the registered models, call the engine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.candidates import score, score_with_matrices
from microlift.models.forecast import forecast
from microlift.models.ranking import rank
from microlift.models.roster import Limits
from microlift.training.datasets import load_dataset, load_table

OPTIONS = ("objective", "top_k", "limits", "target_roas", "draws", "seed")


def read_brief(path: Path) -> tuple[Brief, dict]:
    """A campaign JSON file: the brief's fields plus optional objective, top_k, limits, target_roas, draws, seed."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with the campaign's fields")
    options = {k: data.pop(k) for k in OPTIONS if k in data}
    return Brief.from_mapping(data), options


def limits_from(options: dict) -> Limits | None:
    raw = options.get("limits")
    if not raw:
        return None
    known = {"max_per_tier", "max_per_platform", "max_per_niche", "min_creators", "must_include", "exclude"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"limits: unknown field {unknown[0]!r}; expected one of {', '.join(sorted(known))}")
    return Limits(**{k: tuple(v) if k in ("must_include", "exclude") else v for k, v in raw.items()})


def load_candidates(candidates: Path) -> pd.DataFrame:
    """Creators with their history and track record: a creators file, or a dataset folder (creators + posts)."""
    candidates = Path(candidates)
    if candidates.is_dir():
        dataset = load_dataset(candidates)
        creators, posts = dataset.creators, dataset.posts
    else:  # a creators file alone: no history, the models fall back on what the creators table says
        creators, posts = load_table(candidates, "creators")[0], None
    if posts is not None and len(posts):
        creators = F.with_history(creators, F.creator_history(posts, creators))
        creators = F.with_track_record(creators, F.creator_track_record(posts, creators))
    return creators.reset_index(drop=True)


def run_rank(brief: Brief, options: dict, creators: pd.DataFrame, models: dict, versions: dict) -> dict:
    scored, matrices = score_with_matrices(brief, creators, models)
    objective = options.get("objective", "profit")
    ranked = rank(brief, creators, scored, models, objective, int(options.get("top_k", 50)), matrices=matrices)
    return {"objective": objective, "candidates": len(creators), "models": versions, "creators": ranked}


def run_forecast(brief: Brief, options: dict, creators: pd.DataFrame, models: dict, versions: dict) -> dict:
    if brief.budget is None:
        raise ValueError("budget: got None; expected a number >= 0 (USD) in the campaign file")
    scored = score(brief, creators, models)
    out = forecast(brief, scored, models["lift"], brief.budget, limits_from(options),
                   draws=int(options.get("draws", 1000)), seed=int(options.get("seed", 0)),
                   target_roas=float(options.get("target_roas", 1.0)))
    return {"candidates": len(creators), "models": versions, **out}


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plot_path(path: Path, budget: float | None = None) -> None:
    """Refuse a plot before any work: a known image type, in a folder that exists, and a budget whose curve (0.25x
    to 4x the budget) has something to draw."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot: got {str(path)!r}; expected a file name ending in {', '.join(PLOT_SUFFIXES)}")
    if not path.parent.is_dir():
        raise ValueError(f"--plot: folder {str(path.parent)!r} does not exist")
    if budget is not None and budget <= 0:
        raise ValueError(f"--plot: cannot draw {str(path)!r}: the campaign's budget is {budget:g}; a budget-response "
                         "curve (0.25x to 4x the budget) needs a budget above 0")


def save_budget_curve(result: dict, brief: Brief, path: Path) -> None:
    """Draw the forecast's budget-response curve to `path`, whole or not at all (written aside, then renamed)."""
    from microlift.training import plots

    path = Path(path)
    figure = plots.budget_curve_figure(result, f"{brief.niche}, {brief.compensation}, "
                                               f"{brief.marketplace or 'any marketplace'}: budget-response curve")
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        figure.savefig(partial, dpi=120)
        os.replace(partial, path)
    finally:
        plots.close(figure)
        partial.unlink(missing_ok=True)


def print_rank(result: dict) -> None:
    print(f"{result['candidates']:,} candidates, objective {result['objective']}, models {result['models']}")
    header = f"{'#':>3} {'creator':14s} {'platform':9s} {'tier':5s} {'followers':>9s} {'eng p50':>8s} " \
             f"{'units p50':>9s} {'revenue p50':>11s} {'cost':>7s} {'profit p10..p90':>19s} {'ROI':>6s}  reason"
    print(header)
    for row in result["creators"]:
        profit = row["profit"]
        print(f"{row['rank']:>3} {row['creator_id'][:14]:14s} {row['platform']:9s} {row['tier']:5s} "
              f"{row['followers']:>9,} {row['engagements']['p50']:>8,.0f} {row['conversions']['p50']:>9.1f} "
              f"{row['revenue']['p50']:>11,.0f} {row['cost']['p50']:>7,.0f} "
              f"{profit['p10']:>9,.0f}..{profit['p90']:<8,.0f} {row['roi']['p50']:>6.1f}  "
              f"{(row['reasons'] or [''])[0]}")


def print_forecast(result: dict) -> None:
    f, roster = result["forecast"], result["roster"]
    band = lambda b, fmt="{:,.0f}": f"{fmt.format(b['p50'])} ({fmt.format(b['p10'])} - {fmt.format(b['p90'])})"  # noqa: E731
    print(f"budget {result['budget']:,.0f} USD: {len(roster['creators'])} creators, expected cost "
          f"{roster['total_cost']:,.0f} USD")
    for split in ("by_tier", "by_platform"):
        parts = (f"{k} {v['creators']} ({v['cost']:,.0f} USD)" for k, v in roster[split].items())
        print(f"  {split.replace('_', ' ')}: " + ", ".join(parts))
    print(f"baseline units/month        {f['baseline_units_per_month']:,.0f}")
    print(f"units/month during          {band(f['units_per_month_during'])}   (p50 (p10 - p90))")
    if f["lift_multiple"]:
        print(f"lift multiple               {band(f['lift_multiple'], '{:.2f}')}")
    print(f"incremental units           {band(f['incremental_units'])}")
    print(f"incremental revenue (USD)   {band(f['incremental_revenue'])}")
    print(f"ROI                         {band(f['roi'], '{:.2f}')}   P(ROI > 0) = {f['p_roi_positive']:.0%}")
    print("\nbudget curve:")
    print(f"  {'budget':>9s} {'creators':>8s} {'incremental units/month p50 (p10-p90)':>38s} {'marginal ROAS':>13s}")
    for point in result["budget_curve"]:
        units = point["incremental_units_per_month"]
        roas = point.get("marginal_roas")
        print(f"  {point['budget']:>9,.0f} {point['creators']:>8d} "
              f"{units['p50']:>20,.0f} ({units['p10']:,.0f} - {units['p90']:,.0f})".ljust(60)
              + (f"{roas:>13.2f}" if roas is not None else f"{'-':>13s}"))
    suggested = result["suggested_budget"]
    if suggested["budget"] is not None:
        print(f"\nsuggested budget: {suggested['budget']:,.0f} USD ({suggested['note']})")
