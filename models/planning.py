"""The planning service: the one way to rank candidates or forecast a budget.

Typed requests in, plain answers out (the shape the HTTP API documents), and a `PlanningError` naming the field,
the value and what is accepted for anything that cannot be planned. The HTTP views, the `microlift rank` and
`microlift forecast` commands and the benches all plan through here, under the same bounds (`workload`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pandas as pd

from microlift.models import workload
from microlift.models.brief import Brief
from microlift.models.candidates import score, score_with_matrices
from microlift.models.errors import PlanningError
from microlift.models.forecast import forecast as forecast_budget
from microlift.models.ranking import rank as rank_candidates
from microlift.models.roster import Limits
from microlift.models.settings import MODEL_KINDS

DEFAULT_DRAWS = 1000
DEFAULT_TOP_K = 50


@dataclass(frozen=True)
class RankRequest:
    """Rank candidates for a brief by `objective`; `budget` (USD), when given, values each creator by what it adds
    to the roster that budget buys (`forecast.budget_slopes`)."""

    brief: Brief
    objective: str = "profit"
    top_k: int = DEFAULT_TOP_K
    budget: float | None = None


@dataclass(frozen=True)
class ForecastRequest:
    """Choose a roster for `budget` (USD) under `limits`; forecast it and the budget-response curve."""

    brief: Brief
    budget: float
    limits: Limits | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    target_roas: float = 1.0


class RankResult(TypedDict):
    """What `rank` answers (serving.schemas.RankResponse documents each field)."""

    objective: str
    candidates: int
    models: dict
    creators: list[dict]


class ForecastResult(TypedDict):
    """What `forecast` answers (serving.schemas.ForecastResponse documents each field)."""

    candidates: int
    models: dict
    budget: float
    roster: dict
    forecast: dict
    budget_curve: list[dict]
    suggested_budget: dict
    notes: list[str]
    slopes: NotRequired[dict]  # the lift model's slopes the roster was chosen with (absent for an empty roster)


def brief(fields: dict) -> Brief:
    """A validated brief; a wrong field is a PlanningError named within the brief ("brief.niche")."""
    try:
        return Brief.from_mapping(fields)
    except PlanningError as exc:
        raise exc.within("brief") from None


def limits(fields: dict | None) -> Limits | None:
    """Roster limits from their JSON form (lists for must_include and exclude)."""
    if not fields:
        return None
    return Limits(**{k: tuple(v) if k in ("must_include", "exclude") else v for k, v in fields.items()
                     if v is not None})


def require_models(models: dict, kinds=MODEL_KINDS) -> None:
    missing = [kind for kind in kinds if kind not in models]
    if missing:
        raise LookupError(f"planning needs the {', '.join(missing)} model(s); the loaded version set lacks them")


def rank(request: RankRequest, creators: pd.DataFrame, models: dict, versions: dict,
         deadline: float | None = None) -> RankResult:
    """The candidates ranked, with ranges and reasons (at most `top_k`)."""
    require_models(models)
    with workload.deadline(deadline):
        scored, matrices = score_with_matrices(request.brief, creators, models)
        workload.check("scoring the candidates")
        ranked = rank_candidates(request.brief, creators, scored, models, request.objective, request.top_k,
                                 request.budget, matrices)
    return RankResult(objective=request.objective, candidates=len(creators), models=versions, creators=ranked)


def forecast(request: ForecastRequest, creators: pd.DataFrame, models: dict, versions: dict,
             deadline: float | None = None) -> ForecastResult:
    """The roster for the budget, its forecast, the budget-response curve and the suggested budget."""
    require_models(models)
    with workload.deadline(deadline):
        scored = score(request.brief, creators, models)
        workload.check("scoring the candidates")
        out = forecast_budget(request.brief, scored, models["lift"], request.budget, request.limits,
                              draws=request.draws, seed=request.seed, target_roas=request.target_roas)
    return ForecastResult(candidates=len(creators), models=versions, **out)
