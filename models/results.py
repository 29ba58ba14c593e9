"""One campaign's results, as a brand reports them after it ran: who was invited and who posted, each post with its
engagements and attributed units, and the product's unit sales per day or per week before, during and after.

The parts are checked with the data contract's own tables and rules (`models.contract`), so a results import and a
dataset folder accept and refuse the same values. Sales are required (the measured lift is computed from them);
invitations and posts are optional.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from microlift.models.contract import (
    TABLES,
    ContractError,
    Failure,
    check_references,
    uninvited_posts,
    validate,
)
from microlift.models.datasets import read_raw
from microlift.models.errors import PlanningError
from microlift.models.measurement import frequency

PARTS = ("invitations", "posts", "sales")
# Bounds of one import: a campaign of 100,000 posts is already far beyond any influencer campaign, and five years
# of daily sales is more pre-period than a counterfactual needs; both keep one import to seconds.
MAX_ROWS = 100_000
MAX_SALES_ROWS = 5 * 366


def new_campaign_id() -> str:
    """A fresh campaign id: "cmp-" and 12 random hex characters."""
    return f"cmp-{secrets.token_hex(6)}"


@dataclass(frozen=True, eq=False)
class Results:
    """One campaign's validated results. `sales`: campaign_id, date, units, sorted by date; `invitations` and
    `posts`: the contract's columns (None when not given); `warnings`: what was accepted but deserves a look."""

    campaign_id: str
    sales: pd.DataFrame
    invitations: pd.DataFrame | None = None
    posts: pd.DataFrame | None = None
    warnings: tuple[str, ...] = ()

    def parts(self) -> dict[str, pd.DataFrame]:
        """The parts given, by name."""
        found = {"invitations": self.invitations, "posts": self.posts, "sales": self.sales}
        return {name: frame for name, frame in found.items() if frame is not None}

    @property
    def attributed_units(self) -> float | None:
        """Units sold through the posts' links and codes (sum of `conversions`); None when no post reports any."""
        if self.posts is None or self.posts["conversions"].notna().sum() == 0:
            return None
        return float(self.posts["conversions"].sum())

    def digest(self) -> str:
        """sha256 of the results' content, the same whatever the order of rows or columns in the files: importing
        the same results twice is recognised as such."""
        content = {name: canonical(name, frame) for name, frame in sorted(self.parts().items())}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def for_campaign(self, campaign_id: str) -> Results:
        """The same results filed under another campaign id."""
        moved = {name: frame.assign(campaign_id=campaign_id) for name, frame in self.parts().items()}
        return replace(self, campaign_id=campaign_id, **moved)


def canonical(name: str, frame: pd.DataFrame) -> str:
    """A part's rows as JSON text, columns in contract order and rows in key order."""
    table = TABLES[name]
    columns = [c for c in table.known() if c in frame.columns]
    key = [table.key] if isinstance(table.key, str) else list(table.key)
    ordered = frame[columns].sort_values(key, kind="stable").reset_index(drop=True)
    return ordered.to_json(orient="values", date_format="iso", double_precision=15)


def read_part(path: Path) -> pd.DataFrame:
    """One part of a campaign's results from a file: CSV or Parquet (as a dataset's tables are read), or JSON (a
    list of records, one object per row)."""
    if path.suffix.lower() != ".json":
        return read_raw(path)
    records = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected a JSON list of records (one object per row), e.g. "
                         '[{"date": "2026-03-01", "units": 41}, ...]')
    return pd.DataFrame.from_records(records)


def results_from(parts: dict[str, pd.DataFrame], campaign_id: str | None,
                 sources: dict[str, str] | None = None) -> Results:
    """Validate one campaign's results (`parts`: invitations, posts, sales, as read from CSV/Parquet/JSON files or
    JSON records). A missing campaign_id column, or empty cells in it, mean `campaign_id`; a posts part without
    `sponsored` (or an empty cell) means sponsored. With `campaign_id` None, the results are for a new campaign and
    get a fresh id.

    Raises ContractError listing every failure (part, row, column, why), and PlanningError when a part is larger
    than one import takes."""
    campaign_id = campaign_id or new_campaign_id()
    sources = {name: (sources or {}).get(name, name) for name in PARTS}
    unknown = sorted(set(parts) - set(PARTS))
    failures = [Failure(name, None, "-", "(not a part of campaign results)", "one of " + ", ".join(PARTS),
                        f"unknown part {name!r}") for name in unknown]
    if parts.get("sales") is None:
        failures.append(Failure(sources["sales"], None, "-", "(missing)", "the product's unit sales per day or "
                                "per week (date, units) before, during and after the campaign", "no sales given"))
    _within_bounds(parts)
    frames: dict[str, pd.DataFrame] = {}
    checkable: dict[str, pd.DataFrame] = {"campaigns": pd.DataFrame({"campaign_id": [campaign_id]})}
    warnings: list[str] = []
    for name in PARTS:
        if parts.get(name) is None:
            continue
        try:
            checked = validate(name, _completed(name, parts[name], campaign_id), source=sources[name])
        except ContractError as exc:
            failures.extend(exc.failures)
            if exc.checkable is not None:
                checkable[name] = exc.checkable
            continue
        frames[name] = checkable[name] = checked.frame
        warnings.extend(checked.warnings)
    where = {**sources, "campaigns": f"campaign {campaign_id}"}
    failures.extend(check_references(checkable, where, unreadable=("creators",)))
    if "sales" in checkable:  # the dates that parsed, even when some units did not
        failures.extend(_irregular_sales(checkable["sales"], sources["sales"]))
    if failures:
        raise ContractError(failures)
    warnings.extend(uninvited_posts(frames, where))
    sales = frames["sales"].sort_values("date", kind="stable").reset_index(drop=True)
    return Results(campaign_id, sales, frames.get("invitations"), frames.get("posts"), tuple(warnings))


def _within_bounds(parts: dict[str, pd.DataFrame]) -> None:
    for name, limit in (("invitations", MAX_ROWS), ("posts", MAX_ROWS), ("sales", MAX_SALES_ROWS)):
        frame = parts.get(name)
        if frame is not None and len(frame) > limit:
            what = "5 years of daily sales" if name == "sales" else "one campaign"
            raise PlanningError(name, len(frame), f"at most {limit:,} rows per import ({what})",
                                f"{name}: {len(frame):,} rows; one import takes at most {limit:,} ({what})")


def _completed(name: str, raw: pd.DataFrame, campaign_id: str) -> pd.DataFrame:
    """The part with what it may leave out filled in: its campaign's id, and `sponsored` true for posts."""
    raw = raw.reset_index(drop=True)
    if "campaign_id" in raw.columns:
        given = raw["campaign_id"].astype(object)
        raw = raw.assign(campaign_id=given.where(~_empty(given), campaign_id))
    else:
        raw = raw.assign(campaign_id=campaign_id)
    if name == "posts":
        given = raw["sponsored"].astype(object) if "sponsored" in raw.columns else pd.Series(None, index=raw.index)
        raw = raw.assign(sponsored=given.where(~_empty(given), True))
    return raw


def _empty(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().isin(["", "nan", "None", "null", "<NA>"])


def _irregular_sales(sales: pd.DataFrame, source: str) -> list[Failure]:
    """Sales dates that are not one per day or one per week (duplicates and dates that do not parse are the
    contract's own failures, not repeated here)."""
    dates = sales["date"].dropna()
    if len(dates) < len(sales) or dates.duplicated().any():
        return []
    try:
        frequency(dates)
    except PlanningError as exc:
        return [Failure(source, None, "date", exc.value, exc.accepted)]
    return []
