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
from microlift.models.brief import Brief, resolve_objective
from microlift.models.calibration import Calibration
from microlift.models.candidates import score, score_with_matrices
from microlift.models.errors import PlanningError
from microlift.models.forecast import forecast as forecast_budget
from microlift.models.ranking import rank as rank_candidates
from microlift.models.roster import Limits
from microlift.models.rounding import rounded
from microlift.models.settings import MODEL_KINDS

DEFAULT_DRAWS = 1000
DEFAULT_TOP_K = 50


@dataclass(frozen=True)
class RankRequest:
    """Rank candidates for a brief by `objective`; `budget` (USD), when given, values each creator by what it adds
    to the roster that budget buys (`forecast.budget_slopes`)."""

    brief: Brief
    objective: str | None = None  # None: profit with a margin, net revenue without (`brief.resolve_objective`)
    top_k: int = DEFAULT_TOP_K
    budget: float | None = None
    scope: str = ""  # which candidates were asked for (e.g. the catalog filters), for a note when none is eligible


@dataclass(frozen=True)
class ForecastRequest:
    """Choose a roster for `budget` (USD) under `limits`; forecast it and the budget-response curve."""

    brief: Brief
    budget: float
    limits: Limits | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    target_roas: float | None = None  # None: break-even (`economics.break_even_roas`)
    scope: str = ""
    calibration: Calibration | None = None  # what the brand's measured campaigns say (`models.calibration`)


class RankResult(TypedDict):
    """What `rank` answers (serving.schemas.RankResponse documents each field)."""

    objective: str
    margin: float | None
    candidates: int
    models: dict
    creators: list[dict]
    notes: list[str]


class ForecastResult(TypedDict):
    """What `forecast` answers (serving.schemas.ForecastResponse documents each field)."""

    candidates: int
    models: dict
    budget: float
    roster: dict
    forecast: dict
    budget_curve: list[dict]
    suggested_budget: dict
    cap: dict | None
    notes: list[str]
    calibration: dict
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
    objective = resolve_objective(request.brief, request.objective)
    with workload.deadline(deadline):
        scored, matrices = score_with_matrices(request.brief, creators, models, ranges=False)  # ranges: shown
        workload.check("scoring the candidates")
        ranked = rank_candidates(request.brief, creators, scored, models, objective, request.top_k,
                                 request.budget, matrices, rounded=True)  # the creators rounded as built
    notes = ([] if ranked else [no_eligible_note(request.brief, request.scope, len(creators))]) \
        + money_notes(request.brief)
    answer = rounded(RankResult(objective=objective, margin=request.brief.margin, candidates=len(creators),
                                models=versions, creators=[], notes=notes))
    return answer | {"creators": ranked}


def forecast(request: ForecastRequest, creators: pd.DataFrame, models: dict, versions: dict,
             deadline: float | None = None) -> ForecastResult:
    """The roster for the budget, its forecast, the budget-response curve and the suggested budget."""
    require_models(models)
    with workload.deadline(deadline):
        scored = score(request.brief, creators, models, ranges=False)  # a forecast shows no creator's range
        workload.check("scoring the candidates")
        out = forecast_budget(request.brief, scored, models["lift"], request.budget, request.limits,
                              draws=request.draws, seed=request.seed, target_roas=request.target_roas,
                              calibration=request.calibration)
    if not out["roster"]["creators"] and request.budget > 0:
        out["notes"] = [no_eligible_note(request.brief, request.scope, len(creators))] + out["notes"]
    out["notes"] = out["notes"] + money_notes(request.brief)
    return rounded(ForecastResult(candidates=len(creators), models=versions, **out))


def money_notes(brief: Brief) -> list[str]:
    """Why profit and ROI are missing from an answer whose brief has no gross margin."""
    if brief.margin is not None:
        return []
    return ["no gross margin given (brief.margin): profit and ROI are null, since revenue is not profit; ROAS is "
            "incremental revenue per dollar spent and net revenue is incremental revenue less cost"]


def no_eligible_note(brief: Brief, scope: str, candidates: int) -> str:
    """Plain words for an answer with no eligible creator: which filters and brief fields left none."""
    terms = [scope] if scope else []
    terms += [f"brief.{name}=[{', '.join(getattr(brief, name))}]" for name in ("platforms", "tiers")
              if getattr(brief, name)]
    where = f" among {candidates:,} candidates" if candidates else ""
    return f"no eligible creator{where}: {'; '.join(terms) or 'no candidates'}"
