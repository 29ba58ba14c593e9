"""What `microlift rank` and `microlift forecast` print, and the budget-response curve they draw."""

from __future__ import annotations

import os
from pathlib import Path

from microlift.models.brief import Brief
from microlift.training import plots

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
    """The ranking as a table of expected values (what adds up across creators), with each creator's first reason.

    Attributed units are bought through the creator's own code or link; incremental revenue is its share of the
    whole sales lift (the halo included) times the price, so it is not units x price."""
    margin = result.get("margin")
    print(f"{result['candidates']:,} candidates, objective {result['objective']}, models {result['models']}")
    money = ("profit", "ROI") if margin is not None else ("net revenue", "ROAS")
    print(f"{'#':>3} {'creator':16s} {'platform':9s} {'tier':5s} {'followers':>9s} {'engagements':>11s} "
          f"{'attr. units':>11s} {'incr. revenue':>13s} {'cost':>7s} {money[0]:>11s} {money[1]:>6s}  reason")
    for row in result["creators"]:
        value, ratio = (row["profit"], row["roi"]) if margin is not None else (row["net_revenue"], row["roas"])
        print(f"{row['rank']:>3} {row['creator_id'][:16]:16s} {row['platform']:9s} {row['tier']:5s} "
              f"{row['followers']:>9,} {row['engagements']['mean']:>11,.0f} {row['attributed_units']['mean']:>11.1f} "
              f"{row['incremental_revenue']['mean']:>13,.0f} {row['cost']['mean']:>7,.0f} {value['mean']:>11,.0f} "
              f"{ratio['mean']:>6.2f}  {(row['reasons'] or [''])[0]}")
    print("(expected values; --json gives each with p10/p50/p90)")
    for note in result.get("notes") or []:
        print(f"note: {note}")


def print_forecast(result: dict) -> None:
    f, roster = result["forecast"], result["roster"]
    band = lambda b, fmt="{:,.0f}": (f"{fmt.format(b['mean'])} ({fmt.format(b['p10'])} - "  # noqa: E731
                                     f"{fmt.format(b['p90'])}, median {fmt.format(b['p50'])})")
    print(f"budget {result['budget']:,.0f} USD: {len(roster['creators'])} creators, expected cost "
          f"{roster['total_cost']:,.0f} USD")
    for split in ("by_tier", "by_platform"):
        parts = (f"{k} {v['creators']} ({v['cost']:,.0f} USD)" for k, v in roster[split].items())
        print(f"  {split.replace('_', ' ')}: " + ", ".join(parts))
    print(f"baseline units/month        {f['baseline_units_per_month']:,.0f}")
    print(f"units/month during          {band(f['units_per_month_during'])}   (expected (p10 - p90, median))")
    if f["lift_multiple"]:
        print(f"lift multiple               {band(f['lift_multiple'], '{:.2f}')}")
    else:
        print("lift multiple               none: a new product (baseline 0) has no sales to multiply")
    print(f"incremental units           {band(f['incremental_units'])}")
    print(f"incremental revenue (USD)   {band(f['incremental_revenue'])}")
    if f["roas"] is not None:
        print(f"ROAS (revenue per USD)      {band(f['roas'], '{:.2f}')}   "
              f"P(revenue > cost) = {f['p_revenue_above_cost']:.0%}")
    if f["roi"] is not None:
        print(f"ROI (profit per USD)        {band(f['roi'], '{:.2f}')}   P(ROI > 0) = {f['p_roi_positive']:.0%}")
    else:
        print("ROI (profit per USD)        none: needs the brief's gross margin (margin)")
    print("\nbudget curve:")
    print(f"  {'budget':>9s} {'creators':>8s} {'incremental units/month expected (p10-p90)':>43s} "
          f"{'marginal ROAS':>13s}")
    for point in result["budget_curve"]:
        units = point["incremental_units_per_month"]
        roas = point.get("marginal_roas")
        print(f"  {point['budget']:>9,.0f} {point['creators']:>8d} "
              f"{units['mean']:>20,.0f} ({units['p10']:,.0f} - {units['p90']:,.0f})".ljust(65)
              + (f"{roas:>13.2f}" if roas is not None else f"{'-':>13s}"))
    suggested = result["suggested_budget"]
    if suggested["budget"] is not None:
        print(f"\nsuggested budget: {suggested['budget']:,.0f} USD ({suggested['note']})")
    else:
        print(f"\nsuggested budget: none ({suggested['note']})")
    for note in result.get("notes") or []:
        print(f"note: {note}")
