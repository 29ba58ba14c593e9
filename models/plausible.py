"""Plausible bounds of a saved model's numbers: what the service refuses to load even from a whole, well-formed file.

A model can pass every file check and still poison answers: one leaf of 1e300 that an ordinary row never reaches
makes every ranking that reaches it infinite, and a dispersion of 1e308 makes every predicted range 0 to 0. These
checks run at load, on every leaf and every number of the spec, and list every failure at once.

Every booster predicts on a log scale (`SCALES`). Measured on simulated worlds of 1,500 and 20,000 creators, the
largest leaf of any model was 3.1, and the trees together (the sum over trees of each tree's lowest leaf, and of
each tree's highest) reached from -8.9 to 3.5. A leaf beyond ±50, a factor of e^50 = 5e21 on its own, is no
model's answer, and neither is a reach beyond the bounds below: both are refused. Within them, every prediction
is finite. Bounds of the spec's numbers sit
one to four orders of magnitude beyond anything measured; each says what the number is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from microlift.models.loglinear import LogLinear
from microlift.models.vocabulary import NICHES

LEAF_LIMIT = 50.0
SCALES = {  # what each booster's raw score is, and the interval its trees together must stay within
    "engagement": ("ln engagement rate per follower", -50.0, 20.0),  # e^20: 5e8 engagements per follower
    "conversion": ("ln units per post, beyond its base rate", -50.0, 50.0),
    "lift": ("ln(units per month during / baseline)", -50.0, 50.0),
    "posting": ("log-odds that an invited creator posts", -50.0, 50.0),
}
# The conversion base rate (ln units per post per 1,000 followers) with every term at its extreme at once, which no
# creator is: measured -13.6 to 7.2. Larger catalogs widen the features' training ranges; ±100 leaves room for
# that and still keeps e^rate finite.
BASE_REACH = 100.0
SHOWN = 5  # problems listed in a refusal; the rest are counted
MISSING = object()


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    meaning: str
    open_low: bool = False  # the low end itself is refused (a dispersion or a spread of exactly 0)

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        return (self.low < value if self.open_low else self.low <= value) and value <= self.high

    def problem(self, where: str, value=MISSING) -> str | None:
        if self.accepts(value):
            return None
        accepted = (f"above {self.low:g}, at most {self.high:g}" if self.open_low
                    else f"from {self.low:g} to {self.high:g}")
        got = "missing" if value is MISSING else f"got {value!r}"
        return f"{where}: {got}; expected {self.meaning}, a number {accepted}"


COVERAGE = Bound(0.0, 1.0, "the share of outcomes an interval holds", open_low=True)
RESIDUAL = Bound(-20.0, 20.0, "an interval's offset on the ln scale")
SPEC = {
    "engagement": {"coverage": COVERAGE, "residual_low": RESIDUAL, "residual_high": RESIDUAL,
                   "smearing": Bound(0.0, 1000.0, "the mean of exp(residual)", open_low=True)},
    # alpha of var = mu + alpha mu^2; measured 1.9-2.6. At 100, a post expecting 10 units has p10 = p50 = p90 = 0
    "conversion": {"dispersion": Bound(1e-6, 100.0, "the negative binomial dispersion")},
    "lift": {"coverage": COVERAGE},
    "posting": {},
}
LOGIT = Bound(-50.0, 50.0, "a log-odds coefficient of the posting model's base")
FILL = Bound(-20.0, 20.0, "a feature's median (log10 scale) standing in for a missing value")
PAIR = Bound(0.01, 10.0, "a niche pair's factor on predicted units (observed over predicted, shrunk)")
RELEVANCE = Bound(0.0, 2.0, "how much one niche's audience cares about another's products (learned, clipped to 0-2)")
LEGACY_INTERCEPT = Bound(-50.0, 50.0, "the overall ln rate per follower")
EDGE = Bound(-50.0, 50.0, "a band edge of predicted ln lift")
OFFSET = Bound(-20.0, 20.0, "an interval's offset of ln lift")
TERM = {  # the conversion base rate's terms (models.loglinear); z: a value in standard deviations
    "coef": Bound(-50.0, 50.0, "a term's ln rate per unit"), "hinge": Bound(-50.0, 50.0, "a bend's ln rate per unit"),
    "center": Bound(-50.0, 50.0, "a term's mean ln rate"), "spread": Bound(0.0, 50.0, "a term's spread"),
    "mean": Bound(-1e9, 1e9, "a feature's training mean"),
    "sd": Bound(0.0, 1e9, "a feature's training standard deviation", open_low=True),
    "low": Bound(-1e3, 1e3, "the lowest training z"), "high": Bound(-1e3, 1e3, "the highest training z"),
    "knots": Bound(-1e3, 1e3, "a bend's z"), "levels": Bound(0.0, 1e6, "a category code"),
}


def spec_problems(kind: str, spec) -> list[str]:
    """Every number of a model's spec that is not finite or not plausible, as 'field: got X; expected Y'."""
    if not isinstance(spec, dict):
        return [f"the spec is a JSON {type(spec).__name__}, expected an object"]
    problems = [bound.problem(name, spec.get(name, MISSING)) for name, bound in SPEC[kind].items()]
    if kind == "engagement" and not any(problems) and spec["residual_low"] > spec["residual_high"]:
        problems.append(f"residual_low {spec['residual_low']!r} is above residual_high {spec['residual_high']!r}")
    if kind == "lift":
        problems += _lift_problems(spec)
    if kind == "posting":
        problems += _posting_base_problems(spec.get("logit", MISSING))
    if kind == "conversion" and "relevance" in spec:
        problems += _relevance_problems(spec["relevance"])
    if kind == "conversion" and "pairs" in spec:
        problems += _pair_problems(spec["pairs"])
    if kind == "conversion" and "base" in spec:
        problems += _base_problems(spec["base"], spec.get("features"))
    elif kind == "conversion":  # a model saved before the base rate
        problems.append(LEGACY_INTERCEPT.problem("intercept", spec.get("intercept", MISSING)))
    checked = set(SPEC[kind]) | {"bin_edges", "offsets", "base", "intercept", "relevance", "pairs", "logit"}
    problems += [f"{where}: got {value!r}; expected a finite number" for where, value in _numbers(spec)
                 if not math.isfinite(value) and where.split(".")[0].split("[")[0] not in checked]
    return _listed([p for p in problems if p])


def _relevance_problems(table) -> list[str]:
    """Every entry of the conversion model's learned niche relevance that is not a number from 0 to 2."""
    if not isinstance(table, dict) or not all(isinstance(row, dict) for row in table.values()):
        return ["relevance: expected an object of objects (creator niche -> product niche -> number)"]
    return [RELEVANCE.problem(f"relevance.{a}.{b}", value) for a, row in table.items() for b, value in row.items()
            if not RELEVANCE.accepts(value)]


def _posting_base_problems(base) -> list[str]:
    """The posting model's logistic base: every coefficient, the intercept and the fill values plausible."""
    if base is MISSING:
        return []
    if not isinstance(base, dict) or not isinstance(base.get("coef"), list) or not isinstance(base.get("fill"), list):
        return ["logit: expected an object with coef, intercept and fill"]
    return [p for p in ([LOGIT.problem(f"logit.coef[{i}]", v) for i, v in enumerate(base["coef"])]
                        + [LOGIT.problem("logit.intercept", base.get("intercept", MISSING))]
                        + [FILL.problem(f"logit.fill[{i}]", v) for i, v in enumerate(base["fill"])]) if p]


def _pair_problems(matrix) -> list[str]:
    """Every entry of the conversion model's niche-pair factors that is not a number from 0.01 to 10, or a matrix of
    the wrong shape (one row and column per niche code, unknown last)."""
    size = len(NICHES) + 1
    if not isinstance(matrix, list) or len(matrix) != size or not all(isinstance(r, list) and len(r) == size
                                                                      for r in matrix):
        return [f"pairs: expected a {size} x {size} matrix of numbers"]
    return [PAIR.problem(f"pairs[{i}][{j}]", value) for i, row in enumerate(matrix) for j, value in enumerate(row)
            if not PAIR.accepts(value)]


def leaf_problems(kind: str, booster_text: str) -> list[str]:
    """Every leaf beyond ±LEAF_LIMIT (or not a number) of a LightGBM text model, and its trees' reach."""
    scale, low, high = SCALES[kind]
    problems, lowest, highest, tree = [], 0.0, 0.0, "?"
    for line in booster_text.splitlines():
        if line.startswith("Tree="):
            tree = line[5:]
        elif line.startswith("leaf_value="):
            try:
                values = np.array(line[11:].split(), dtype=float)
            except ValueError:
                problems.append(f"tree {tree}: leaf values that are not numbers")
                continue
            bad = np.flatnonzero(~(np.abs(values) <= LEAF_LIMIT))  # NaN is refused too
            problems += [f"tree {tree}, leaf {leaf}: {values[leaf]:g}; a leaf of a model of {scale} lies within "
                         f"±{LEAF_LIMIT:g}" for leaf in bad]
            if values.size:
                lowest, highest = lowest + values.min(), highest + values.max()
        elif line.startswith("end of trees"):
            break
    if not problems and not low <= lowest <= highest <= high:
        problems.append(f"the trees together reach from {lowest:g} to {highest:g}; a model of {scale} stays "
                        f"within {low:g} to {high:g}")
    return _listed(problems)


def _numbers(value, where: str = ""):
    """(path, number) of every number inside a JSON value (booleans are not numbers here)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{where}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield where, float(value)


def _numbers_in(value, bound: Bound, where: str) -> list[str]:
    """`bound` applied to a number, or to every item of a list of numbers."""
    items = value if isinstance(value, list) else [value]
    return [p for i, item in enumerate(items)
            if (p := bound.problem(f"{where}[{i}]" if isinstance(value, list) else where, item))]


def _lift_problems(spec: dict) -> list[str]:
    edges, offsets = spec.get("bin_edges"), spec.get("offsets")
    if not isinstance(edges, list) or not isinstance(offsets, list) or len(offsets) != len(edges) + 1:
        return [f"bin_edges and offsets: got {edges!r} and {offsets!r}; expected n edges and n + 1 offsets"]
    problems = _numbers_in(edges, EDGE, "bin_edges")
    for i, band in enumerate(offsets):
        if not isinstance(band, list) or len(band) != 3:
            problems.append(f"offsets[{i}]: got {band!r}; expected [p10, p50, p90] offsets")
        elif not (found := _numbers_in(band, OFFSET, f"offsets[{i}]")) and not band[0] <= band[1] <= band[2]:
            problems.append(f"offsets[{i}]: got {band!r}; expected p10 <= p50 <= p90")
        else:
            problems += found
    if not problems and edges != sorted(edges):
        problems.append(f"bin_edges: got {edges!r}; expected ascending edges")
    return problems


def _base_problems(base, features) -> list[str]:
    """The conversion base rate: every term's numbers, the terms' shapes, then how far the rate can reach."""
    if not isinstance(base, dict) or not isinstance(base.get("terms"), list) or base.get("names") != features:
        return ["base: expected names (the model's features, in order), terms (one per feature) and typical"]
    problems = _numbers_in(base.get("typical", MISSING), Bound(-50.0, 50.0, "the typical ln rate"),
                           "base.typical")
    if len(base["terms"]) != len(features):
        problems.append(f"base.terms: got {len(base['terms'])} terms; expected one per feature ({len(features)})")
    for name, term in zip(features, base["terms"], strict=False):
        where = f"base.terms[{name}]"
        if not isinstance(term, dict) or term.get("kind") not in ("number", "level"):
            problems.append(f"{where}: expected a 'number' or 'level' term")
            continue
        keys = ("coef", "hinge", "center", "spread") + (
            ("mean", "sd", "low", "high", "knots") if term["kind"] == "number" else ("levels",))
        for key in keys:
            problems += _numbers_in(term.get(key, MISSING), TERM[key], f"{where}.{key}")
    if problems:
        return problems
    try:
        low, high = _base_reach(LogLinear.from_spec(base))
    except Exception as exc:  # terms whose shapes do not fit together
        return [f"base.terms: do not fit together ({type(exc).__name__}: {str(exc)[:120]})"]
    if not -BASE_REACH <= low <= high <= BASE_REACH:
        return [f"base: its terms together reach from {low:g} to {high:g} (ln units per post per 1,000 followers); "
                f"a rate stays within ±{BASE_REACH:g}"]
    return []


def _base_reach(base: LogLinear) -> tuple[float, float]:
    """The lowest and highest ln rate the base rate can give: each term over its whole range (numbers: 256 values
    from the lowest to the highest training z, the bends, missing; levels: each, and an unseen one), added up."""
    rows = max([257] + [len(t.get("levels", [])) + 1 for t in base.terms])
    X = np.empty((rows, len(base.terms)))
    for j, term in enumerate(base.terms):
        if term["kind"] == "number":
            z = np.r_[np.linspace(term["low"], term["high"], rows - 1 - len(term["knots"])), term["knots"]]
            X[:, j] = np.r_[term["mean"] + z * term["sd"], np.nan]
        else:
            X[:, j] = np.resize(np.r_[term["levels"], -1.0], rows)
    values = base.contributions(X)
    return base.typical + float(values.min(axis=0).sum()), base.typical + float(values.max(axis=0).sum())


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= SHOWN:
        return problems
    return problems[:SHOWN] + [f"and {len(problems) - SHOWN} more"]
