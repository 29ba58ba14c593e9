"""A log-linear base rate that a Poisson booster starts from (a GLM whose answer the trees then boost).

Gradient boosting on a very noisy count learns the main effects of campaign-wide factors weakly, and partly through
creator features that happen to go with them in the data (planners pay different creators in different ways).
Measured on simulated data: moving the same creators from gifting to affiliate raised their expected units by
x1.39 where the truth says x1.65, and a Shopify store lowered them by x0.93 where the truth says x0.83.
A Poisson GLM on the same feature matrix estimates every main effect jointly, each net of the others. The
conversion model keeps the GLM's terms for the campaign's side (way of paying, niche match, price, code,
marketplace) and holds the creator's side at its mean, which the trees learn better than a GLM can (tiers
that planners rarely pick, odd shapes); early stopping decides how much the trees add.

Each feature enters as one term: a categorical feature by level (unseen levels get the term's training mean), a
numeric one as a standardised value and its square (clipped to the training range) with a flag for missing
values. Terms are centred on their training means, so a term is a feature's contribution to ln rate against a
typical training row. Everything is plain numbers, saved with the model's spec.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import PoissonRegressor


class LogLinear:
    def __init__(self, names: list[str], terms: list[dict], typical: float):
        self.names, self.terms, self.typical = names, terms, typical
        self._tables: dict | None = None

    @classmethod
    def fit(cls, names: list[str], categorical: set[str], X: np.ndarray, y: np.ndarray, exposure: np.ndarray,
            alpha: float = 1e-3, keep: set[str] | None = None) -> LogLinear:
        """ln(y / exposure) ~ terms of X, by Poisson maximum likelihood with a small ridge penalty. Every feature
        is fitted, so that each effect is estimated net of the others; only the terms of `keep` (default: all)
        then answer, the others are held at their training mean (left to the trees)."""
        terms = []
        for j, name in enumerate(names):
            x = X[:, j]
            finite = np.isfinite(x)
            if name in categorical:
                terms.append({"kind": "level", "levels": np.unique(x[finite]).tolist()})
            else:
                mean, sd = (float(np.mean(x[finite])), float(np.std(x[finite])) or 1.0) if finite.any() else (0.0, 1.0)
                z = (x[finite] - mean) / sd
                terms.append({"kind": "number", "mean": mean, "sd": sd,
                              "low": float(z.min()) if finite.any() else 0.0,
                              "high": float(z.max()) if finite.any() else 0.0, "missing": bool((~finite).any())})
        model = cls(names, terms, 0.0)
        blocks = model._columns(X)
        design = np.hstack(blocks)
        scale = design.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)  # the penalty weighs every column in its own spread: a rare level
        glm = PoissonRegressor(alpha=alpha, solver="newton-cholesky", max_iter=100, tol=1e-7)  # is not shrunk more
        glm.fit(design / scale, np.asarray(y, dtype=float) / exposure, sample_weight=exposure)
        coef = glm.coef_ / scale
        start = 0
        for term, block in zip(terms, blocks, strict=True):
            term["coef"] = coef[start:start + block.shape[1]].tolist()
            start += block.shape[1]
        values = model._values(X)
        for name, term, column in zip(names, terms, values.T, strict=True):
            term["center"], term["spread"] = float(column.mean()), float(column.std())
            term["held"] = keep is not None and name not in keep
        model.typical = float(glm.intercept_) + sum(t["center"] for t in terms)
        return model

    def _columns(self, X: np.ndarray) -> list[np.ndarray]:
        """The design columns of each term."""
        out = []
        for j, term in enumerate(self.terms):
            x = X[:, j]
            if term["kind"] == "level":
                out.append((x[:, None] == np.asarray(term["levels"], dtype=float)[None, 1:]).astype(float))
            else:
                finite = np.isfinite(x)
                z = np.clip(np.where(finite, (x - term["mean"]) / term["sd"], 0.0), term["low"], term["high"])
                z = np.where(finite, z, 0.0)
                block = [z, z**2] + ([(~finite).astype(float)] if term["missing"] else [])
                out.append(np.column_stack(block))
        return out

    def _values(self, X: np.ndarray) -> np.ndarray:
        """(rows, features) each term's value, uncentred (a held term: its mean)."""
        if not all("center" in t for t in self.terms):  # while fitting: each term's columns times its coefficients
            return np.column_stack([block @ np.asarray(t["coef"], dtype=float)
                                    for t, block in zip(self.terms, self._columns(X), strict=True)])
        values = np.repeat(self._compiled()["centers"][None, :], len(X), axis=0)
        for j, column in self._answers(X):
            values[:, j] = column
        return values

    def _answers(self, X: np.ndarray):
        """(feature index, values) of each answering term: vectorised over the numeric terms, a table lookup for
        the levels (this runs on every scored candidate)."""
        tables = self._compiled()
        num, mean, sd, low, high, b1, b2, bm = tables["number"]
        for k, j in enumerate(num.tolist()):  # a column at a time: a few temporaries of one column each
            z = (X[:, j] - mean[k]) / sd[k]
            missing = np.isnan(z)
            np.clip(z, low[k], high[k], out=z)
            z[missing] = 0.0
            yield j, z * (b1[k] + z * b2[k]) + missing * bm[k]
        for j, (codes, table) in tables["level"].items():
            x = X[:, j]
            index = np.minimum(np.searchsorted(codes, np.where(np.isfinite(x), x, np.inf)), len(codes) - 1)
            yield j, np.where(codes[index] == x, table[index], table[-1])

    def _compiled(self) -> dict:
        if getattr(self, "_tables", None) is None:
            self._tables = self._compile()
        return self._tables

    def _compile(self) -> dict:
        """Arrays for `_values`: the answering numeric terms side by side; per answering level term, its sorted
        levels and their values (the last entry: the value of an unseen level)."""
        num = [j for j, t in enumerate(self.terms) if t["kind"] == "number" and not t.get("held")]
        pick = lambda key: np.array([self.terms[j][key] for j in num], dtype=float)  # noqa: E731
        coef = [self.terms[j]["coef"] + [0.0] * (3 - len(self.terms[j]["coef"])) for j in num]
        b1, b2, bm = (np.array([c[k] for c in coef], dtype=float) for k in range(3))
        levels = {}
        for j, t in enumerate(self.terms):
            if t["kind"] == "level" and not t.get("held"):
                codes = np.asarray(t["levels"], dtype=float)
                table = np.r_[0.0, np.asarray(t["coef"], dtype=float)] if len(codes) else np.zeros(0)
                levels[j] = (np.r_[codes, np.inf], np.r_[table, t["center"]])
        return {"number": (np.array(num, dtype=int), pick("mean"), pick("sd"), pick("low"), pick("high"), b1, b2, bm),
                "level": levels, "centers": np.array([t["center"] for t in self.terms], dtype=float)}

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(rows, features) each feature's contribution to ln rate against a typical training row."""
        return self._values(X) - np.array([t["center"] for t in self.terms])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """ln rate per unit of exposure of each row: the typical rate and each answering term's departure."""
        out = np.full(len(X), self.typical)
        centers = self._compiled()["centers"]
        for j, column in self._answers(X):
            out += column - centers[j]
        return out

    def spreads(self) -> dict[str, float]:
        """Each answering feature's importance: the standard deviation of its term over the training rows (ln
        rate); zero for a held term."""
        return {name: 0.0 if t.get("held") else t.get("spread", 0.0)
                for name, t in zip(self.names, self.terms, strict=True)}

    def spec(self) -> dict:
        return {"names": self.names, "terms": self.terms, "typical": self.typical}

    @classmethod
    def from_spec(cls, spec: dict) -> LogLinear:
        return cls(list(spec["names"]), list(spec["terms"]), float(spec["typical"]))
