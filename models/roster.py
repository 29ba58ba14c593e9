"""Choosing a roster: the creators that maximise expected incremental units under a budget and limits.

The objective linearises the lift model around the roster being built: incremental units/month ~
s_e x (engaged audience after overlap) + s_c x (attributed units), where creators of one niche on one platform
share an engaged audience that saturates (`features.unique_engagements`). The objective is concave in each
niche/platform cell, so a lazy greedy by gain per dollar, followed by single swaps, comes close to the optimum
(checked against an exact MILP in the tests).
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.brief import Brief
from models.features import engaged_pools, roster_aggregates, unique_engagement, unique_engagements


@dataclass(frozen=True)
class Limits:
    """Optional limits on a roster; counts are creators."""

    max_per_tier: dict[str, int] = field(default_factory=dict)
    max_per_platform: dict[str, int] = field(default_factory=dict)
    max_per_niche: dict[str, int] = field(default_factory=dict)
    min_creators: int = 0
    must_include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slopes:
    """Incremental units/month per engaged person reached (after overlap) and per attributed unit."""

    engagement: float
    conversion: float


def aggregates(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray) -> pd.DataFrame:
    """The lift model's input row for the chosen creators (posting in expectation)."""
    picked = scored[chosen]
    posts = pd.DataFrame({"roster": 0, "creator_id": picked["creator_id"], "platform": picked["platform"],
                          "niche": picked["niche"], "weight": picked["posts"], "posting": picked["posting"],
                          "pred_engagements": picked["engagements_per_post_mean"],
                          "pred_conversions": picked["conversions_per_post_mean"]})
    row = roster_aggregates(posts, group="roster").reset_index(drop=True)
    return row.assign(**{k: v for k, v in brief.context().items() if k not in row.columns})


def incremental_median(lift_model, rows: pd.DataFrame) -> np.ndarray:
    return lift_model.predict(rows)["p50"]


def lift_slopes(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray, lift_model,
                factors: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)) -> Slopes:
    """Slopes of the lift model's median (incremental units/month) around the roster.

    Trees are step functions, so a local difference is often zero: the slope is the least-squares line through
    the model's answers with engagement (or conversions) scaled from a quarter to four times the roster's.
    """
    base = aggregates(brief, scored, chosen)
    eng, uniq, conv = (float(base[c].iloc[0]) for c in ("pred_engagements", "pred_unique_engagements",
                                                          "pred_conversions"))
    probes = pd.concat([base.assign(pred_engagements=eng * f, pred_unique_engagements=uniq * f) for f in factors]
                       + [base.assign(pred_conversions=conv * f) for f in factors], ignore_index=True)
    answers = incremental_median(lift_model, probes)
    scale = np.asarray(factors)

    def slope(level: float, values: np.ndarray) -> float:
        if level <= 0 or np.ptp(values) <= 1e-9 * max(float(np.abs(values).max()), 1.0):
            return 0.0  # the model does not move over the whole range: no slope, not rounding noise
        return float(np.polyfit(level * scale, values, 1)[0])

    s_e = slope(uniq, answers[:len(factors)])
    s_c = slope(conv, answers[len(factors):])
    if s_e <= 0 and s_c <= 0:  # flat where we stand: share the level between the two drivers
        here = float(answers[list(factors).index(1.0)])
        s_e = max(here, 1.0) / max(uniq, 1.0)
    return Slopes(max(s_e, 0.0), max(s_c, 0.0))


def value(scored: pd.DataFrame, chosen: np.ndarray, slopes: Slopes) -> float:
    """The roster objective (incremental units/month, linearised) of a boolean selection."""
    picked = scored[chosen]
    cells = picked.groupby(["platform", "niche"], sort=False)["engagements"].sum()
    reach = unique_engagements(cells.to_numpy(), cells.index.get_level_values("platform").to_numpy()).sum()
    return float(slopes.engagement * reach + slopes.conversion * picked["conversions"].sum())


class _Roster:
    """Incremental bookkeeping of a selection: per-cell engagements, spend, counts per limited group."""

    def __init__(self, scored: pd.DataFrame, slopes: Slopes, limits: Limits):
        self.cell = (scored["platform"].astype(str) + "/" + scored["niche"].astype(str)).to_numpy()
        self.platform = scored["platform"].to_numpy()
        self.pools = engaged_pools(self.platform)
        self.eng = scored["engagements"].to_numpy(dtype=float)
        self.conv = scored["conversions"].to_numpy(dtype=float)
        self.cost = scored["cost"].to_numpy(dtype=float)
        self.groups = {"tier": scored["tier"].to_numpy(), "platform": self.platform,
                       "niche": scored["niche"].to_numpy()}
        self.caps = {"tier": limits.max_per_tier, "platform": limits.max_per_platform, "niche": limits.max_per_niche}
        self.slopes = slopes
        self.cell_eng: dict[str, float] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.spent = 0.0
        self.chosen = np.zeros(len(scored), dtype=bool)

    def gain(self, i: int) -> float:
        before = self.cell_eng.get(self.cell[i], 0.0)
        reach = unique_engagement(before + self.eng[i], self.platform[i]) - unique_engagement(before, self.platform[i])
        return self.slopes.engagement * reach + self.slopes.conversion * self.conv[i]

    def allowed(self, i: int, budget: float) -> bool:
        if self.chosen[i] or self.spent + self.cost[i] > budget + 1e-9:
            return False
        return all(self.counts.get((kind, self.groups[kind][i]), 0) < caps[self.groups[kind][i]]
                   for kind, caps in self.caps.items() if self.groups[kind][i] in caps)

    def add(self, i: int) -> None:
        self.chosen[i] = True
        self.spent += self.cost[i]
        self.cell_eng[self.cell[i]] = self.cell_eng.get(self.cell[i], 0.0) + self.eng[i]
        for kind in self.caps:
            key = (kind, self.groups[kind][i])
            self.counts[key] = self.counts.get(key, 0) + 1


def choose(scored: pd.DataFrame, budget: float, slopes: Slopes, limits: Limits | None = None,
           pool: np.ndarray | None = None, start: np.ndarray | None = None, seeds: int = 3) -> np.ndarray:
    """Boolean selection of creators within `budget` (USD) and `limits`, maximising `value`.

    `pool` restricts the candidates; `start` is a selection to keep and extend (for nested budget curves).
    Greedy by gain per dollar can skip one expensive creator worth more than many cheap ones, so the greedy is
    also run starting from each of the `seeds` most valuable affordable creators, and the best result is kept.
    Raises ValueError when the must-include creators alone break the budget or a limit, or when the minimum
    number of creators cannot be reached.
    """
    limits = limits or Limits()
    ids = scored["creator_id"].to_numpy()
    usable = np.ones(len(scored), dtype=bool) if pool is None else pool.copy()
    usable &= ~np.isin(ids, limits.exclude) & (scored["cost"].to_numpy() >= 0)
    base = _Roster(scored, slopes, limits)
    for creator in limits.must_include:
        where = np.flatnonzero(ids == creator)
        if not len(where):
            raise ValueError(f"must_include: creator {creator!r} is not among the candidates")
        if not base.allowed(where[0], budget):
            raise ValueError(f"must_include: creator {creator!r} does not fit the budget or the limits")
        base.add(where[0])
    if start is not None:
        for i in np.flatnonzero(start & ~base.chosen):
            if not base.allowed(i, budget):
                raise ValueError("the starting roster does not fit the budget or the limits")
            base.add(i)
    kept = base.chosen.copy()
    standalone = slopes.engagement * base.eng + slopes.conversion * base.conv
    affordable = np.flatnonzero(usable & ~kept & (base.spent + base.cost <= budget + 1e-9))
    starts = [None, *affordable[np.argsort(-standalone[affordable], kind="stable")[:seeds]]]
    best, best_value = None, -np.inf
    for first in starts:
        state = copy.deepcopy(base)
        if first is not None:
            if not state.allowed(first, budget):
                continue
            state.add(first)
        _greedy(state, usable, budget, limits)
        _improve(state, usable & ~kept, budget)
        found = value(scored, state.chosen, slopes)
        if found > best_value + 1e-12 * max(abs(found), 1.0):
            best, best_value = state, found
    if best.chosen.sum() < limits.min_creators:
        raise ValueError(f"min_creators: only {int(best.chosen.sum())} creators fit the budget of {budget:,.0f} "
                         f"USD and the limits; asked for {limits.min_creators}")
    return best.chosen


def _greedy(state: _Roster, usable: np.ndarray, budget: float, limits: Limits) -> None:
    """Lazy greedy by gain per dollar: gains only shrink as cells fill (concave), so a stale gain is a bound."""
    cost = np.maximum(state.cost, 1e-6)
    open_ = np.flatnonzero(usable & ~state.chosen)
    before = np.array([state.cell_eng.get(c, 0.0) for c in state.cell[open_]])
    pools = state.pools[open_]
    reach = pools * (np.exp(-before / pools) - np.exp(-(before + state.eng[open_]) / pools))
    gains = state.slopes.engagement * reach + state.slopes.conversion * state.conv[open_]
    heap = list(zip((-gains / cost[open_]).tolist(), open_.tolist(), strict=True))
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        if not state.allowed(i, budget):
            continue
        density = state.gain(i) / cost[i]
        if heap and density < -heap[0][0] * (1 - 1e-9):
            heapq.heappush(heap, (-density, i))
            continue
        if density <= 0 and state.chosen.sum() >= limits.min_creators:
            break
        state.add(i)


def _improve(state: _Roster, movable: np.ndarray, budget: float, rounds: int = 5, width: int = 40) -> None:
    """Single swaps (one chosen creator out, one of the strongest outsiders in) while they raise the objective.

    Only creators in `movable` leave or join; a swap must keep every limit.
    """
    s_e, s_c = state.slopes.engagement, state.slopes.conversion
    standalone = s_e * state.eng + s_c * state.conv
    for _ in range(rounds):
        inside = np.flatnonzero(state.chosen & movable)
        outside = np.flatnonzero(movable & ~state.chosen)
        if not len(inside) or not len(outside):
            return
        outside = outside[np.argsort(-standalone[outside])[:width]]
        cell_total = np.array([state.cell_eng[state.cell[i]] for i in inside])
        out_loss = np.array([unique_engagement(t - state.eng[i], state.platform[i]) - unique_engagement(
            t, state.platform[i]) for i, t in zip(inside, cell_total, strict=True)])
        best = (1e-9, -1, -1)
        for j in outside:
            total_j = state.cell_eng.get(state.cell[j], 0.0)
            join = unique_engagement(total_j + state.eng[j], state.platform[j]) - unique_engagement(
                total_j, state.platform[j])
            reach = out_loss + join
            same = np.flatnonzero(state.cell[inside] == state.cell[j])
            for k in same:  # leaving and joining the same cell
                i = inside[k]
                reach[k] = unique_engagement(total_j - state.eng[i] + state.eng[j], state.platform[j]) \
                    - unique_engagement(total_j, state.platform[j])
            gain = s_e * reach + s_c * (state.conv[j] - state.conv[inside])
            fits = state.spent - state.cost[inside] + state.cost[j] <= budget + 1e-9
            for kind, caps in state.caps.items():
                group = state.groups[kind][j]
                if group in caps and state.counts.get((kind, group), 0) >= caps[group]:
                    fits &= state.groups[kind][inside] == group  # full group: only a swap within it keeps the cap
            gain = np.where(fits, gain, -np.inf)
            k = int(np.argmax(gain))
            if gain[k] > best[0]:
                best = (float(gain[k]), int(inside[k]), int(j))
        if best[1] < 0:
            return
        _, i, j = best
        state.chosen[i], state.chosen[j] = False, True
        state.spent += state.cost[j] - state.cost[i]
        for kind in state.caps:
            state.counts[(kind, state.groups[kind][i])] -= 1
            state.counts[(kind, state.groups[kind][j])] = state.counts.get((kind, state.groups[kind][j]), 0) + 1
        state.cell_eng[state.cell[i]] -= state.eng[i]
        state.cell_eng[state.cell[j]] = state.cell_eng.get(state.cell[j], 0.0) + state.eng[j]
