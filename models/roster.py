"""Choosing a roster: the creators that maximise expected incremental units under a budget and limits.

The objective linearises the lift model around the roster being built: incremental units/month ~
s_e x (engaged audience after overlap) + s_c x (attributed units), where creators of one niche on one platform
share an engaged audience that saturates (`features.unique_engagements`). The objective is concave in each
niche/platform cell, so a lazy greedy by gain per dollar, followed by single swaps, comes close to the optimum
(checked against an exact MILP in the tests).
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models import workload
from microlift.models.brief import Brief
from microlift.models.economics import added_reach, added_reach_one, unique_reach
from microlift.models.errors import PlanningError
from microlift.models.features import engaged_pools, unique_engagements


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


def aggregates(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray) -> F.Columns:
    """The lift model's input row for the chosen creators (posting in expectation): `features.roster_aggregates`
    of one creator per row, weighted by expected posts, summed with numpy."""
    picked = np.asarray(chosen, dtype=bool)
    engagements = scored["engagements"].to_numpy(dtype=float)[picked]
    relevant = scored["relevant_engagements"].to_numpy(dtype=float)[picked]
    platform, platforms = pd.factorize(np.asarray(scored["platform"][picked], dtype=object), use_na_sentinel=False)
    niche, niches = pd.factorize(np.asarray(scored["niche"][picked], dtype=object), use_na_sentinel=False)
    cells, cell = np.unique(platform * (len(niches) + 1) + niche, return_inverse=True)  # platform/niche cells
    per_cell = np.bincount(cell.reshape(-1), weights=relevant, minlength=len(cells))
    cell_platform = np.asarray(platforms, dtype=object)[cells // (len(niches) + 1)] if len(cells) else \
        np.array([], dtype=object)
    row = {
        "pred_engagements": [engagements.sum()],
        "pred_unique_engagements": [unique_engagements(per_cell, cell_platform).sum()],
        "pred_conversions": [scored["conversions"].to_numpy(dtype=float)[picked].sum()],
        "posts": [scored["posts"].to_numpy(dtype=float)[picked].sum()],
        "creators": [scored["posting"].to_numpy(dtype=float)[picked].sum()],
    }
    row = {k: np.asarray(v, dtype=float) for k, v in row.items()}
    return F.Columns.of(row, **{k: v for k, v in brief.context().items() if k not in row})


def incremental_median(lift_model, rows) -> np.ndarray:
    return lift_model.predict(rows)["p50"]


def lift_slopes(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray, lift_model,
                factors: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)) -> Slopes:
    """Slopes of the lift model's median (incremental units/month) around the roster.

    A lift model with a smooth response (`marginal`) gives its derivatives at the roster. Otherwise (a model of
    steps, whose local difference is often zero) the slope is the least-squares line through the model's answers
    with engagement (or conversions) scaled by `factors`.
    """
    base = aggregates(brief, scored, chosen)
    marginal = getattr(lift_model, "marginal", None)
    derivatives = marginal(base) if marginal is not None else None
    if derivatives is not None:
        return Slopes(max(float(derivatives["engagement"][0]), 0.0), max(float(derivatives["conversion"][0]), 0.0))
    eng, uniq, conv = (float(base[c][0]) for c in ("pred_engagements", "pred_unique_engagements",
                                                     "pred_conversions"))
    scale = np.asarray(factors, dtype=float)
    ones = np.ones(len(factors))
    probes = {c: np.repeat(base[c], 2 * len(factors)) for c in base.columns}
    probes["pred_engagements"] = np.concatenate([eng * scale, eng * ones])
    probes["pred_unique_engagements"] = np.concatenate([uniq * scale, uniq * ones])
    probes["pred_conversions"] = np.concatenate([conv * ones, conv * scale])
    probes = F.Columns(probes, 2 * len(factors))
    answers = incremental_median(lift_model, probes)

    def slope(level: float, values: np.ndarray) -> float:
        if level <= 0 or np.ptp(values) <= 1e-9 * max(float(np.abs(values).max()), 1.0):
            return 0.0  # the model does not move over the whole range: no slope, not rounding noise
        x = level * scale - level * scale.mean()
        return float(x @ (values - values.mean()) / (x @ x))  # the least-squares line's slope

    s_e = slope(uniq, answers[:len(factors)])
    s_c = slope(conv, answers[len(factors):])
    if s_e <= 0 and s_c <= 0:  # flat where we stand: share the level between the two drivers
        here = float(answers[list(factors).index(1.0)])
        s_e = max(here, 1.0) / max(uniq, 1.0)
    return Slopes(max(s_e, 0.0), max(s_c, 0.0))


@dataclass(frozen=True)
class Candidates:
    """The arrays the roster choice reads from a scored frame, built once and shared by every choice over it.
    Ids and the groups that limits count are read from the frame only when asked for (a million text values
    take a while to convert)."""

    frame: pd.DataFrame = field(repr=False)
    cell: np.ndarray       # integer code of the creator's platform/niche cell
    cell_pool: np.ndarray  # engaged-audience pool of each cell
    pools: np.ndarray      # the creator's cell's pool
    eng: np.ndarray        # engagements weighted by relevance (what drives the halo)
    conv: np.ndarray
    cost: np.ndarray
    queues: dict = field(default_factory=dict, compare=False, repr=False)  # _Queue by slopes

    @classmethod
    def of(cls, scored: pd.DataFrame) -> Candidates:
        # platform/niche cells from the codes of each column (joining a million strings took seconds)
        platform_code, platforms = pd.factorize(scored["platform"], use_na_sentinel=False)
        niche_code, _ = pd.factorize(scored["niche"], use_na_sentinel=False)
        key = platform_code.astype(np.int64) * (int(niche_code.max(initial=0)) + 1) + niche_code
        cells = np.flatnonzero(np.bincount(key))  # the cells present, in order (np.unique's, without sorting)
        number = np.zeros(int(key.max(initial=0)) + 1, dtype=np.int64)
        number[cells] = np.arange(len(cells))
        cell = number[key]
        first = np.zeros(len(cells), dtype=np.int64)
        first[cell[::-1]] = np.arange(len(cell))[::-1]  # a row of each cell, for its platform
        cell_pool = engaged_pools([str(platforms[platform_code[i]]) for i in first])
        return cls(frame=scored, cell=cell, cell_pool=cell_pool, pools=cell_pool[cell],
                   eng=scored["relevant_engagements"].to_numpy(dtype=float),
                   conv=scored["conversions"].to_numpy(dtype=float), cost=scored["cost"].to_numpy(dtype=float))

    @functools.cached_property
    def ids(self) -> np.ndarray:
        return self.frame["creator_id"].to_numpy()

    @functools.cached_property
    def groups(self) -> dict[str, np.ndarray]:
        return {kind: self.frame[kind].to_numpy() for kind in ("tier", "platform", "niche")}

    @functools.cached_property
    def by_cell(self) -> np.ndarray:
        """Positions grouped by cell (in position order within each)."""
        return np.argsort(self.cell, kind="stable")

    def value(self, chosen: np.ndarray, slopes: Slopes) -> float:
        cells = np.bincount(self.cell[chosen], weights=self.eng[chosen], minlength=len(self.cell_pool))
        reach = float(unique_reach(cells, self.cell_pool).sum())
        return float(slopes.engagement * reach + slopes.conversion * self.conv[chosen].sum())


def value(scored: pd.DataFrame, chosen: np.ndarray, slopes: Slopes) -> float:
    """The roster objective (incremental units/month, linearised) of a boolean selection."""
    return Candidates.of(scored).value(np.asarray(chosen, dtype=bool), slopes)


class _Roster:
    """Incremental bookkeeping of a selection: per-cell engagements, spend, counts per limited group."""

    def __init__(self, candidates: Candidates, slopes: Slopes, limits: Limits):
        self.c = candidates
        self.caps = {"tier": limits.max_per_tier, "platform": limits.max_per_platform, "niche": limits.max_per_niche}
        self.caps = {kind: caps for kind, caps in self.caps.items() if caps}
        self.slopes = slopes
        self.cell_eng = np.zeros(len(candidates.cell_pool))
        self.counts: dict[tuple[str, str], int] = {}
        self.spent = 0.0
        self.chosen = np.zeros(len(candidates.cost), dtype=bool)
        self.order: list[int] = []  # positions in the order they joined

    def copy(self) -> _Roster:
        other = copy.copy(self)
        other.cell_eng, other.counts, other.chosen = self.cell_eng.copy(), dict(self.counts), self.chosen.copy()
        other.order = list(self.order)
        return other

    def gain(self, i: int) -> float:
        c = self.c
        before, pool = self.cell_eng[c.cell[i]], c.pools[i]
        reach = added_reach_one(before, before + c.eng[i], pool)
        return self.slopes.engagement * reach + self.slopes.conversion * c.conv[i]

    def allowed(self, i: int, budget: float) -> bool:
        if self.chosen[i] or self.spent + self.c.cost[i] > budget + 1e-9:
            return False
        return all(self.counts.get((kind, self.c.groups[kind][i]), 0) < caps[self.c.groups[kind][i]]
                   for kind, caps in self.caps.items() if self.c.groups[kind][i] in caps)

    def remove(self, i: int) -> None:
        if i in self.order:  # a swap (`_improve`) does not keep the order
            self.order.remove(i)
        self.chosen[i] = False
        self.spent -= self.c.cost[i]
        self.cell_eng[self.c.cell[i]] -= self.c.eng[i]
        for kind in self.caps:
            self.counts[(kind, self.c.groups[kind][i])] -= 1

    def add(self, i: int) -> None:
        self.order.append(i)
        self.chosen[i] = True
        self.spent += self.c.cost[i]
        self.cell_eng[self.c.cell[i]] += self.c.eng[i]
        for kind in self.caps:
            key = (kind, self.c.groups[kind][i])
            self.counts[key] = self.counts.get(key, 0) + 1


def choose(scored: pd.DataFrame, budget: float, slopes: Slopes, limits: Limits | None = None,
           pool: np.ndarray | None = None, start: np.ndarray | None = None, seeds: int = 3,
           candidates: Candidates | None = None, max_creators: int | None = None) -> np.ndarray:
    """Boolean selection of creators within `budget` (USD) and `limits`, maximising `value`.

    `pool` restricts the candidates; `start` is a selection to keep and extend (for nested budget curves);
    `candidates` is `Candidates.of(scored)` when the caller has it already; `max_creators` caps the roster's size
    (`workload.MAX_ROSTER` for a plan).
    Greedy by gain per dollar can skip one expensive creator worth more than many cheap ones, so the greedy is
    also run starting from each of the `seeds` most valuable affordable creators, and the best result is kept.
    Raises ValueError when the must-include creators alone break the budget or a limit, or when the minimum
    number of creators cannot be reached.
    """
    limits = limits or Limits()
    c = candidates or Candidates.of(scored)
    most = len(c.cost) if max_creators is None else int(max_creators)
    base, usable = _begin(c, slopes, limits, pool, budget)
    if start is not None:
        for i in np.flatnonzero(start & ~base.chosen):
            if not base.allowed(i, budget):
                raise PlanningError("budget", budget, "a budget the starting roster fits",
                                    "the starting roster does not fit the budget or the limits", unplannable=True)
            base.add(i)
    if int(base.chosen.sum()) > most:
        raise PlanningError("limits.must_include", int(base.chosen.sum()), f"at most {most} creators",
                            f"limits.must_include: {int(base.chosen.sum())} creators; a roster holds at most {most}")
    kept = base.chosen.copy()
    standalone = slopes.engagement * c.eng + slopes.conversion * c.conv
    affordable = np.flatnonzero(usable & ~kept & (base.spent + c.cost <= budget + 1e-9))
    starts = [None, *largest(standalone, affordable, seeds)] if int(kept.sum()) < most else [None]
    queue = _Queue.of(c, slopes, usable)
    best, best_value = None, -np.inf
    for first in starts:
        workload.check("choosing the roster")
        state = base.copy()
        if first is not None:
            if not state.allowed(first, budget):
                continue
            state.add(first)
        _greedy(state, queue, usable, budget, limits, most)
        _improve(state, usable & ~kept, budget)
        state = _insert(state, queue, usable, usable & ~kept, budget, limits, most)
        found = c.value(state.chosen, slopes)
        if found > best_value + 1e-12 * max(abs(found), 1.0):
            best, best_value = state, found
    if best.chosen.sum() < limits.min_creators:
        raise PlanningError("limits.min_creators", limits.min_creators,
                            f"at most {int(best.chosen.sum())} creators (what fits the budget and the limits)",
                            f"limits.min_creators: only {int(best.chosen.sum())} creators fit the budget of "
                            f"{budget:,.0f} USD and the limits; asked for {limits.min_creators}", unplannable=True)
    return best.chosen


SEQUENCE_GROWTH = 2.0  # budget steps of `sequence`: a creator joins once the roster has spent about its cost


def _begin(c: Candidates, slopes: Slopes, limits: Limits, pool: np.ndarray | None,
           budget: float) -> tuple[_Roster, np.ndarray]:
    """A roster holding the must-include creators, and which candidates may join it (the pool, priced, not
    excluded). Refuses a must-include creator who is not a candidate or does not fit the budget or a limit."""
    usable = np.ones(len(c.cost), dtype=bool) if pool is None else pool.copy()
    usable &= c.cost >= 0
    if limits.exclude:
        usable &= ~np.isin(c.ids, limits.exclude)
    state = _Roster(c, slopes, limits)
    what, either = ("the limits", "the limits") if math.isinf(budget) else \
        ("the budget and the limits", "the budget or the limits")
    for creator in limits.must_include:
        where = np.flatnonzero(c.ids == creator)
        if not len(where):
            raise PlanningError("limits.must_include", creator, "creators among the candidates",
                                f"limits.must_include: creator {creator!r} is not among the candidates")
        if not state.allowed(where[0], budget):
            raise PlanningError("limits.must_include", creator, f"creators that fit {what}",
                                f"limits.must_include: creator {creator!r} does not fit {either}",
                                unplannable=True)
        state.add(where[0])
    return state, usable


def sequence(scored: pd.DataFrame, slopes: Slopes, limits: Limits | None = None, pool: np.ndarray | None = None,
             candidates: Candidates | None = None, max_creators: int | None = None) -> np.ndarray:
    """The order in which creators join a growing roster: the must-include creators first, then the greedy by gain
    per dollar with no budget, within `limits`, up to `max_creators`. Each prefix is the roster of a budget (the
    largest prefix whose cost fits it), so the rosters of rising budgets are nested and none depends on which budget
    was asked (DESIGN §5a). Positions into `scored`."""
    limits = limits or Limits()
    c = candidates or Candidates.of(scored)
    most = len(c.cost) if max_creators is None else int(max_creators)
    state, usable = _begin(c, slopes, limits, pool, math.inf)
    if len(state.order) > most:
        raise PlanningError("limits.must_include", len(state.order), f"at most {most} creators",
                            f"limits.must_include: {len(state.order)} creators; a roster holds at most {most}")
    queue, free = _Queue.of(c, slopes, usable), replace(limits, min_creators=0)
    priced = c.cost[usable & ~state.chosen]
    floor = float(priced[priced > 0].min()) if (priced > 0).any() else 1.0
    everyone = state.spent + float(priced.sum())
    target = 0.0
    # The greedy runs in steps of a budget growing by SEQUENCE_GROWTH, each extending the last, so that a creator
    # costing more than the rest together joins only once the roster has spent about as much: a budget's prefix
    # then leaves little of it unspent, and at each step's budget it is the greedy's own roster.
    while len(state.order) < most and target <= everyone:
        workload.check("ordering the candidates")
        target = max(target, state.spent, floor) * SEQUENCE_GROWTH
        _greedy(state, queue, usable, target, free, most)
    return np.asarray(state.order, dtype=np.int64)


def prefix(order: np.ndarray, cost: np.ndarray, budget: float) -> int:
    """How many creators of `order` (a `sequence`) the budget buys: the longest prefix whose cost fits it."""
    spent = np.cumsum(cost[order])
    return int(np.searchsorted(spent, budget + 1e-9, side="right"))


def largest(key: np.ndarray, among: np.ndarray, k: int) -> list[int]:
    """The k positions of `among` with the largest `key`, largest first, ties in position order; only those at
    or above the k-th value are sorted."""
    if k <= 0 or not len(among):
        return []
    if len(among) > k:
        cut = np.partition(key[among], len(among) - k)[len(among) - k]
        among = among[key[among] >= cut]
    return among[np.argsort(-key[among], kind="stable")][:k].tolist()


class _Queue:
    """The creators of each platform/niche cell in two orders: by `a` and by `b`, largest first, where a
    creator's gain per dollar on a roster whose cell holds E engagements is a x e^(-E / pool) + b, with
    a = s_e x pool x (1 - e^(-engagements / pool)) / cost and b = s_c x units / cost.

    A cell's best creator is found by reading both orders in step (Fagin's threshold algorithm): once the best
    gain read reaches scale x (next a) + (next b), no creator not yet read can beat it. Each order is kept as
    contiguous arrays (creator, a, b, cost), so a read is a slice.
    """

    def __init__(self, c: Candidates, slopes: Slopes, members: np.ndarray | None = None):
        # the members grouped by cell, in position order within each cell
        members = c.by_cell if members is None else np.asarray(members)[np.argsort(c.cell[members], kind="stable")]
        cost = np.maximum(c.cost[members], 1e-6)
        pools = c.pools[members]
        a = slopes.engagement * unique_reach(c.eng[members], pools) / cost
        b = slopes.conversion * c.conv[members] / cost
        cell = c.cell[members]
        self.cells = np.unique(cell).tolist()
        starts = np.searchsorted(cell, self.cells).tolist()
        ends = [*starts[1:], len(members)]
        self.spans = dict(zip(self.cells, zip(starts, ends, strict=True), strict=True))
        self.orders = []
        for key in (a, b):
            # within each cell the largest first, ties by position: one stable sort by cell, then by key
            order = np.lexsort((-key, cell))
            self.orders.append((members[order], a[order], b[order], c.cost[members][order]))

    @classmethod
    def of(cls, c: Candidates, slopes: Slopes, usable: np.ndarray) -> _Queue:
        """A queue of the usable creators: for most of the candidates, one shared by every choice over them
        (the others are skipped as they are read); for a few of them (a smaller budget of a curve chooses within
        a larger roster), a queue of their own."""
        count = int(usable.sum())
        if count < len(c.cost) // 4:
            return cls(c, slopes, np.flatnonzero(usable))
        key = (slopes.engagement, slopes.conversion)
        if key not in c.queues:
            c.queues.clear()
            c.queues[key] = cls(c, slopes)
        return c.queues[key]


def _best(queue: _Queue, cell: int, scale: float, left: float, blocked: np.ndarray,
          pointer: list[int]) -> tuple[float, int]:
    """The largest gain per dollar in `cell` among the creators not `blocked` that cost at most `left`, and
    that creator, the first by position among equals (or -inf, -1). `pointer` holds where each order's first
    creator still open is; creators before it are blocked or too dear for the rest of the greedy run."""
    low, high = queue.spans[cell]
    if high - low <= 512:  # a small cell: read it whole, at once (fewer steps than the two orders take)
        creators, a, b, cost = queue.orders[0]
        index = creators[low:high]
        density = a[low:high] * scale + b[low:high]
        density[blocked[index] | (cost[low:high] > left)] = -math.inf
        top = float(density.max())
        if top == -math.inf:
            return -math.inf, -1
        return top, int(index[density == top].min())
    best, found = -math.inf, -1
    step = 16
    starts = list(pointer)
    while True:
        read = []
        for side, (creators, a, b, cost) in enumerate(queue.orders):
            low = starts[side]
            stop = min(low + step, high)
            index = creators[low:stop]
            out = blocked[index] | (cost[low:stop] > left)
            if low == pointer[side] and len(out) and out[0]:  # skip for good what can never join in this run
                pointer[side] += int(np.argmin(out)) if not out.all() else len(out)
            density = a[low:stop] * scale + b[low:stop]
            density[out] = -math.inf
            read.append((index, density))
            starts[side] = stop
        index = np.concatenate([read[0][0], read[1][0]])
        density = np.concatenate([read[0][1], read[1][1]])
        if len(density):
            top = float(density.max())
            if top > -math.inf and (top > best or top == best):
                who = int(index[density == top].min())
                if top > best or who < found:
                    best, found = top, who
        if starts[0] >= high or starts[1] >= high:
            return best, found  # one order read to its end: every creator of the cell was read
        threshold = scale * queue.orders[0][1][starts[0]] + queue.orders[1][2][starts[1]]
        if best > threshold:
            return best, found
        step *= 4


def _greedy(state: _Roster, queue: _Queue, usable: np.ndarray, budget: float, limits: Limits, most: int) -> None:
    """Greedy by gain per dollar, up to `most` creators: each step takes the best creator of the best cell; only
    the cell that changed, and cells whose best no longer fits the budget or a limit, are looked at again."""
    c = state.c
    count = int(state.chosen.sum())
    if count >= most:
        return
    blocked = ~usable | state.chosen
    for kind, caps in state.caps.items():  # groups the starting roster already fills
        for group, cap in caps.items():
            if state.counts.get((kind, group), 0) >= cap:
                blocked |= c.groups[kind] == group
    if int(np.count_nonzero(~blocked)) <= DENSE_GREEDY:
        return _greedy_dense(state, blocked, budget, limits, most, count)
    pointers = {cell: [low, low] for cell, (low, _) in queue.spans.items()}
    density = np.full(len(queue.cells), -np.inf)   # each cell's best gain per dollar
    creator = np.full(len(queue.cells), -1)        # and who it is
    cost = np.full(len(queue.cells), -np.inf)      # and what it costs (-inf: no one)

    def look(k: int) -> None:
        cell = queue.cells[k]
        scale = math.exp(-state.cell_eng[cell] / c.cell_pool[cell])
        density[k], creator[k] = _best(queue, cell, scale, budget + 1e-9 - state.spent, blocked, pointers[cell])
        cost[k] = c.cost[creator[k]] if creator[k] >= 0 else -np.inf

    for k in range(len(queue.cells)):
        look(k)
    while count < most and len(density):
        workload.check("choosing the roster")
        top = density.max()
        if top == -np.inf or (top <= 0 and count >= limits.min_creators):
            break
        k = int(np.argmax(density))
        if np.count_nonzero(density == top) > 1:  # equal gains: the first creator by position
            k = int(np.flatnonzero(density == top)[np.argmin(creator[density == top])])
        i = int(creator[k])
        state.add(i)
        blocked[i] = True
        count += 1
        stale = cost > budget + 1e-9 - state.spent  # its best no longer fits (never a cell with no one)
        stale[k] = True
        for kind, caps in state.caps.items():
            group = c.groups[kind][i]
            if group in caps and state.counts.get((kind, group), 0) >= caps[group]:
                blocked |= c.groups[kind] == group  # a full group: none of its creators may join
                stale |= (creator >= 0) & (c.groups[kind][np.maximum(creator, 0)] == group)
        for k in np.flatnonzero(stale).tolist():
            look(k)


DENSE_GREEDY = 4_000  # open creators up to which the greedy reads them all at each step rather than by cell
# (measured: faster than the cells at 300 to 3,000 open creators, up to a 1,000-creator sequence; slower at 8,000)


def _greedy_dense(state: _Roster, blocked: np.ndarray, budget: float, limits: Limits, most: int, count: int) -> None:
    """`_greedy` over a few open creators: every step reads all of them at once (the same gains per dollar, the
    same ties to the first by position, so the same roster), without the cells' bookkeeping that pays off only
    on many."""
    c, slopes = state.c, state.slopes
    open_ = np.flatnonzero(~blocked)
    cost = np.maximum(c.cost[open_], 1e-6)
    a = slopes.engagement * unique_reach(c.eng[open_], c.pools[open_]) / cost
    b = slopes.conversion * c.conv[open_] / cost
    cell, price = c.cell[open_], c.cost[open_]
    # math.exp, as `_greedy` takes it per cell: the same gains to the last bit, so the same ties
    scale = np.array([math.exp(-e / p) for e, p in zip(state.cell_eng.tolist(), c.cell_pool.tolist(), strict=True)])
    out = np.zeros(len(open_), dtype=bool)
    while count < most and len(open_):
        workload.check("choosing the roster")
        density = a * scale[cell] + b
        density[out | (price > budget + 1e-9 - state.spent)] = -math.inf
        top = float(density.max())
        if top == -math.inf or (top <= 0 and count >= limits.min_creators):
            break
        j = int(np.flatnonzero(density == top)[0])  # open_ is in position order: the first among equals
        i = int(open_[j])
        state.add(i)
        out[j] = True
        count += 1
        k = int(cell[j])  # only the joining creator's cell changed
        scale[k] = math.exp(-state.cell_eng[k] / c.cell_pool[k])
        for kind, caps in state.caps.items():
            group = c.groups[kind][i]
            if group in caps and state.counts.get((kind, group), 0) >= caps[group]:
                out |= c.groups[kind][open_] == group  # a full group: none of its creators may join


def _insert(state: _Roster, queue: _Queue, usable: np.ndarray, movable: np.ndarray, budget: float, limits: Limits,
            most: int, rounds: int = 3, width: int = 20) -> _Roster:
    """Each of the strongest outsiders joins, making room for itself: in each full group it would join, the member
    worth least leaves, then members worth least per dollar leave until it fits the budget, and the
    greedy fills what is left. The best such roster is kept while it raises the objective: several out for one in,
    or across two full groups at once, which single swaps (`_improve`) cannot make.

    Only creators in `movable` leave or join."""
    c, slopes = state.c, state.slopes
    standalone = slopes.engagement * c.eng + slopes.conversion * c.conv
    per_dollar = standalone / np.maximum(c.cost, 1e-9)
    current = c.value(state.chosen, slopes)
    for _ in range(rounds):
        workload.check("choosing the roster")
        outside = np.flatnonzero(movable & ~state.chosen & (c.cost <= budget + 1e-9))
        weakest = np.flatnonzero(state.chosen & movable)
        weakest = weakest[np.argsort(per_dollar[weakest], kind="stable")]
        best, best_value = None, current + 1e-9 * max(abs(current), 1.0)
        for j in largest(standalone, outside, width):
            trial = state.copy()
            for kind, caps in trial.caps.items():
                group = c.groups[kind][j]
                if group in caps and trial.counts.get((kind, group), 0) >= caps[group]:
                    members = weakest[trial.chosen[weakest] & (c.groups[kind][weakest] == group)]
                    if len(members):  # the member worth least leaves (the budget, if short, is seen to below)
                        trial.remove(int(members[np.argmin(standalone[members])]))
            for i in weakest.tolist():
                if trial.spent + c.cost[j] <= budget + 1e-9:
                    break
                if trial.chosen[i]:
                    trial.remove(i)
            if int(trial.chosen.sum()) >= most:  # a full roster: the member worth least leaves
                members = weakest[trial.chosen[weakest]]
                if not len(members):
                    continue
                trial.remove(int(members[np.argmin(standalone[members])]))
            if not trial.allowed(j, budget):
                continue
            trial.add(j)
            _greedy(trial, queue, usable, budget, limits, most)
            found = c.value(trial.chosen, slopes)
            if found > best_value:
                best, best_value = trial, found
        if best is None:
            return state
        state, current = best, best_value
    return state


def _improve(state: _Roster, movable: np.ndarray, budget: float, rounds: int = 5, width: int = 40) -> None:
    """Single swaps (one chosen creator out, one of the strongest outsiders in) while they raise the objective.

    Only creators in `movable` leave or join; a swap must keep every limit.
    """
    c = state.c
    s_e, s_c = state.slopes.engagement, state.slopes.conversion
    standalone = s_e * c.eng + s_c * c.conv
    for _ in range(rounds):
        inside = np.flatnonzero(state.chosen & movable)
        outside = np.flatnonzero(movable & ~state.chosen)
        if not len(inside) or not len(outside):
            return
        outside = np.asarray(largest(standalone, outside, width), dtype=np.int64)
        cell_in, eng_in, pool_in = c.cell[inside], c.eng[inside], c.pools[inside]
        total_in = state.cell_eng[cell_in]
        out_loss = -added_reach(total_in - eng_in, total_in, pool_in)
        spent_without = state.spent - c.cost[inside]
        full = {kind: {g for g, cap in caps.items() if state.counts.get((kind, g), 0) >= cap}
                for kind, caps in state.caps.items()}
        best = (1e-9, -1, -1)
        for j in outside:
            total_j, pool_j = state.cell_eng[c.cell[j]], c.pools[j]
            reach = out_loss + added_reach(total_j, total_j + c.eng[j], pool_j)
            same = cell_in == c.cell[j]
            if same.any():  # leaving and joining the same cell
                reach[same] = added_reach(total_j, total_j - eng_in[same] + c.eng[j], pool_j)
            gain = s_e * reach + s_c * (c.conv[j] - c.conv[inside])
            fits = spent_without + c.cost[j] <= budget + 1e-9
            for kind, groups in full.items():
                if c.groups[kind][j] in groups:
                    fits &= c.groups[kind][inside] == c.groups[kind][j]  # full group: only a swap within it
            gain = np.where(fits, gain, -np.inf)
            k = int(np.argmax(gain))
            if gain[k] > best[0]:
                best = (float(gain[k]), int(inside[k]), int(j))
        if best[1] < 0:
            return
        _, i, j = best
        state.chosen[i], state.chosen[j] = False, True
        state.spent += c.cost[j] - c.cost[i]
        for kind in state.caps:
            state.counts[(kind, c.groups[kind][i])] -= 1
            state.counts[(kind, c.groups[kind][j])] = state.counts.get((kind, c.groups[kind][j]), 0) + 1
        state.cell_eng[c.cell[i]] -= c.eng[i]
        state.cell_eng[c.cell[j]] += c.eng[j]
