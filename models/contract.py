"""The data contract: the columns of `creators`, `posts`, `campaigns`, `invitations` and `sales`, their units, and
their validation.

`TABLES` is the single description of the contract, with the ranges and text rules of `models.bounds`. From it come
the pandera schemas, the parsing of raw values (CSV strings or typed Parquet columns), the error report, the API's
creator schemas (serving/schemas.py) and the column reference in `data/README.md`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from microlift.models.bounds import BOUNDS, COUNTRY, ID, TEXT, TextRule
from microlift.models.features import CREATOR_HISTORY
from microlift.models.vocabulary import (
    COMPENSATIONS,
    FORMATS,
    MARKETPLACES,
    NICHES,
    PLATFORMS,
    VOCABULARIES,
    canonical,
    normalize_niche,
)

# The days a date or date-time may fall on: any campaign, post or sale of this business (and within what a
# nanosecond timestamp holds).
FIRST_DAY, LAST_DAY = "1990-01-01", "2199-12-31"


@dataclass(frozen=True)
class Column:
    """One contract column: its kind (id, str, int, float, bool, datetime, date), unit and accepted values."""

    name: str
    kind: str
    unit: str
    description: str
    required: bool = True
    vocabulary: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False
    text: TextRule | None = None  # for free text (id, str without vocabulary): ID or TEXT unless given
    references: str | None = None  # the table whose key this id must name, when given

    @property
    def text_rule(self) -> TextRule | None:
        if self.vocabulary or self.kind not in ("id", "str"):
            return None
        return self.text or (ID if self.kind == "id" else TEXT)

    def accepted(self) -> str:
        """What this column accepts, in words, for error messages."""
        if self.vocabulary:
            return "one of " + ", ".join(self.vocabulary)
        if self.text_rule:
            return self.text_rule.words
        words = {"int": "a whole number", "float": "a finite number", "bool": "true/false (or 1/0, yes/no)",
                 "datetime": f"an ISO 8601 date-time from {FIRST_DAY} to {LAST_DAY}",
                 "date": f"an ISO 8601 date (YYYY-MM-DD) from {FIRST_DAY} to {LAST_DAY}"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{words} between {self.minimum:g} and {self.maximum:g}"
        if self.minimum is not None:
            return f"{words} >= {self.minimum:g}"
        return words


@dataclass(frozen=True)
class Table:
    """A contract table. `key`: the column, or the columns together, that name one row (each value or combination
    once). `when_given`: optional columns checked when a file has them and left out when it has not (the history a
    catalog keeps beside each creator). `closed`: any other column is an error, not ignored."""

    name: str
    key: str | tuple[str, ...]
    columns: tuple[Column, ...]
    when_given: tuple[Column, ...] = ()
    closed: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns + self.when_given if c.name == name)

    def known(self) -> list[str]:
        return [c.name for c in self.columns + self.when_given]

    def only_columns(self) -> str:
        """What a closed table accepts as columns, in words."""
        return f"only the {self.name} columns: {', '.join(self.known())}"

    def closest(self, name: str) -> str | None:
        """The contract column an unknown column name most likely means: the only column it begins, in any case
        ("Plat" -> "platform"), else the closest by `difflib` ("follower_count" -> "followers"); None when none is
        close."""
        spelled = "_".join(str(name).strip().lower().replace("-", " ").split())
        known = self.known()
        starting = [c for c in known if len(spelled) >= 3 and c.startswith(spelled)]
        if len(starting) == 1:
            return starting[0]
        found = difflib.get_close_matches(spelled, known, n=1, cutoff=0.6)
        return found[0] if found else None

    def unknown_column(self, name: str) -> str:
        """In words: "unknown column 'follower_count' (did you mean 'followers'?)"."""
        guess = self.closest(name)
        return f"unknown column {str(name)!r}" + (f" (did you mean {guess!r}?)" if guess else "")


def _within(name: str) -> dict[str, float]:
    low, high = BOUNDS[name]
    return {"minimum": low, "maximum": high}


C = Column
CREATORS = Table("creators", "creator_id", (
    C("creator_id", "id", "", "Creator's id or handle; unique.", unique=True),
    C("platform", "str", "", "Where the creator posts.", vocabulary=PLATFORMS),
    C("niche", "str", "", "Main topic; unknown labels map to `other`.", vocabulary=NICHES),
    C("followers", "int", "accounts", "Followers (subscribers on YouTube).", **_within("followers")),
    C("following", "int", "accounts", "Accounts the creator follows.", required=False, **_within("following")),
    C("posts_count", "int", "posts", "Posts published in total.", required=False, **_within("posts_count")),
    C("country", "str", "ISO 3166-1 alpha-2", "Creator's main audience country.", required=False, text=COUNTRY),
    C("avg_views", "float", "views per post", "Mean views of recent posts.", required=False,
      **_within("avg_views")),
    C("audience_quality", "float", "share 0-1", "Share of followers that are real, active accounts.",
      required=False, **_within("audience_quality")),
    C("sponsored_share", "float", "share 0-1", "Share of recent posts that are sponsored.",
      required=False, **_within("sponsored_share")),
    C("price_per_post", "float", "USD per post", "The creator's asking price for one sponsored post.",
      required=False, **_within("price_per_post")),
    C("posts_per_week", "float", "posts per week", "Recent posting frequency.", required=False,
      **_within("posts_per_week")),
), when_given=tuple(C(name, "float", "", f"History: {meaning}. Empty when unknown.", required=False, **_within(name))
                    for name, meaning in CREATOR_HISTORY.items()), closed=True)
POSTS = Table("posts", "post_id", (
    C("post_id", "id", "", "Post id; unique.", unique=True),
    C("creator_id", "id", "", "Author; must exist in `creators`.", references="creators"),
    C("posted_at", "datetime", "UTC", "When the post went out."),
    C("engagements", "int", "interactions", "Likes + comments + shares + saves. May be left out when "
      "`likes`, `comments`, `shares` and/or `saves` are given: it is then their sum.", minimum=0),
    C("likes", "int", "interactions", "Likes (summed into `engagements` when that is absent).",
      required=False, minimum=0),
    C("comments", "int", "interactions", "Comments.", required=False, minimum=0),
    C("shares", "int", "interactions", "Shares.", required=False, minimum=0),
    C("saves", "int", "interactions", "Saves.", required=False, minimum=0),
    C("sponsored", "bool", "", "Paid, gifted or affiliate content (#ad, paid partnership, code)."),
    C("format", "str", "", "Post format.", required=False, vocabulary=FORMATS),
    C("campaign_id", "id", "", "Campaign this post belongs to; must exist in `campaigns`; empty for "
      "organic posts.", required=False, references="campaigns"),
    C("impressions", "int", "views", "Times the post was shown (views on TikTok/YouTube).",
      required=False, minimum=0),
    C("clicks", "int", "clicks", "Clicks on the post's link or code.", required=False, minimum=0),
    C("conversions", "int", "units", "Attributed units sold through this post (link or code).",
      required=False, minimum=0),
    C("cost", "float", "USD", "What the brand paid for this post (fee, gift value or commission).",
      required=False, minimum=0),
))
CAMPAIGNS = Table("campaigns", "campaign_id", (
    C("campaign_id", "id", "", "Campaign id; unique.", unique=True),
    C("niche", "str", "", "The product's niche; unknown labels map to `other`.", vocabulary=NICHES),
    C("product_price", "float", "USD per unit", "Retail price of the product.", minimum=0.01),
    C("start_date", "date", "", "First day of the campaign."),
    C("weeks", "float", "weeks", "Length of the campaign.", minimum=0.5, maximum=104),
    C("budget", "float", "USD", "Total spend on creators (fees, gifts, shipping, commissions).", minimum=0),
    C("baseline_units_per_month", "float", "units per month", "Sales before the campaign.", minimum=0),
    C("compensation", "str", "", "How creators are paid: gifting (product + shipping), paid (fee per "
      "post) or affiliate (commission per sale).", vocabulary=COMPENSATIONS),
    C("margin", "float", "share 0-1", "Gross margin on the product.", required=False, minimum=0, maximum=1),
    C("marketplace", "str", "", "Where the product sells.", required=False, vocabulary=MARKETPLACES),
    C("discount_code", "bool", "", "Creators share a discount code.", required=False),
    C("gift_value", "float", "USD per creator", "Value of product sent to each creator (gifting).",
      required=False, minimum=0),
    C("commission_rate", "float", "share 0-1", "Commission on each attributed sale (affiliate).",
      required=False, minimum=0, maximum=1),
    C("units_per_month_during", "float", "units per month", "Observed sales during the campaign.",
      required=False, minimum=0),
    C("units_per_month_after", "float", "units per month", "Observed sales in the month after it.",
      required=False, minimum=0),
))
INVITATIONS = Table("invitations", ("campaign_id", "creator_id"), (
    C("campaign_id", "id", "", "Campaign the creator was invited to; must exist in `campaigns`.",
      references="campaigns"),
    C("creator_id", "id", "", "Invited creator; must exist in `creators`. Each (campaign_id, creator_id) pair "
      "appears once.", references="creators"),
    C("posted", "bool", "", "Whether any content was received; false for an invited creator who never posted "
      "(\"no content received\" in a seeding platform's export)."),
    C("fee", "float", "USD per post", "Fee offered per post (paid campaigns); empty means the creator's "
      "`price_per_post`.", required=False, **_within("price_per_post")),
))
SALES = Table("sales", ("campaign_id", "date"), (
    C("campaign_id", "id", "", "Campaign whose product sold these units; must exist in `campaigns`. May be left out "
      "of one campaign's results: it is then that campaign's.", references="campaigns"),
    C("date", "date", "", "The day, or the first day of the week, the units were sold in: one row per day or per "
      "week, evenly spaced, before, during and after the campaign. Each (campaign_id, date) appears once."),
    C("units", "float", "units", "Units of the product sold that day or week (a Shopify or Amazon sales report "
      "reduced to date and units).", minimum=0),
))
del C
TABLES: dict[str, Table] = {t.name: t for t in (CREATORS, POSTS, CAMPAIGNS, INVITATIONS, SALES)}
ENGAGEMENT_PARTS = ("likes", "comments", "shares", "saves")


@dataclass(frozen=True)
class Failure:
    """One rejected value: where it is (file, 1-based data row, column), what it was and what is accepted."""

    file: str
    row: int | None
    column: str
    value: object
    accepted: str
    # What happened, in words, when "got <value>" would not say it (a column missing, an unknown column).
    message: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}" + (f" row {self.row}" if self.row is not None else "")
        if self.message:
            return f"{where}: {self.message}; expected {self.accepted}"
        value = self.value.item() if isinstance(self.value, np.generic) else self.value
        return f"{where}, column {self.column}: got {value!r}; expected {self.accepted}"


class ContractError(ValueError):
    """Raised when data breaks the contract. Carries every failure found, not just the first.

    `checkable`: from `validate`, the parsed table with the values of its failing rows left out of the checks
    across tables (`for_cross_checks`); None when the file lacks a column those checks read."""

    def __init__(self, failures: list[Failure], limit: int = 50, checkable: pd.DataFrame | None = None):
        self.failures = failures
        self.checkable = checkable
        self.headline = f"{len(failures)} problem(s) in the data"
        lines = [str(f) for f in failures[:limit]]
        if len(failures) > limit:
            lines.append(f"... and {len(failures) - limit} more")
        super().__init__(f"{self.headline}:\n  " + "\n  ".join(lines))


@dataclass
class Validated:
    """A table that passed the contract, with its warnings (e.g. unknown niches mapped to `other`)."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _blank(raw: pd.Series) -> pd.Series:
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        return raw.isna() | raw.astype("str").str.strip().isin(["", "nan", "NaN", "None", "null", "<NA>"])
    return raw.isna()


def _parse(column: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse raw values into the column's type. Returns (parsed, mask of values that could not be parsed)."""
    blank = _blank(raw)
    if column.kind in ("id", "str"):
        if pd.api.types.is_float_dtype(raw):  # ids read as numbers: 12.0 -> "12"
            raw = raw.map(lambda v: f"{v:.0f}" if pd.notna(v) and float(v).is_integer() else v)
        parsed = raw.astype("str").str.strip().astype(object).where(~blank, None)
        if column.vocabulary:  # each spelling once: a column holds few distinct values
            kind = column.name if column.name in VOCABULARIES else None
            spelled = {v: (canonical(kind, v) if kind else None) or v.lower() for v in parsed.dropna().unique()}
            parsed = parsed.map(spelled).astype(object).where(~blank, None)
        elif column.text_rule and column.text_rule.upper:
            parsed = parsed.map(lambda v: v.upper() if v else v)
        return parsed, pd.Series(False, index=raw.index)
    if column.kind in ("int", "float"):
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype("float64")
        parsed = pd.to_numeric(raw.where(~blank, np.nan), errors="coerce").astype("float64")
        bad = ~blank & (parsed.isna() | ~np.isfinite(parsed.fillna(0.0)))
        if column.kind == "int":
            bad |= parsed.notna() & np.isfinite(parsed) & (parsed != np.round(parsed))
        return parsed.where(~bad, np.nan), bad
    if column.kind == "bool":
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype("boolean"), pd.Series(False, index=raw.index)
        text = raw.astype("str").str.strip().str.lower().str.replace(r"\.0$", "", regex=True)
        parsed = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        parsed[text.isin(_TRUE)] = True
        parsed[text.isin(_FALSE)] = False
        bad = ~blank & parsed.isna()
        return parsed, bad
    # datetime / date
    parsed = pd.to_datetime(raw.where(~blank, None), errors="coerce", utc=True, format="ISO8601")
    parsed = parsed.dt.tz_convert(None)
    if column.kind == "date":
        parsed = parsed.dt.normalize()
    # a year like 9999 parses, then no nanosecond timestamp holds it: outside the accepted span it is a failure
    within = (parsed >= pd.Timestamp(FIRST_DAY)) & (parsed < pd.Timestamp(LAST_DAY) + pd.Timedelta(days=1))
    parsed = parsed.where(within)
    bad = ~blank & parsed.isna()
    return parsed.astype("datetime64[ns]"), bad


def _checks(column: Column) -> list[pa.Check]:
    checks = []
    rule = column.text_rule
    if rule:
        checks.append(pa.Check(lambda values: (values.str.len() <= rule.max_length)
                               & values.str.fullmatch(rule.pattern).fillna(False).astype(bool), error=rule.words))
    if column.vocabulary:
        checks.append(pa.Check.isin(list(column.vocabulary), error=column.accepted()))
    if column.minimum is not None:
        checks.append(pa.Check.ge(column.minimum, error=column.accepted()))
    if column.maximum is not None:
        checks.append(pa.Check.le(column.maximum, error=column.accepted()))
    return checks


def schema(table: Table, given: tuple[str, ...] = ()) -> pa.DataFrameSchema:
    """The pandera schema of a parsed table (every contract column present, optional ones nullable; of the
    `when_given` columns those named in `given`).

    Text columns carry no dtype check: parsing already made them strings (pandas may store them as
    `object` or as its own string dtype).
    """
    dtypes = {"id": None, "str": None, "int": "float64", "float": "float64", "bool": "boolean",
              "datetime": "datetime64[ns]", "date": "datetime64[ns]"}
    columns = {
        c.name: pa.Column(dtypes[c.kind], checks=_checks(c), nullable=not c.required, unique=c.unique,
                          required=True)
        for c in _present(table, given)
    }
    unique = None if isinstance(table.key, str) else list(table.key)  # a composite key: each combination once
    return pa.DataFrameSchema(columns, strict=False, unique=unique, name=table.name)


def _present(table: Table, given) -> tuple[Column, ...]:
    return table.columns + tuple(c for c in table.when_given if c.name in given)


_CHECK_WORDS = {"not_nullable": None, "field_uniqueness": "a unique value (this one appears more than once)",
                "multiple_fields_uniqueness": "a unique combination of these columns (this one appears more than once)"}


def validate(table_name: str, raw: pd.DataFrame, source: str | None = None) -> Validated:
    """Parse and check one table. Raises ContractError listing every failure; never returns a partial table.

    Columns outside the contract are failures in a closed table (creators: a misspelt `follower_count` must not
    pass unnoticed); elsewhere they are ignored with a warning that names them."""
    table = TABLES[table_name]
    source = source or f"{table_name} table"
    raw = raw.reset_index(drop=True)
    failures: list[Failure] = []
    warnings: list[str] = []
    if table_name == "posts" and "engagements" not in raw.columns:
        parts = [p for p in ENGAGEMENT_PARTS if p in raw.columns]
        if parts:
            numeric = {p: pd.to_numeric(raw[p], errors="coerce") for p in parts}
            raw = raw.assign(engagements=sum(numeric[p].fillna(0) for p in parts).where(
                pd.concat(numeric.values(), axis=1).notna().any(axis=1)))
    missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
    for name in missing:
        failures.append(Failure(source, None, name, "(column missing)", "a column named " + name,
                                f"column {name} missing"))
    known = table.known()
    extra = [str(name) for name in raw.columns if name not in known]
    if extra and table.closed:
        accepted = table.only_columns()
        failures.extend(Failure(source, None, name, "(not a column of the contract)", accepted,
                                table.unknown_column(name)) for name in extra)
    elif extra:
        warnings.append(f"{source}: column(s) not in the contract, ignored: "
                        f"{', '.join(_ignored(table, name) for name in extra[:20])}")
    parsed = pd.DataFrame(index=raw.index)
    unparsable: set[tuple[int, str]] = set()
    given = tuple(c.name for c in table.when_given if c.name in raw.columns)
    for column in _present(table, given):
        values = raw[column.name] if column.name in raw.columns else pd.Series(None, index=raw.index,
                                                                              dtype=object)
        series, bad = _parse(column, values)
        for idx in np.flatnonzero(bad.to_numpy()):
            failures.append(Failure(source, int(idx) + 1, column.name, values.iloc[idx], column.accepted()))
            unparsable.add((int(idx), column.name))
        if column.name == "niche":
            present = series.notna()
            mapped, n_unknown = normalize_niche(series[present].tolist())
            if n_unknown:
                unknown = sorted({v for v, m in zip(series[present], mapped, strict=True)
                                  if m == "other" and v != "other"})
                warnings.append(f"{source}: {n_unknown} row(s) with an unknown niche mapped to 'other' "
                                f"({', '.join(map(repr, unknown[:10]))})")
            series = series.copy()
            series[present] = mapped
        parsed[column.name] = series
    if missing:  # the rest of the checks would only repeat the missing column on every row
        raise ContractError(failures, checkable=for_cross_checks(table, parsed, failures, missing))
    try:
        schema(table, given).validate(parsed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        repeated: set[int] = set()
        for case in cases.itertuples(index=False):
            row = None if pd.isna(case.index) else int(case.index)
            if row is not None and (row, case.column) in unparsable:
                continue
            if case.check == "multiple_fields_uniqueness":  # reported per column of the key: one failure per row
                repeated.add(row)
                continue
            column = table.column(case.column)
            accepted = _CHECK_WORDS.get(case.check, case.check)
            if case.check == "not_nullable":
                accepted = f"a value (required); {column.accepted()}"
            failures.append(Failure(source, None if row is None else row + 1, case.column,
                                    raw[case.column].iloc[row] if row is not None and case.column in raw
                                    else case.failure_case, accepted))
        if repeated:
            key = list(table.key)
            complete = parsed[key].notna().all(axis=1)  # a missing key value is already a failure of its own
            failures.extend(Failure(source, row + 1, ", ".join(key), tuple(raw[c].iloc[row] for c in key),
                                    _CHECK_WORDS["multiple_fields_uniqueness"])
                            for row in sorted(repeated) if complete.iloc[row])
    if failures:
        failures.sort(key=lambda f: (f.row or 0, f.column))
        raise ContractError(failures, checkable=for_cross_checks(table, parsed, failures, missing))
    return Validated(parsed, warnings)


def _ignored(table: Table, name: str) -> str:
    guess = table.closest(name)
    return name + (f" (did you mean {guess!r}?)" if guess else "")


def for_cross_checks(table: Table, parsed: pd.DataFrame, failures: list[Failure],
                     missing: list[str]) -> pd.DataFrame | None:
    """A table that failed its own checks, ready for the checks across tables: every row keeps its key (so ids
    naming it are not reported as unknown), a failing row names nothing else (its references and its `posted`
    are blanked, so it is left out). None when a key column is missing: no other table can be checked against it.
    Row positions are kept: failures across tables name the file's rows."""
    key = [table.key] if isinstance(table.key, str) else list(table.key)
    if set(key) & set(missing):
        return None
    rows = sorted({f.row - 1 for f in failures if f.row is not None})
    out = parsed.copy()
    if rows:
        for column in table.columns:
            if column.references is not None or column.name == "posted":
                position = out.columns.get_loc(column.name)
                out.iloc[rows, position] = pd.NA if column.kind == "bool" else None
    return out


def check_references(tables: dict[str, pd.DataFrame], sources: dict[str, str],
                     unreadable: Collection[str] = ()) -> list[Failure]:
    """Rules across tables: ids naming a creator or campaign missing from its table (every column with
    `references`), and invitations marked not posted whose creator has posts in that campaign.

    A table absent from `tables` knows no id; one named in `unreadable` (a required table missing, or a file
    without its key column: a failure already) is not checked against, since its ids are unknown, not absent."""
    failures: list[Failure] = []
    for name, table in TABLES.items():
        frame = tables.get(name)
        if frame is None:
            continue
        for column in table.columns:
            if column.references is None or column.references in unreadable:
                continue
            target = column.references
            known = tables[target][TABLES[target].key] if target in tables else pd.Series([], dtype=object)
            values = frame[column.name]
            dangling = values.notna() & ~values.isin(known)
            where = sources.get(target, target)
            for idx in np.flatnonzero(dangling.to_numpy()):
                failures.append(Failure(sources.get(name, name), int(idx) + 1, column.name, values.iloc[idx],
                                        f"a {column.name} present in {where}"))
    return failures + _posted_false_with_posts(tables, sources)


_PAIR = list(INVITATIONS.key)  # an invitation's campaign and creator; a campaign post has both too


def _campaign_posts(posts: pd.DataFrame) -> pd.DataFrame:
    """Per (campaign_id, creator_id): the first campaign post's id and the number of posts."""
    made = posts[posts["campaign_id"].notna()]
    return made.groupby(_PAIR, sort=False)["post_id"].agg(first_post="first", n_posts="size")


def _posted_false_with_posts(tables: dict[str, pd.DataFrame], sources: dict[str, str]) -> list[Failure]:
    """Invitations marked not posted ("no content received") although the posts table holds such posts."""
    invitations, posts = tables.get("invitations"), tables.get("posts")
    if invitations is None or posts is None:
        return []
    invitations = invitations.reset_index(drop=True)
    silent = invitations[invitations["posted"].eq(False).fillna(False).astype(bool)]
    found = silent.join(_campaign_posts(posts), on=_PAIR, how="inner")
    where = sources.get("posts", "posts")
    failures = []
    for row, hit in zip(found.index, found.itertuples(index=False), strict=True):
        more = f" (and {hit.n_posts - 1} more)" if hit.n_posts > 1 else ""
        failures.append(Failure(sources.get("invitations", "invitations"), int(row) + 1, "posted", hit.posted,
                                f"true: {where} holds post {hit.first_post}{more} of this creator in this campaign"))
    return failures


def uninvited_posts(tables: dict[str, pd.DataFrame], sources: dict[str, str]) -> list[str]:
    """Warnings for campaign posts whose creator is not among the campaign's invitations. Campaigns without
    invitation rows are not checked: an export may list the invitations of some campaigns only."""
    invitations, posts = tables.get("invitations"), tables.get("posts")
    if invitations is None or posts is None:
        return []
    posts = posts.reset_index(drop=True)
    listed = posts[posts["campaign_id"].isin(invitations["campaign_id"])]
    invited = pd.MultiIndex.from_frame(invitations[_PAIR])
    outside = listed[~pd.MultiIndex.from_frame(listed[_PAIR]).isin(invited)]
    if outside.empty:
        return []
    examples = ", ".join(f"row {post.Index + 1} (post {post.post_id} by {post.creator_id} in {post.campaign_id})"
                         for post in outside.head(5).itertuples())
    return [f"{sources.get('posts', 'posts')}: {len(outside)} campaign post(s) by creators not invited to that "
            f"campaign in {sources.get('invitations', 'invitations')}: {examples}"]


def markdown_reference() -> str:
    """The contract as Markdown tables (one per table), as printed in data/README.md."""
    out = []
    for table in TABLES.values():
        out.append(f"### `{table.name}`\n\n| column | required | unit | accepted | meaning |\n|---|---|---|---|---|")
        for c in table.columns + table.when_given:
            out.append(f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.unit or '-'} | {c.accepted()} "
                       f"| {c.description} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
