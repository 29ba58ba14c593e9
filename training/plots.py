"""Charts a training run logs: feature importance, interval calibration, predicted vs actual, residuals."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from microlift.models.vocabulary import TIERS  # noqa: E402


def close(figure) -> None:
    plt.close(figure)


def _importance(kind: str, model) -> plt.Figure:
    """Share of the trees' gain by feature; beside it, for a model boosted from a log-linear base rate, the
    spread of each feature's base term (how much the feature moves ln units across training posts)."""
    booster = model.booster_
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values()
    base = getattr(model, "base_", None)
    panels = 2 if base is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 0.28 * len(gain) + 1.2), squeeze=False)
    axes[0, 0].barh(gain.index, gain.to_numpy() / max(gain.sum(), 1e-12))
    axes[0, 0].set_xlabel("share of total gain")
    axes[0, 0].set_title(f"{kind} model: feature importance (trees, {booster.num_trees()} rounds)")
    if base is not None:
        spread = pd.Series(base.spreads()).reindex(gain.index)
        axes[0, 1].barh(spread.index, spread.to_numpy())
        axes[0, 1].set_xlabel("sd of the feature's term over training posts (ln units)")
        axes[0, 1].set_title(f"{kind} model: base rate terms")
    fig.tight_layout()
    return fig


def _engagement_scatter(frame: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.hexbin(frame["predicted"], frame["observed"], gridsize=60, bins="log", mincnt=1)
    low, high = np.percentile(np.r_[frame["predicted"], frame["observed"]], [0.5, 99.5])
    ax.plot([low, high], [low, high], color="black", lw=1)
    ax.set_xlabel("predicted ln engagement rate")
    ax.set_ylabel("observed ln engagement rate")
    ax.set_title("engagement: predicted vs observed (held-out creators)")
    fig.tight_layout()
    return fig


def _residuals(frame: pd.DataFrame) -> plt.Figure:
    frame = frame.assign(residual=frame["observed"] - frame["predicted"],
                         group=frame["platform"].astype(str) + "\n" + np.asarray(TIERS)[frame["tier"].astype(int)])
    groups = sorted(frame["group"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(groups)), 4.5))
    ax.boxplot([frame.loc[frame["group"] == g, "residual"] for g in groups], showfliers=False)
    ax.set_xticks(range(1, len(groups) + 1), groups, fontsize=7)
    ax.axhline(0, color="black", lw=1)
    ax.set_ylabel("observed - predicted (ln ER)")
    ax.set_title("engagement residuals by platform and tier")
    fig.tight_layout()
    return fig


def _calibration(trained) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    labels, values = [], []
    engagement = trained.evaluation.get("engagement")
    if engagement is not None:
        inside = (engagement["observed"] >= engagement["low"]) & (engagement["observed"] <= engagement["high"])
        for tier, share in inside.groupby(engagement["tier"]).mean().items():
            labels.append(f"engagement\n{TIERS[int(tier)]}")
            values.append(share)
    lift = trained.evaluation.get("lift")
    if lift is not None:
        labels.append("lift\nall campaigns")
        values.append(float(((lift["observed"] >= lift["low"]) & (lift["observed"] <= lift["high"])).mean()))
    ax.bar(labels, values)
    ax.axhline(0.8, color="black", lw=1, ls="--", label="nominal 80%")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of observed values inside the 80% interval")
    ax.set_title("interval calibration on held-out data")
    ax.legend()
    fig.tight_layout()
    return fig


def _conversion(frame: pd.DataFrame) -> plt.Figure:
    bins = pd.qcut(frame["predicted"], 10, duplicates="drop")
    table = frame.groupby(bins, observed=True)[["predicted", "observed"]].mean()
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(table["predicted"], table["observed"], "o-")
    top = float(table.to_numpy().max())
    ax.plot([0, top], [0, top], color="black", lw=1)
    ax.set_xlabel("predicted units per post (decile mean)")
    ax.set_ylabel("observed units per post (decile mean)")
    ax.set_title("conversion: predicted vs observed")
    fig.tight_layout()
    return fig


def _lift(frame: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.errorbar(frame["predicted"], frame["observed"],
                xerr=[frame["predicted"] - frame["low"], frame["high"] - frame["predicted"]], fmt="o", ms=3,
                alpha=0.6, elinewidth=0.6)
    top = float(np.nanmax(np.r_[frame["high"], frame["observed"]]))
    ax.plot([0, top], [0, top], color="black", lw=1)
    ax.set_xscale("symlog")
    ax.set_yscale("symlog")
    ax.set_xlabel("predicted incremental units / month (p50, bars p10-p90)")
    ax.set_ylabel("observed incremental units / month")
    ax.set_title("lift: predicted vs observed (held-out campaigns)")
    fig.tight_layout()
    return fig


def training_figures(trained) -> Iterator[tuple[str, plt.Figure]]:
    for kind, model in trained.models.items():
        yield f"{kind}_feature_importance", _importance(kind, model)
    if "engagement" in trained.evaluation:
        yield "engagement_predicted_vs_actual", _engagement_scatter(trained.evaluation["engagement"])
        yield "engagement_residuals_by_tier_platform", _residuals(trained.evaluation["engagement"])
    yield "interval_calibration", _calibration(trained)
    if "conversion" in trained.evaluation:
        yield "conversion_predicted_vs_actual", _conversion(trained.evaluation["conversion"])
    if "lift" in trained.evaluation:
        yield "lift_predicted_vs_actual", _lift(trained.evaluation["lift"])


def budget_curve_figure(result: dict, title: str = "") -> plt.Figure:
    """The budget-response curve of a forecast (`models.forecast.forecast`'s answer): incremental units/month with
    its p10-p90 band against the budget, and below it the marginal return of each step, with the asked and the
    suggested budgets marked."""
    curve = result["budget_curve"]
    budgets = np.array([point["budget"] for point in curve])
    bands = {q: np.array([point["incremental_units_per_month"][q] for point in curve])
             for q in ("mean", "p10", "p90")}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, height_ratios=(2, 1))
    top.fill_between(budgets, bands["p10"], bands["p90"], alpha=0.25, label="p10-p90")
    top.plot(budgets, bands["mean"], marker="o", label="expected")
    top.set_ylabel("incremental units/month")
    top.set_title(title or "budget-response curve")
    suggested = result["suggested_budget"]
    steps = [(point["budget"], point["marginal_roas"]) for point in curve if point.get("marginal_roas") is not None]
    if steps:
        bottom.plot(*zip(*steps, strict=True), marker="o")
    bottom.axhline(suggested["target_roas"], color="black", lw=1, ls=":",
                   label=f"target ROAS: {suggested['target_roas']:g}")
    bottom.set_ylabel("marginal ROAS\n(USD of revenue per extra USD)")
    bottom.set_xlabel("budget (USD)")
    top.set_ylim(bottom=0)
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(budgets)
        ax.axvline(result["budget"], color="tab:red", lw=1, label=f"asked: {result['budget']:,.0f} USD")
        if suggested.get("budget"):
            ax.axvline(suggested["budget"], color="tab:green", lw=1, ls="--",
                       label=f"suggested: {suggested['budget']:,.0f} USD")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
