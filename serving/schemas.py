"""Typed request and response bodies of the HTTP API; they also make the OpenAPI document.

Field names, vocabularies and ranges come from the domain modules (the brief, the data contract, the feature
module), so the API accepts exactly what the engine and the catalog accept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict

from microlift.models import planning, workload
from microlift.models.bounds import COUNTRY, TextRule
from microlift.models.bounds import ID as ID_RULE
from microlift.models.brief import LIMITS, OBJECTIVES, Brief
from microlift.models.contract import TABLES
from microlift.models.economics import DEFAULT_COMMISSION
from microlift.models.errors import PlanningError
from microlift.models.vocabulary import COMPENSATIONS, MARKETPLACES, NICHES, PLATFORMS, TIERS

MAX_CANDIDATES = 10_000
MAX_TOP_K = 1_000
MAX_PAGE = 1_000
MAX_LIST = 100  # creator ids in must_include / exclude, countries, ...


def _text(rule: TextRule) -> Any:
    """Text following one of the contract's rules (ids, free text, country codes)."""
    kind = Annotated[str, Field(min_length=1, max_length=rule.max_length, pattern=rule.pattern)]
    return Annotated[kind, AfterValidator(str.upper)] if rule.upper else kind


ID = _text(ID_RULE)


class Strict(BaseModel):
    """Unknown fields, NaN and infinities are refused; no coercion (true is not 1, "5" is not a number)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def _literal(values: tuple[str, ...]) -> Any:
    return Literal[values]  # type: ignore[valid-type]


# --- the brief ------------------------------------------------------------------------------------------------

_BRIEF_DOCS = {
    "niche": "The product's niche.", "product_price": "Retail price (USD per unit).",
    "baseline_units_per_month": "Sales before the campaign (units per month).",
    "compensation": "How creators are paid: gifting (product + shipping), paid (fee per post), affiliate "
                    "(commission per sale).",
    "marketplace": "Where the product sells.", "discount_code": "Creators share a discount code.",
    "gift_value": "USD of product sent to each creator (default: the product price).",
    "commission_rate": f"Affiliate commission per sale (share 0-1; default {DEFAULT_COMMISSION:g}).",
    "shipping_cost": "USD to ship a gift.", "weeks": "Length of the campaign (weeks).",
    "margin": "Gross margin (share 0-1); profit and ROI use revenue when not given.",
    "platforms": "Only creators on these platforms are candidates.",
    "tiers": "Only creators of these tiers are candidates.",
}


def _brief_model() -> type[Strict]:
    defaults = {f: getattr(Brief, f) for f in ("compensation", "marketplace", "discount_code", "shipping_cost",
                                               "weeks")}
    fields: dict[str, Any] = {}
    for name, doc in _BRIEF_DOCS.items():
        required = name in ("niche", "product_price", "baseline_units_per_month")
        default = ... if required else defaults.get(name)
        if name in LIMITS:
            low, high = LIMITS[name]
            kind: Any = Annotated[float, Field(ge=low, le=high)]
        elif name == "niche":
            kind = _literal(NICHES)
        elif name == "compensation":
            kind = _literal(COMPENSATIONS)
        elif name == "marketplace":
            kind = _literal(MARKETPLACES)
        elif name == "discount_code":
            kind = bool
        elif name == "platforms":
            kind = Annotated[list[_literal(PLATFORMS)], Field(min_length=1, max_length=len(PLATFORMS))]
        else:
            kind = Annotated[list[_literal(TIERS)], Field(min_length=1, max_length=len(TIERS))]
        if not required and default is None:
            kind = kind | None
        fields[name] = (kind, Field(default, description=doc))
    return create_model("Brief", __base__=Strict, __doc__="A campaign brief.", **fields)


BriefIn = _brief_model()


# --- creators (inline candidates, imports, catalog rows) -------------------------------------------------------

def _creator_fields(strict: bool) -> dict[str, tuple[Any, str, bool]]:
    """name -> (type, description, required) of a creator: the contract's creator columns, then the history
    columns, with the contract's ranges and text rules when `strict`."""
    fields: dict[str, tuple[Any, str, bool]] = {}
    table = TABLES["creators"]
    for column in table.columns + table.when_given:
        if column.vocabulary:
            kind: Any = _literal(column.vocabulary)
        elif column.text_rule:
            kind = _text(column.text_rule) if strict else str
        else:
            number = int if column.kind == "int" else float
            bounds = {"ge": column.minimum, "le": column.maximum} if strict else {}
            kind = Annotated[number, Field(**{k: number(v) for k, v in bounds.items() if v is not None})]
        unit = f" ({column.unit})" if column.unit else ""
        fields[column.name] = (kind if column.required else kind | None, column.description + unit, column.required)
    return fields


def _creator_model(name: str, doc: str, base: type[BaseModel], strict: bool) -> type[BaseModel]:
    fields = {name: (kind, Field(... if required else None, description=description))
              for name, (kind, description, required) in _creator_fields(strict).items()}
    return create_model(name, __base__=base, __doc__=doc, **fields)


def _candidate_type() -> type:
    """A creator as a strictly validated plain dict: what ranking and forecasting read from many inline
    candidates (validated faster than model objects, and read by key). Optional fields may be absent."""
    fields = {name: Annotated[kind, Field(description=description)] if required
              else NotRequired[Annotated[kind, Field(description=description)]]
              for name, (kind, description, required) in _creator_fields(strict=True).items()}
    candidate = TypedDict("Candidate", fields)  # type: ignore[misc]
    candidate.__doc__ = "A candidate creator: the data contract's creator fields plus optional history."
    candidate.__pydantic_config__ = Strict.model_config  # type: ignore[attr-defined]
    return candidate


Candidate = _candidate_type()
CreatorIn = _creator_model("CreatorIn", "A creator: the data contract's creator fields plus optional history.",
                           Strict, strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


Creator = _creator_model("Creator", "A creator of the catalog.", _Out, strict=False)


class CatalogFilters(Strict):
    """Which catalog creators are candidates (all of them when empty)."""

    platforms: list[_literal(PLATFORMS)] | None = Field(None, min_length=1, max_length=len(PLATFORMS))
    niches: list[_literal(NICHES)] | None = Field(None, min_length=1, max_length=len(NICHES))
    tiers: list[_literal(TIERS)] | None = Field(None, min_length=1, max_length=len(TIERS))
    min_followers: int | None = Field(None, ge=0, le=10**12)
    max_followers: int | None = Field(None, ge=0, le=10**12)
    max_price_per_post: float | None = Field(None, ge=0, le=1e9, description="USD per post")
    min_audience_quality: float | None = Field(None, ge=0, le=1, description="share 0-1")
    countries: list[Annotated[str, Field(pattern=COUNTRY.pattern)]] | None = Field(
        None, min_length=1, max_length=MAX_LIST, description="ISO 3166-1 alpha-2 audience countries")


# --- rank ------------------------------------------------------------------------------------------------------

Candidates = Annotated[list[Candidate], Field(min_length=1, max_length=MAX_CANDIDATES)]  # type: ignore[valid-type]


class RankRequest(Strict):
    """Rank candidates for a brief: inline `candidates`, or catalog creators matching `filters`."""

    brief: BriefIn  # type: ignore[valid-type]
    candidates: Candidates | None = Field(None, description=f"At most {MAX_CANDIDATES:,} creators.")
    filters: CatalogFilters | None = None
    objective: _literal(OBJECTIVES) = "profit"
    top_k: int = Field(50, ge=1, le=MAX_TOP_K)
    budget: float | None = Field(None, ge=0, le=LIMITS["budget"][1],
                                 description="USD; each creator is valued by what it adds to the roster this "
                                 "budget buys (without it, to a roster of about 200 creators)")


class Band(_Out):
    p10: float
    p50: float
    p90: float


class ModelVersions(_Out):
    """Registered versions that produced the answer."""

    engagement: str
    conversion: str
    lift: str
    posting: str
    alias: str
    version_set: str


class RankedCreator(_Out):
    rank: int
    creator_id: str
    platform: str
    niche: str
    tier: str
    followers: int
    price_per_post: float = Field(description="USD per post (asking price, or the tier norm when unknown)")
    expected_posts: float
    engagements: Band
    conversions: Band
    revenue: Band
    cost: Band
    profit: Band
    roi: Band
    reasons: list[str]


class RankResponse(_Out):
    objective: str
    candidates: int
    models: ModelVersions
    creators: list[RankedCreator]


# --- forecast --------------------------------------------------------------------------------------------------

class LimitsIn(Strict):
    max_per_tier: dict[_literal(TIERS), Annotated[int, Field(ge=0, le=10**6)]] = {}
    max_per_platform: dict[_literal(PLATFORMS), Annotated[int, Field(ge=0, le=10**6)]] = {}
    max_per_niche: dict[_literal(NICHES), Annotated[int, Field(ge=0, le=10**6)]] = {}
    min_creators: int = Field(0, ge=0, le=workload.MAX_ROSTER)
    must_include: list[ID] = Field([], max_length=MAX_LIST)
    exclude: list[ID] = Field([], max_length=MAX_CANDIDATES)


class ForecastRequest(Strict):
    """Choose a roster for the budget and forecast what it does to sales.

    The work is bounded whatever the catalog's size: a roster (and each roster of the budget curve) holds at most
    {roster:,} creators, a forecast takes at most {draws:,} Monte Carlo draws, the curve has {points} budgets, and
    a request that works past the service's deadline answers 503 with Retry-After. A budget that would buy more
    than the cap, or more than every eligible candidate, is answered with the largest roster and says so in
    `notes`.
    """

    brief: BriefIn  # type: ignore[valid-type]
    budget: float = Field(..., ge=0, le=LIMITS["budget"][1], description="USD")
    candidates: Candidates | None = Field(None, description=f"At most {MAX_CANDIDATES:,} creators.")
    filters: CatalogFilters | None = None
    limits: LimitsIn | None = None
    target_roas: float = Field(1.0, gt=0, le=1000, description="suggest the budget where marginal revenue x "
                                                               "margin per dollar falls to this")
    draws: int = Field(1000, ge=workload.MIN_DRAWS, le=workload.MAX_DRAWS, description="Monte Carlo draws")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class RosterCreator(_Out):
    creator_id: str
    platform: str
    niche: str
    tier: str
    followers: float
    price: float
    cost: float
    posting: float
    posts: float
    engagements: float
    conversions: float


class Split(_Out):
    creators: int
    cost: float


class Roster(_Out):
    creators: list[RosterCreator]
    total_cost: float
    by_tier: dict[str, Split]
    by_platform: dict[str, Split]


class Outlook(_Out):
    baseline_units_per_month: float
    units_per_month_during: Band
    lift_multiple: Band | None = Field(description="units during / baseline; null for a new product (baseline 0), "
                                       "which has no sales to multiply (the answer's notes say so)")
    incremental_units_per_month: Band
    incremental_units: Band
    incremental_revenue: Band
    cost: Band
    roi: Band | None
    p_roi_positive: float
    creators_posting: Band
    draws: int


class CurvePoint(_Out):
    budget: float
    creators: int
    expected_cost: float
    incremental_units_per_month: Band
    incremental_revenue: Band
    roi: Band | None
    p_roi_positive: float
    marginal_roas: float | None = None


class SuggestedBudget(_Out):
    budget: float | None
    target_roas: float
    note: str


class ForecastResponse(_Out):
    candidates: int
    models: ModelVersions
    budget: float
    roster: Roster
    forecast: Outlook
    budget_curve: list[CurvePoint]
    suggested_budget: SuggestedBudget
    slopes: dict[str, float] | None = None
    notes: list[str] = Field([], description="When a cap or the candidates, not the budget, decided the roster")


ForecastRequest.__doc__ = ForecastRequest.__doc__.format(roster=workload.MAX_ROSTER, draws=workload.MAX_DRAWS,
                                                         points=workload.CURVE_POINTS)


# --- catalog ---------------------------------------------------------------------------------------------------

class CreatorQuery(Strict):
    """Query string of GET /v1/creators (lists as repeated or comma-separated values)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)  # query values arrive as text

    platform: list[_literal(PLATFORMS)] | None = Field(None, max_length=MAX_LIST)
    niche: list[_literal(NICHES)] | None = Field(None, max_length=MAX_LIST)
    tier: list[_literal(TIERS)] | None = Field(None, max_length=MAX_LIST)
    min_followers: int | None = Field(None, ge=0, le=10**12)
    max_followers: int | None = Field(None, ge=0, le=10**12)
    max_price_per_post: float | None = Field(None, ge=0, le=1e9)
    min_audience_quality: float | None = Field(None, ge=0, le=1)
    country: list[Annotated[str, Field(pattern=COUNTRY.pattern)]] | None = Field(None, max_length=MAX_LIST)
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10**9)

    def filters(self) -> CatalogFilters:
        once = lambda values: list(dict.fromkeys(values)) if values else None  # noqa: E731 - repeats are harmless
        return CatalogFilters(platforms=once(self.platform), niches=once(self.niche), tiers=once(self.tier),
                              min_followers=self.min_followers, max_followers=self.max_followers,
                              max_price_per_post=self.max_price_per_post,
                              min_audience_quality=self.min_audience_quality, countries=once(self.country))


class CreatorPage(_Out):
    total: int
    limit: int
    offset: int
    creators: list[Creator]  # type: ignore[valid-type]


class ImportResponse(_Out):
    received: int
    created: int
    updated: int
    unchanged: int
    catalog_size: int
    revision: int


# --- operations ------------------------------------------------------------------------------------------------

class Health(_Out):
    status: Literal["ok"]


class RateLimitState(_Out):
    """How the answering worker counts requests for the rate limit."""

    limit_per_minute: int = Field(description="requests per minute per caller; 0: off")
    shared: bool = Field(description="true: counted in Redis, shared by all workers; false: each worker counts on "
                                     "its own (no REDIS_URL, or Redis failing)")
    detail: str


class Readiness(_Out):
    ready: bool
    models: ModelVersions | None
    catalog_creators: int | None
    database: str
    last_reload: dict[str, Any] | None
    rate_limit: RateLimitState


class VersionInfo(_Out):
    service: str
    feature_version: int
    models: ModelVersions | None


class ReloadRequest(Strict):
    """No fields: the service reloads its configured registry alias, never a path or URI from a request."""


class ReloadResponse(_Out):
    outcome: Literal["reloaded", "unchanged", "refused"]
    detail: str
    models: ModelVersions


class FieldError(_Out):
    field: str
    value: Any = None
    accepted: str
    message: str


class Problem(_Out):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = []


# --- campaign files and the planning service -------------------------------------------------------------------

def _campaign_file() -> type[Strict]:
    """The campaign file of `microlift rank` / `forecast`: a request body without candidates or filters (they
    come from --candidates), with every option of both requests; the same fields and rules as over HTTP."""
    fields: dict[str, Any] = {}
    for model in (ForecastRequest, RankRequest):  # rank last: its budget is optional
        for name, info in model.model_fields.items():
            if name not in ("candidates", "filters"):
                fields[name] = (info.annotation, info)
    return create_model("CampaignFile", __base__=Strict, __doc__=_campaign_file.__doc__, **fields)


CampaignFile = _campaign_file()
FLAT_OPTIONS = tuple(name for name in CampaignFile.model_fields if name != "brief")


def campaign_body(data: Any) -> tuple[dict, list[str]]:
    """A campaign file's JSON in the request shape, and a deprecation note for each old spelling it used: brief
    fields side by side with the options, or `budget` inside the brief (budget belongs beside the brief, as in
    `POST /v1/forecast`)."""
    if not isinstance(data, dict):
        return data, []
    notes = []
    if "brief" not in data:
        notes.append("a campaign file with the brief's fields at the top level is deprecated: put them under "
                     '"brief" and keep budget and the options beside it, as in POST /v1/forecast')
        data = {"brief": {k: v for k, v in data.items() if k not in FLAT_OPTIONS},
                **{k: v for k, v in data.items() if k in FLAT_OPTIONS}}
    brief = data.get("brief")
    if isinstance(brief, dict) and "budget" in brief:
        if "budget" in data:
            return {**data, "brief": brief}, notes  # both: the brief's budget is refused as an unknown field
        notes.append('"budget" inside the brief is deprecated: put it beside the brief, as in POST /v1/forecast')
        data = {**data, "brief": {k: v for k, v in brief.items() if k != "budget"}, "budget": brief["budget"]}
    return data, notes


def rank_request(body: RankRequest | CampaignFile) -> planning.RankRequest:  # type: ignore[valid-type]
    """The planning service's request from a validated HTTP body or campaign file."""
    return planning.RankRequest(planning.brief(body.brief.model_dump(exclude_none=True)), body.objective,
                                body.top_k, body.budget)


def forecast_request(body: ForecastRequest | CampaignFile) -> planning.ForecastRequest:  # type: ignore[valid-type]
    if body.budget is None:
        raise PlanningError("budget", None, "a number >= 0 (USD) beside the brief")
    limits = planning.limits(body.limits.model_dump()) if body.limits is not None else None
    return planning.ForecastRequest(planning.brief(body.brief.model_dump(exclude_none=True)), body.budget, limits,
                                    body.draws, body.seed, body.target_roas)
