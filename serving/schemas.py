"""Typed request and response bodies of the HTTP API; they also make the OpenAPI document.

Field names, vocabularies and ranges come from the domain modules (the brief, the data contract, the feature
module), so the API accepts exactly what the engine and the catalog accept.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WrapValidator,
    create_model,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from microlift.models import planning, workload
from microlift.models.bounds import COUNTRY, TEXT, TextRule
from microlift.models.bounds import ID as ID_RULE
from microlift.models.brief import LIMITS, OBJECTIVE_ALIASES, OBJECTIVES, Brief
from microlift.models.contract import FIRST_DAY, LAST_DAY, TABLES
from microlift.models.economics import DEFAULT_COMMISSION
from microlift.models.errors import PlanningError
from microlift.models.vocabulary import NICHES, PLATFORMS, TIERS, VOCABULARIES, canonical

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


def _spelled(kind: str, value: Any) -> Any:
    """A value of vocabulary `kind` in its own spelling (`vocabulary.canonical`: case, spaces, synonyms, aliases);
    anything else as given, for the literal to refuse naming the accepted values."""
    found = canonical(kind, value)
    return value if found is None else found


def _speller(kind: str) -> Any:
    """`_spelled` for one vocabulary, returning a value already in its own spelling at once: it runs on every
    value of every inline candidate (10,000 of them), where the full reading would double the validation time."""
    own = frozenset(VOCABULARIES[kind])

    def spelled(value: Any) -> Any:
        return value if value.__class__ is str and value in own else _spelled(kind, value)

    return spelled


def _vocabulary(kind: str) -> Any:
    """One value of vocabulary `kind`, accepted in any spelling `vocabulary.canonical` reads; the schema (and the
    OpenAPI document) lists the canonical values."""
    return Annotated[_literal(VOCABULARIES[kind]), BeforeValidator(_speller(kind))]


def _keys_spelled(kind: str, value: Any) -> Any:
    """A mapping keyed by values of vocabulary `kind`, its keys in their own spelling; two keys naming the same
    value are refused (one would silently replace the other)."""
    if not isinstance(value, dict):
        return value
    out: dict = {}
    for key, item in value.items():
        spelled = _spelled(kind, key)
        if spelled in out:
            first = next(k for k in value if _spelled(kind, k) == spelled)
            raise PydanticCustomError("duplicate_key", "each {kind} once ({first} and {key} both name {spelled})",
                                      {"kind": kind, "first": repr(first), "key": repr(key), "spelled": repr(spelled)})
        out[spelled] = item
    return out


def _limit_of(kind: str) -> Any:
    """A limit per value of vocabulary `kind` (e.g. at most so many creators per tier)."""
    return Annotated[dict[_vocabulary(kind), Annotated[int, Field(ge=0, le=10**6)]],
                     BeforeValidator(partial(_keys_spelled, kind))]


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
        elif name in ("niche", "compensation", "marketplace"):
            kind = _vocabulary(name)
        elif name == "discount_code":
            kind = bool
        elif name == "platforms":
            kind = Annotated[list[_vocabulary("platform")], Field(min_length=1, max_length=len(PLATFORMS))]
        else:
            kind = Annotated[list[_vocabulary("tier")], Field(min_length=1, max_length=len(TIERS))]
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
            kind: Any = _vocabulary(column.name)
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


def _creator_columns(value: Any, handler: Any) -> Any:
    """A list of creators read as rows of the contract's creators table: a field outside it is an unknown column,
    named with the column it most likely means (`contract.Table.unknown_column`), as in a creators file; every
    other error as found."""
    try:
        return handler(value)
    except ValidationError as exc:
        table, details = TABLES["creators"], []
        for error in exc.errors():
            detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
            if "ctx" in error:
                detail["ctx"] = error["ctx"]
            if error["type"] == "extra_forbidden" and len(error["loc"]) == 2:
                detail = InitErrorDetails(type=PydanticCustomError("unknown_column", "{words}", {
                    "words": table.unknown_column(error["loc"][1]), "accepted": table.only_columns()}),
                    loc=error["loc"], input=error["input"])
            details.append(detail)
        raise ValidationError.from_exception_data(exc.title, details) from None


# Imported creators; inline candidates (up to 10,000 per request) are spared this wrapper, which reads the whole list
# into Python objects first (about 65% more validation time for 10,000 of them) and would only improve the words for
# an unknown key.
CreatorRows = Annotated[list[CreatorIn], WrapValidator(_creator_columns)]  # type: ignore[valid-type]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


Creator = _creator_model("Creator", "A creator of the catalog.", _Out, strict=False)


class CatalogFilters(Strict):
    """Which catalog creators are candidates (all of them when empty)."""

    platforms: list[_vocabulary("platform")] | None = Field(None, min_length=1, max_length=len(PLATFORMS))
    niches: list[_vocabulary("niche")] | None = Field(None, min_length=1, max_length=len(NICHES))
    tiers: list[_vocabulary("tier")] | None = Field(None, min_length=1, max_length=len(TIERS))
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
    objective: _literal(OBJECTIVES + tuple(OBJECTIVE_ALIASES)) | None = Field(
        None, description="what the ranking sorts on (expected values): profit and roi need brief.margin (revenue is "
        "not profit); net_revenue is incremental revenue less cost, roas incremental revenue per dollar; "
        "attributed_units (also accepted as its older name, conversions) and engagement. Default: profit with a "
        "margin, net_revenue without")
    top_k: int = Field(50, ge=1, le=MAX_TOP_K)
    budget: float | None = Field(None, ge=0, le=LIMITS["budget"][1],
                                 description="USD; each creator is valued by what it adds to the roster this "
                                 "budget buys (without it, to a roster of about 200 creators)")


class Band(_Out):
    """An uncertain quantity: `mean` is its expected value (what adds up across creators or campaigns; totals use
    it), p10/p50/p90 its 10th, 50th and 90th percentiles (a skewed count's median can be 0 while its mean is not)."""

    mean: float
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
    engagements: Band = Field(description="engagements with the creator's campaign posts, over the campaign")
    attributed_units: Band = Field(description="units bought through the creator's own discount code or link over "
                                   "the campaign (the conversion model): what a brand's codes and links would count")
    incremental_revenue: Band = Field(description="USD: the creator's stand-alone share of the campaign's sales lift "
                                      "(the lift model's value of its engaged audience and its attributed units, so "
                                      "the marketplace halo and word of mouth are in it) times the product's price. "
                                      "It is not attributed_units x price: most of a campaign's lift is not bought "
                                      "through codes, and an audience that cares little about the product adds less")
    cost: Band = Field(description="USD: gift and shipping, the fee if they post, commission on attributed units")
    net_revenue: Band = Field(description="USD: incremental revenue less cost")
    roas: Band = Field(description="return on ad spend: incremental revenue per dollar of expected cost")
    profit: Band | None = Field(description="USD: incremental revenue x brief.margin less cost; null without a "
                                "margin (revenue is not profit)")
    roi: Band | None = Field(description="return on investment: profit per dollar of expected cost; null without a "
                             "margin")
    reasons: list[str]


class RankResponse(_Out):
    objective: str = Field(description="what the ranking sorted on (the default when none was asked)")
    margin: float | None = Field(description="the brief's gross margin; null when not given")
    candidates: int
    models: ModelVersions
    creators: list[RankedCreator]
    notes: list[str] = Field([], description="e.g. why profit and ROI are null, or why no creator is eligible")


# --- forecast --------------------------------------------------------------------------------------------------

class LimitsIn(Strict):
    max_per_tier: _limit_of("tier") = {}
    max_per_platform: _limit_of("platform") = {}
    max_per_niche: _limit_of("niche") = {}
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
    target_roas: float | None = Field(None, gt=0, le=1000, description="suggest the budget where the marginal ROAS "
                                      "(incremental revenue per extra dollar) falls to this; default 1 / margin "
                                      "(break-even on profit) with a margin, 1 without")
    draws: int = Field(1000, ge=workload.MIN_DRAWS, le=workload.MAX_DRAWS, description="Monte Carlo draws")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    brand: ID | None = Field(None, description="whose campaign this is: the brand's measured campaigns calibrate the "
                             "forecast (or, when it has none, the niche's across brands once there are enough)")
    calibrate: bool = Field(True, description="false: the models' forecast alone, whatever has been measured")


class RosterCreator(_Out):
    creator_id: str
    platform: str
    niche: str
    tier: str
    followers: float
    price: float
    cost: float
    posting: float = Field(description="chance the creator posts when invited")
    posts: float = Field(description="expected posts")
    engagements: float = Field(description="expected engagements")
    attributed_units: float = Field(description="expected units bought through the creator's code or link")


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
    incremental_units: Band = Field(description="over the campaign's weeks")
    incremental_revenue: Band = Field(description="USD over the campaign: incremental units x product price")
    cost: Band
    roas: Band | None = Field(description="return on ad spend: incremental revenue / cost; null if nothing is spent")
    p_revenue_above_cost: float | None = Field(description="chance the incremental revenue exceeds the cost (ROAS > 1)")
    roi: Band | None = Field(description="return on investment: (incremental revenue x margin - cost) / cost; null "
                             "without brief.margin (revenue is not profit) or if nothing is spent")
    p_roi_positive: float | None = Field(description="chance the campaign pays for itself in profit; null without "
                                         "a margin")
    margin: float | None = Field(description="the brief's gross margin; null when not given")
    creators_posting: Band
    draws: int


class CurvePoint(_Out):
    budget: float
    creators: int
    expected_cost: float
    incremental_units_per_month: Band
    incremental_revenue: Band
    roas: Band | None
    p_revenue_above_cost: float | None
    roi: Band | None
    p_roi_positive: float | None
    marginal_roas: float | None = Field(None, description="expected incremental revenue per extra dollar of "
                                        "expected cost, from the budget before")


class SuggestedBudget(_Out):
    budget: float | None
    target_roas: float
    note: str


class Cap(_Out):
    """What, other than the budget, decided the roster: the eligible catalog (every creator worth adding is in) or
    the most creators one plan may hold."""

    by: Literal["catalog", "roster_size"]
    spend: float = Field(description="USD the capped roster costs")
    creators: int


class CalibrationOut(_Out):
    """What measured campaigns say about this forecast (`level` none: nothing measured informs it)."""

    level: Literal["brand", "niche", "none"]
    key: str | None = Field(description="the brand or niche")
    campaigns: int = Field(description="measured campaigns that inform it")
    shift: float = Field(description="posterior mean of ln(measured / forecast) over those campaigns")
    shift_sd: float
    scale: float = Field(description="factor on how widely a campaign lands around its forecast (1: as the models "
                         "say; under 1 narrower)")
    prior_sd: float | None = Field(description="the lift model's residual spread: the prior sd of the shift")
    multiplier: dict[str, float] | None = Field(description="exp(shift): p10/p50/p90 of what the units are "
                                                "multiplied by")
    models_incremental_units: Band = Field(description="the models' own forecast of incremental units over the "
                                           "campaign, before this calibration: what a kept plan's measured lift is "
                                           "compared with when it calibrates later forecasts")
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
    cap: Cap | None = Field(None, description="set when the catalog or the roster cap, not the budget, decided "
                            "the roster")
    notes: list[str] = Field([], description="When a cap or the candidates, not the budget, decided the roster; "
                             "why ROI is null; why no creator is eligible")
    calibration: CalibrationOut


ForecastRequest.__doc__ = ForecastRequest.__doc__.format(roster=workload.MAX_ROSTER, draws=workload.MAX_DRAWS,
                                                         points=workload.CURVE_POINTS)


# --- campaigns: plans, results, measurement, track record ------------------------------------------------------

MAX_RESULT_ROWS = 100_000
FIRST, LAST = dt.date.fromisoformat(FIRST_DAY), dt.date.fromisoformat(LAST_DAY)  # the contract's span of days
MAX_SALES_ROWS = 5 * 366 + 31  # five years of days


class CampaignIn(ForecastRequest):
    """Keep a forecast as a campaign plan: the service forecasts the request as POST /v1/forecast does and stores
    the brief, the budget, the roster and the forecast as answered, with the model version set. Results imported
    later are measured against it and scored in the track record."""

    name: Annotated[str, Field(min_length=1, max_length=TEXT.max_length, pattern=TEXT.pattern)] | None = None
    start_date: dt.date | None = Field(None, ge=FIRST, le=LAST, description="first day of the campaign "
                                       "(YYYY-MM-DD); may also come with the results")


class ResultsIn(Strict):
    """What happened in a campaign (data/README.md, "Campaign results"): who was invited and whether they posted,
    each post with its engagements and attributed units (`conversions`), and the product's unit sales per day or
    per week before, during and after the campaign (`date`, `units`: what a Shopify or Amazon report reduces to).
    Rows follow the data contract's `invitations`, `posts` and `sales` tables; `campaign_id` may be left out."""

    invitations: list[dict[str, Any]] | None = Field(None, max_length=MAX_RESULT_ROWS)
    posts: list[dict[str, Any]] | None = Field(None, max_length=MAX_RESULT_ROWS)
    sales: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_SALES_ROWS)
    start_date: dt.date | None = Field(None, ge=FIRST, le=LAST, description="first day of the campaign, when the "
                                       "plan lacks it")
    weeks: float | None = Field(None, ge=0.5, le=104, description="length, when the plan lacks it")
    unplanned: bool = Field(False, description="results of a campaign never planned here: stored and measured, "
                            "never compared with a forecast; needs brief, start_date and weeks")
    brief: BriefIn | None = None  # type: ignore[valid-type]
    brand: ID | None = None
    replace: bool = Field(False, description="replace results already imported for the campaign (otherwise "
                          "different results are refused; the same results again change nothing)")


class TrackRecordQuery(Strict):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)

    brand: ID | None = None


# --- catalog ---------------------------------------------------------------------------------------------------

class CreatorQuery(Strict):
    """Query string of GET /v1/creators (lists as repeated or comma-separated values)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)  # query values arrive as text

    platform: list[_vocabulary("platform")] | None = Field(None, max_length=MAX_LIST)
    niche: list[_vocabulary("niche")] | None = Field(None, max_length=MAX_LIST)
    tier: list[_vocabulary("tier")] | None = Field(None, max_length=MAX_LIST)
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


class ImportQuery(Strict):
    """Query string of POST /v1/creators/import."""

    model_config = ConfigDict(extra="forbid", strict=False)  # query values arrive as text

    replace_history: bool = Field(False, description=(
        "A stored creator whose platform changes, or whose followers move by more than 2x either way, is likely "
        "another account under the same id. false (default): its stored history (hist_*, track_* columns the file "
        "does not give) is kept and the answer's `warnings` names the row. true: that history is replaced by the "
        "file's history columns, or cleared when the file has none, and `warnings` says so per row."))


class ProfileChange(_Out):
    field: Literal["platform", "followers"]
    old: str | int
    new: str | int


class ImportWarning(_Out):
    """An imported creator that changed as if it were another account, and what became of its stored history."""

    creator_id: str
    changes: list[ProfileChange]
    history: Literal["kept", "replaced", "cleared"] = Field(
        description="kept: the stored history stays (replace_history=false); replaced: by the file's history "
                    "columns; cleared: the file has none")
    history_columns: list[str]
    message: str


class ImportResponse(_Out):
    received: int
    created: int
    updated: int
    unchanged: int
    catalog_size: int
    revision: int
    warnings: list[ImportWarning] = Field(description="one per stored creator whose platform changed or whose "
                                                      "followers moved by more than 2x, with a stored history")


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
                                body.top_k, body.budget, _scope(body))


def forecast_request(body: ForecastRequest | CampaignFile) -> planning.ForecastRequest:  # type: ignore[valid-type]
    if body.budget is None:
        raise PlanningError("budget", None, "a number >= 0 (USD) beside the brief")
    limits = planning.limits(body.limits.model_dump()) if body.limits is not None else None
    return planning.ForecastRequest(planning.brief(body.brief.model_dump(exclude_none=True)), body.budget, limits,
                                    body.draws, body.seed, body.target_roas, _scope(body))


def _scope(body) -> str:
    """The catalog filters of a request in words ("countries=[ZZ]"), for a note when they leave no one."""
    filters = getattr(body, "filters", None)
    if filters is None:
        return ""
    terms = []
    for name, value in filters.model_dump(exclude_none=True).items():
        terms.append(f"{name}=[{', '.join(map(str, value))}]" if isinstance(value, list) else f"{name}={value:g}"
                     if isinstance(value, float) else f"{name}={value}")
    return ", ".join(terms)
