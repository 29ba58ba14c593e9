"""The three LightGBM models, after scikit-learn's estimator contract (fit returns self, learned attributes end in _).

Each saves to a folder of LightGBM text boosters plus `spec.json` (feature names, vocabularies, interval terms).
Loading reads text and JSON only: nothing is unpickled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats

from microlift.models import features as F
from microlift.models.compiled import compiled
from microlift.models.economics import SALES_FLOOR, sales_scale
from microlift.models.explain import PathContributions
from microlift.models.loglinear import LogLinear, nb_dispersion

SPEC_FILE = "spec.json"
BASE_PARAMS = {"verbosity": -1, "num_threads": 2, "deterministic": True, "force_row_wise": True}


class _Progress:
    """LightGBM callback that advances a progress bar (anything with update(n)) once per boosting round."""

    def __init__(self, bar):
        self.bar = bar

    def __call__(self, env) -> None:
        if self.bar is not None:
            self.bar.update(1)


def _train(params: dict, X: np.ndarray, y: np.ndarray, names: list[str], categorical: list[str], rounds: int,
           valid: tuple[np.ndarray, np.ndarray] | None = None, init_score=None, valid_init=None,
           progress=None) -> lgb.Booster:
    data = lgb.Dataset(X, y, feature_name=names, categorical_feature=categorical, init_score=init_score,
                       free_raw_data=True)
    callbacks = [_Progress(progress)]
    sets = [data]
    if valid is not None:
        sets.append(lgb.Dataset(valid[0], valid[1], reference=data, init_score=valid_init))
        callbacks.append(lgb.early_stopping(40, verbose=False))
    return lgb.train({**BASE_PARAMS, **params}, data, num_boost_round=rounds, valid_sets=sets[1:] or None,
                     callbacks=callbacks)


class _Model:
    kind = ""
    booster_files: tuple[str, ...] = ("booster.txt",)

    def __init__(self, params: dict | None = None, rounds: int = 400, seed: int = 0):
        self.params = params
        self.rounds = rounds
        self.seed = seed

    def _params(self, defaults: dict) -> dict:
        return {**defaults, "seed": self.seed, **(self.params or {})}

    def _X(self, rows: pd.DataFrame) -> np.ndarray:
        return F.matrix(self.kind, rows, self.features_)

    def compile(self, cache: Path) -> bool:
        """Serve predictions from the booster compiled to machine code (lleaves), several times faster than
        LightGBM's own predict. The object file is cached in `cache` under the booster's digest, written whole or
        not at all. Kept only if it predicts what the booster does on reference rows; otherwise the booster
        predicts, as it does when this is never called. Returns whether the compiled predictor is in use."""
        self.compiled_ = compiled(self.booster_, cache, self.features_)
        return self.compiled_ is not None

    def _raw(self, X: np.ndarray) -> np.ndarray:
        """The booster's raw score of each row of `X` (compiled when `compile` succeeded)."""
        if getattr(self, "compiled_", None) is not None:
            # threads pay off only on large batches (measured: slower at 1,000 rows on two cores)
            # the compiled model reads rows of float64: one conversion here (a column-major matrix, as fancy indexing
            # leaves it, would otherwise be copied twice)
            rows = np.ascontiguousarray(X, dtype=np.float64)
            return self.compiled_.predict(rows, n_jobs=1 if len(X) < 20_000 else None)
        return self.booster_.predict(X, raw_score=True)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(rows, features) contributions to the booster's raw prediction along each row's decision paths
        (models.explain); the per-leaf table is built on first use."""
        if getattr(self, "paths_", None) is None:
            self.paths_ = PathContributions(self.booster_)
        return self.paths_(self.booster_, X)

    # --- persistence -----------------------------------------------------------------------------------------
    def _spec_extra(self) -> dict:
        return {}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, booster in zip(self.booster_files, self._boosters(), strict=True):
            booster.save_model(str(folder / name))
        spec = {"kind": self.kind, "feature_version": F.FEATURE_VERSION, "features": self.features_,
                "categorical": [f for f in self.features_ if f in F.CATEGORICAL],
                "vocabularies": {k: list(v) for k, v in F.VOCABULARIES.items()},
                "params": self.params or {}, "rounds": self.rounds, "seed": self.seed, **self._spec_extra()}
        (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> _Model:
        folder = Path(folder)
        spec = json.loads((folder / SPEC_FILE).read_text())
        if spec.get("kind") != cls.kind:
            raise ValueError(f"{folder}: holds a {spec.get('kind')!r} model, expected {cls.kind!r}")
        if spec.get("feature_version", 0) != F.FEATURE_VERSION:
            raise ValueError(f"{folder}: built with feature version {spec.get('feature_version', 0)}, this code "
                             f"builds version {F.FEATURE_VERSION}: retrain with `microlift train`")
        for name, vocabulary in spec.get("vocabularies", {}).items():
            if tuple(vocabulary) != F.VOCABULARIES.get(name):
                raise ValueError(f"{folder}: vocabulary of {name!r} differs from this code's")
        F.matrix(cls.kind, pd.DataFrame({"platform": [], "niche": []}), spec["features"])  # every feature buildable
        model = cls(spec.get("params") or None, spec.get("rounds", 400), spec.get("seed", 0))
        model.features_ = list(spec["features"])
        for name in cls.booster_files:
            check_booster_text(folder / name)
        model._restore(spec, [lgb.Booster(model_file=str(folder / f)) for f in cls.booster_files])
        return model


def check_booster_text(path: Path) -> None:
    """Refuse a LightGBM text model that is not whole. LightGBM seeks each tree by the sizes its header declares,
    and a truncated file can abort the whole process instead of raising an error."""
    data = path.read_bytes()
    found = re.search(rb"^tree_sizes=([0-9 ]*)$", data, re.M)
    start = data.find(b"\nTree=0\n") + 1
    if not data.startswith(b"tree\n") or found is None or start == 0:
        raise ValueError(f"{path.name}: not a LightGBM text model (no header or no trees)")
    position = start
    for size in (int(s) for s in found.group(1).split()):
        if data[position:position + 5] != b"Tree=":
            raise ValueError(f"{path.name}: truncated or altered (tree sizes do not match the trees)")
        position += size
    if not data[position:].startswith(b"end of trees") or b"end of parameters" not in data[position:]:
        raise ValueError(f"{path.name}: truncated or altered (no end of trees / parameters where expected)")


class EngagementModel(_Model):
    """Engagement rate of a creator's post: LightGBM on ln ER, with split-conformal intervals."""

    kind = "engagement"
    defaults = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 63, "min_data_in_leaf": 100,
                "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0}

    def fit(self, rows: pd.DataFrame, log_er: np.ndarray, calibration: tuple[pd.DataFrame, np.ndarray],
            coverage: float = 0.8, progress=None) -> EngagementModel:
        self.features_ = F.feature_names(self.kind)
        X, Xc = self._X(rows), self._X(calibration[0])
        self.booster_ = _train(self._params(self.defaults), X, np.asarray(log_er), self.features_,
                               F.categorical_names(self.kind), self.rounds, valid=(Xc, calibration[1]),
                               progress=progress)
        residual = np.asarray(calibration[1]) - self.booster_.predict(Xc)
        tail = (1 - coverage) / 2
        self.coverage_ = coverage
        self.residual_low_, self.residual_high_ = (float(q) for q in np.quantile(residual, [tail, 1 - tail]))
        self.smearing_ = float(np.mean(np.exp(residual)))  # E[ER] = exp(E[ln ER]) x smearing (Duan 1983)
        return self

    def predict_log(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """Expected ln engagement rate (`X`: the rows' feature matrix, when the caller has built it already)."""
        return self._raw(self._X(rows) if X is None else X)

    def predict(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Engagement rate per follower: mean, and the p10/p50/p90 of what will be observed."""
        return self.rates(self.predict_log(rows, X))

    def rates(self, mid: np.ndarray, quantiles: tuple[str, ...] = ("mean", "p10", "p50", "p90")
              ) -> dict[str, np.ndarray]:
        """Engagement rate per follower from the expected ln rate `mid` (`predict_log`): the mean, and the
        p10/p50/p90 of what will be observed; only the `quantiles` asked for."""
        exact = {"mean": lambda: np.exp(mid) * self.smearing_, "p10": lambda: np.exp(mid + self.residual_low_),
                 "p50": lambda: np.exp(mid), "p90": lambda: np.exp(mid + self.residual_high_)}
        return {q: exact[q]() for q in quantiles}

    def _boosters(self):
        return [self.booster_]

    def _spec_extra(self) -> dict:
        return {"coverage": self.coverage_, "residual_low": self.residual_low_,
                "residual_high": self.residual_high_, "smearing": self.smearing_}

    def _restore(self, spec, boosters):
        (self.booster_,) = boosters
        self.coverage_, self.smearing_ = spec["coverage"], spec["smearing"]
        self.residual_low_, self.residual_high_ = spec["residual_low"], spec["residual_high"]


class ConversionModel(_Model):
    """Attributed units per post: LightGBM Poisson boosted from a log-linear base rate (`models.loglinear`) with
    ln(followers) as exposure; negative binomial range."""

    kind = "conversion"
    defaults = {"objective": "poisson", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 200,
                "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0}
    base_alpha = 1e-3  # the base rate's ridge penalty (on standardised terms)

    def fit_base(self, rows: pd.DataFrame, units: np.ndarray, X: np.ndarray | None = None) -> ConversionModel:
        """The log-linear base rate per follower, from the training rows (their feature matrix `X` if built)."""
        self.features_ = F.feature_names(self.kind)
        X = self._X(rows) if X is None else X
        exposure = np.maximum(F.numbers(rows, "followers"), 1.0) / 1000
        self.base_ = LogLinear.fit(self.features_, set(F.categorical_names(self.kind)), X,
                                   np.asarray(units, dtype=float), exposure, self.base_alpha)
        return self

    def offset_of(self, X: np.ndarray, followers: np.ndarray) -> np.ndarray:
        """Where the trees start: ln(followers / 1000) + the base rate per 1,000 followers of each row of `X`
        (models saved before the base rate existed: ln(followers) + their overall rate)."""
        followers = np.maximum(np.asarray(followers, dtype=float), 1.0)
        if getattr(self, "base_", None) is None:
            return np.log(followers) + self.intercept_
        return np.log(followers / 1000) + self.base_(X)

    def offset(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        return self.offset_of(self._X(rows) if X is None else X, F.numbers(rows, "followers"))

    def fit(self, rows: pd.DataFrame, units: np.ndarray, calibration: tuple[pd.DataFrame, np.ndarray],
            progress=None) -> ConversionModel:
        self.features_ = F.feature_names(self.kind)
        X, Xc = self._X(rows), self._X(calibration[0])
        self.fit_base(rows, units, X)
        self.booster_ = _train(self._params(self.defaults), X, np.asarray(units, dtype=float), self.features_,
                               F.categorical_names(self.kind), self.rounds, init_score=self.offset(rows, X),
                               valid=(Xc, np.asarray(calibration[1], dtype=float)),
                               valid_init=self.offset(calibration[0], Xc), progress=progress)
        return self.finish(rows, units, calibration, X, Xc)

    def finish(self, rows: pd.DataFrame, units: np.ndarray, calibration: tuple[pd.DataFrame, np.ndarray],
               X: np.ndarray | None = None, Xc: np.ndarray | None = None) -> ConversionModel:
        """What follows the trees, wherever they were fitted: the niche pairs' factors and each audience's relevance
        from the training rows, the dispersion from the calibration rows (`X`, `Xc`: their matrices if built)."""
        self.pairs_ = self.fit_pairs(rows, np.asarray(units, dtype=float), X)
        self.dispersion_ = self.dispersion_of(calibration[0], np.asarray(calibration[1], dtype=float), Xc)
        self.relevance_ = self.learn_relevance(rows)
        return self

    pair_prior_units = 20.0  # units of prior weight behind "no pair effect" (empirical Bayes shrinkage)

    def fit_pairs(self, rows: pd.DataFrame, units: np.ndarray, X: np.ndarray | None = None) -> list[list[float]]:
        """What the trees leave of each (creator niche, product niche) pair: observed over predicted units of the
        training posts, shrunk towards 1 by `pair_prior_units` (an audience's interest in a product's niche is one
        effect per pair, which trees with a few leaves spread thin). Matrix over the niche codes (unknown last)."""
        X = self._X(rows) if X is None else X
        mu = np.exp(self._raw(X) + self.offset(rows, X))
        pair = self._pair_index(rows)
        size = (len(F.NICHES) + 1) ** 2
        observed = np.bincount(pair, weights=np.asarray(units, dtype=float), minlength=size)
        expected = np.bincount(pair, weights=mu, minlength=size)
        ratio = (observed + self.pair_prior_units) / (expected + self.pair_prior_units)
        return np.clip(ratio, 0.01, 10.0).reshape(len(F.NICHES) + 1, -1).round(6).tolist()

    @staticmethod
    def _pair_index(rows: pd.DataFrame) -> np.ndarray:
        niche = F.codes(rows["niche"], F.NICHES).astype(np.int64)
        product = F.codes(F.text(rows, "campaign_niche"), F.NICHES).astype(np.int64)
        return niche * (len(F.NICHES) + 1) + product

    def _pair_factor(self, rows: pd.DataFrame) -> np.ndarray:
        pairs = getattr(self, "pairs_", None)
        if pairs is None:
            return np.ones(len(rows))
        return np.asarray(pairs, dtype=float).reshape(-1)[self._pair_index(rows)]

    def learn_relevance(self, rows: pd.DataFrame, sample: int = 4000, seed: int = 0) -> dict[str, dict[str, float]]:
        """How much audiences of each niche care about products of each niche, as this model learned it: the
        geometric mean, over a sample of training posts, of predicted units with the product in niche p against
        the same post with the product in the creator's own niche. Table creator niche -> product niche -> ratio."""
        picked = rows.sample(min(sample, len(rows)), random_state=seed) if len(rows) else rows
        creator_niche = pd.Series(picked["niche"].astype(str).str.strip().str.lower().to_numpy())
        own = np.log(np.maximum(self.predict_mean(picked.assign(campaign_niche=creator_niche.to_numpy())), 1e-12))
        table: dict[str, dict[str, float]] = {}
        for product in F.NICHES:
            other = np.log(np.maximum(self.predict_mean(picked.assign(campaign_niche=product)), 1e-12))
            ratio = pd.Series(other - own).groupby(creator_niche.to_numpy()).mean()
            for niche in F.NICHES:
                value = float(np.exp(ratio.get(niche, 0.0))) if niche != product else 1.0
                table.setdefault(niche, {})[product] = float(np.clip(value, 0.0, 2.0))
        return table

    def relevance(self, creator_niche, product_niche: str) -> np.ndarray:
        """`relevance_` of each creator niche for one product niche (1 for unknown niches or older models)."""
        table = getattr(self, "relevance_", None) or {}
        product = str(product_niche).strip().lower()
        # each distinct niche looked up once (hashed: sorting a million strings took longer than the lookups)
        where, values = F.factorized(creator_niche, use_na_sentinel=False)
        looked = np.array([table.get(str(v).strip().lower(), {}).get(product, 1.0) for v in values], dtype=float)
        return looked[where] if len(values) else np.ones(0)

    def dispersion_of(self, rows: pd.DataFrame, y: np.ndarray, X: np.ndarray | None = None) -> float:
        """alpha of var = mu + alpha mu^2, by the method of moments on held-out rows."""
        return max(nb_dispersion(np.asarray(y, dtype=float), self.predict_mean(rows, X)), 1e-6)

    def predict_mean(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """Expected attributed units per post (`X`: the rows' feature matrix, if already built)."""
        X = self._X(rows) if X is None else X
        return np.exp(self._raw(X) + self.offset(rows, X)) * self._pair_factor(rows)

    def predict(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Attributed units per post: mean, and the p10/p50/p90 of what will be observed (negative binomial)."""
        return self.bands(self.predict_mean(rows, X))

    def bands(self, mu: np.ndarray) -> dict[str, np.ndarray]:
        """Mean `mu` (expected units per post, `predict_mean`) and the negative binomial's p10/p50/p90 around it."""
        mu = np.asarray(mu, dtype=float)
        size = 1.0 / self.dispersion_
        p = size / (size + mu)
        p10, p50, p90 = stats.nbinom.ppf(np.array([[0.1], [0.5], [0.9]]), size, p)  # one call for the three
        return {"mean": mu, "p10": p10, "p50": p50, "p90": p90}

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(rows, features) contributions to ln units per follower against a typical training post: the base
        rate's terms, the trees' path contributions and the niche pair's factor."""
        paths = super().contributions(X)
        out = paths if getattr(self, "base_", None) is None else paths + self.base_.contributions(X)
        if getattr(self, "pairs_", None) is not None and "campaign_niche" in self.features_:
            # the niche pair's factor belongs to the product's niche (which audiences care about it)
            niche, product = (np.asarray(X[:, self.features_.index(c)], dtype=np.int64) for c in ("niche",
                                                                                                "campaign_niche"))
            pairs = np.asarray(self.pairs_, dtype=float)
            out[:, self.features_.index("campaign_niche")] += np.log(pairs[niche, product])
        return out

    def _boosters(self):
        return [self.booster_]

    def _spec_extra(self) -> dict:
        if getattr(self, "base_", None) is None:  # a model saved before the base rate, saved again as it was
            return {"dispersion": self.dispersion_, "intercept": self.intercept_, "offset": "ln(followers) + intercept"}
        return {"dispersion": self.dispersion_, "base": self.base_.spec(),
                "offset": "ln(followers / 1000) + base rate", "relevance": self.relevance_, "pairs": self.pairs_}

    def _restore(self, spec, boosters):
        (self.booster_,) = boosters
        self.dispersion_ = spec["dispersion"]
        self.base_ = LogLinear.from_spec(spec["base"]) if "base" in spec else None
        self.intercept_ = spec.get("intercept")
        self.relevance_ = spec.get("relevance")
        self.pairs_ = spec.get("pairs")


class LiftModel(_Model):
    """Campaign lift: LightGBM on ln((units during + floor) / (baseline + floor)) (`economics.sales_scale`: defined
    for a new product), monotone in the roster's aggregates, with conformal intervals.

    LightGBM's quantile objective cannot take monotone constraints, so the model fits the central value with
    constraints and takes the p10/p90 offsets from out-of-fold residuals (cross-validated conformal). `bins` > 1
    would take them per band of predicted lift, but then a quantile can step down where a band ends; one band keeps
    every quantile monotone in the roster, which the nested budget curve relies on.
    """

    kind = "lift"
    defaults = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 4, "min_data_in_leaf": 10,
                "feature_fraction": 0.9, "lambda_l2": 1.0, "monotone_constraints_method": "advanced"}
    bins = 1

    def __init__(self, params: dict | None = None, rounds: int = 300, seed: int = 0, folds: int = 5):
        super().__init__(params, rounds, seed)
        self.folds = folds

    def _fit_booster(self, X: np.ndarray, z: np.ndarray, progress=None) -> lgb.Booster:
        monotone = [1 if f in F.LIFT_MONOTONE else 0 for f in self.features_]
        return _train({**self._params(self.defaults), "monotone_constraints": monotone}, X, z, self.features_,
                      F.categorical_names(self.kind), self.rounds, progress=progress)

    def fit(self, rows: pd.DataFrame, log_multiple: np.ndarray, coverage: float = 0.8, progress=None) -> LiftModel:
        self.features_ = F.feature_names(self.kind)
        X, z = self._X(rows), np.asarray(log_multiple, dtype=float)
        folds = np.random.default_rng(self.seed).permutation(len(z)) % self.folds
        oof = np.empty(len(z))
        for k in range(self.folds):
            oof[folds == k] = self._fit_booster(X[folds != k], z[folds != k]).predict(X[folds == k])
        residual = z - oof
        tail = (1 - coverage) / 2
        self.coverage_ = coverage
        self.bin_edges_ = [float(e) for e in np.quantile(oof, np.linspace(0, 1, self.bins + 1)[1:-1])]
        which = np.searchsorted(self.bin_edges_, oof)
        self.offsets_ = [[float(q) for q in np.quantile(residual[which == b], [tail, 0.5, 1 - tail])]
                         for b in range(self.bins)]
        self.booster_ = self._fit_booster(X, z, progress)
        return self

    @property
    def residual_sd(self) -> float:
        """How far a campaign lands from the model's median, as an sd on the ln scale: the one implied by the
        held-out p10..p90 (the prior of a brand's calibration, `models.calibration`); read on every forecast."""
        from statistics import NormalDist

        low, _, high = self.offsets_[0]
        return float((high - low) / (2 * NormalDist().inv_cdf(0.5 + self.coverage_ / 2)))

    def predict_log_multiple(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """ln((units during + floor) / (baseline + floor)): p10/p50/p90."""
        centre = self._raw(self._X(rows))
        offsets = np.asarray(self.offsets_)[np.searchsorted(self.bin_edges_, centre)]
        return {"p10": centre + offsets[:, 0], "p50": centre + offsets[:, 1], "p90": centre + offsets[:, 2]}

    def predict(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """Incremental units per month during the campaign: p10/p50/p90 of what will be observed."""
        scale = sales_scale(F.numbers(rows, "baseline_units_per_month"))
        return {k: scale * np.expm1(v) for k, v in self.predict_log_multiple(rows).items()}

    def _boosters(self):
        return [self.booster_]

    def _spec_extra(self) -> dict:
        return {"coverage": self.coverage_, "bin_edges": self.bin_edges_, "offsets": self.offsets_,
                "target": "ln((units_per_month_during + floor) / (baseline_units_per_month + floor))",
                "floor": SALES_FLOOR}

    def _restore(self, spec, boosters):
        (self.booster_,) = boosters
        self.coverage_, self.bin_edges_, self.offsets_ = spec["coverage"], spec["bin_edges"], spec["offsets"]


class PostingModel(_Model):
    """Whether an invited creator posts at all: a LightGBM classifier on invitations (an invitation with "no content
    received" is a 0), from the offer against the creator's price per post, the way of paying and who the creator
    is. The trees start from a logistic regression on the offer ratio, size and way of paying (`logit_`), so that the
    chance keeps falling with the offer below anything the trees' leaves resolve: an offer worth a thousandth of a
    star's price is not as likely to be taken as one worth a twentieth. The trees may only raise the chance with the
    offer (a monotone constraint)."""

    kind = "posting"
    defaults = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 100,
                "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0}
    BASE_TERMS = ("log_offer_ratio", "log_followers")  # numbers of the base; plus one level per way of paying

    def _base_design(self, X: np.ndarray) -> np.ndarray:
        """The logistic base's columns: its numbers (missing: the training median) and one flag per way of paying,
        written into one matrix (no column of it copied twice: a million rows a request)."""
        design = np.empty((len(X), len(self.BASE_TERMS) + len(F.COMPENSATIONS)))
        for k, (term, fill) in enumerate(zip(self.BASE_TERMS, self.logit_["fill"], strict=True)):
            design[:, k] = np.nan_to_num(X[:, self.features_.index(term)].astype(float), nan=fill)
        way = X[:, self.features_.index("compensation")]
        for code in range(len(F.COMPENSATIONS)):
            np.equal(way, code, out=design[:, len(self.BASE_TERMS) + code], casting="unsafe")
        return design

    def base(self, X: np.ndarray) -> np.ndarray:
        """The logistic base's log-odds of each row of `X` (0 for a model saved without one)."""
        if getattr(self, "logit_", None) is None:
            return np.zeros(len(X))
        return self._base_design(X) @ np.asarray(self.logit_["coef"], dtype=float) + float(self.logit_["intercept"])

    def fit(self, rows: pd.DataFrame, posted: np.ndarray, calibration: tuple[pd.DataFrame, np.ndarray],
            progress=None) -> PostingModel:
        from sklearn.linear_model import LogisticRegression

        self.features_ = F.feature_names(self.kind)
        X, Xc = self._X(rows), self._X(calibration[0])
        y, yc = np.asarray(posted, dtype=float), np.asarray(calibration[1], dtype=float)
        self.logit_ = {"fill": [float(np.nanmedian(X[:, self.features_.index(t)])) for t in self.BASE_TERMS]}
        glm = LogisticRegression(C=10.0, max_iter=500).fit(self._base_design(X), y)
        self.logit_.update(coef=[float(c) for c in glm.coef_[0]], intercept=float(glm.intercept_[0]))
        monotone = [1 if f == "log_offer_ratio" else 0 for f in self.features_]
        self.booster_ = _train({**self._params(self.defaults), "monotone_constraints": monotone}, X, y,
                               self.features_, F.categorical_names(self.kind), self.rounds, valid=(Xc, yc),
                               init_score=self.base(X), valid_init=self.base(Xc), progress=progress)
        return self

    def predict(self, rows: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """Probability that each invited creator posts."""
        X = self._X(rows) if X is None else X
        return 1.0 / (1.0 + np.exp(-(self._raw(X) + self.base(X))))

    def _boosters(self):
        return [self.booster_]

    def _spec_extra(self) -> dict:
        return {"logit": self.logit_, "logit_terms": list(self.BASE_TERMS)}

    def _restore(self, spec, boosters):
        (self.booster_,) = boosters
        self.logit_ = spec.get("logit")


MODELS = {"engagement": EngagementModel, "conversion": ConversionModel, "lift": LiftModel, "posting": PostingModel}
