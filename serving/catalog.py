"""The creator catalog in SQL (SQLAlchemy 2.x Core): tables, migrations, all-or-nothing imports, and the
in-memory arrays that ranking reads."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from microlift.models.bounds import ID, TEXT
from microlift.models.contract import TABLES
from microlift.models.features import CREATOR_HISTORY
from microlift.models.vocabulary import tier_of

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SQL_TYPES = {"id": String(ID.max_length), "str": String(TEXT.max_length), "int": BigInteger(), "float": Float(),
              "bool": Boolean()}

metadata = MetaData()
creators = Table(
    "creators", metadata,
    *[Column(c.name, _SQL_TYPES[c.kind], primary_key=c.name == "creator_id", nullable=not c.required)
      for c in TABLES["creators"].columns],
    *[Column(name, Float(), nullable=True) for name in CREATOR_HISTORY],
    Index("ix_creators_platform_niche", "platform", "niche"),
    Index("ix_creators_followers", "followers"),
)
service_state = Table(
    "service_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("catalog_revision", BigInteger, nullable=False),
    Column("model_generation", BigInteger, nullable=False),
    Column("model_versions", Text, nullable=True),
    Column("last_reload", Text, nullable=True),
)
# Campaigns a planner kept (the plan: brief, budget, the forecast as answered, the model version set) and what they
# brought (invitations, posts, unit sales, the measured lift); serving/campaigns.py reads and writes them.
campaigns = Table(
    "campaigns", metadata,
    Column("id", String(ID.max_length), primary_key=True),
    Column("brand", String(ID.max_length), nullable=True),
    Column("name", String(ID.max_length), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("start_date", Date(), nullable=True),
    Column("weeks", Float(), nullable=True),
    Column("unplanned", Boolean(), nullable=False),
    Column("brief", Text(), nullable=False),
    Column("budget", Float(), nullable=True),
    Column("request", Text(), nullable=True),
    Column("answer", Text(), nullable=True),
    Column("model_versions", Text(), nullable=True),
    # the brief's niche and the forecast's incremental units over the campaign (a band; NULL without a forecast),
    # kept beside the whole answer so the track record reads a thousand campaigns without parsing their answers
    Column("niche", String(TEXT.max_length), nullable=True),
    *[Column(f"forecast_{q}", Float(), nullable=True) for q in ("mean", "p10", "p50", "p90")],
    # the models' own forecast of those units before any brand calibration: what a calibration compares with
    *[Column(f"models_{q}", Float(), nullable=True) for q in ("mean", "p10", "p50", "p90")],
    Column("results_digest", String(64), nullable=True),
    Column("imported_at", String(32), nullable=True),
    Index("ix_campaigns_brand", "brand"),
)


def _of_campaign() -> Column:
    return Column("campaign_id", String(ID.max_length), ForeignKey("campaigns.id", ondelete="CASCADE"),
                  primary_key=True)


campaign_invitations = Table(
    "campaign_invitations", metadata, _of_campaign(),
    Column("creator_id", String(ID.max_length), primary_key=True),
    Column("posted", Boolean(), nullable=False),
    Column("fee", Float(), nullable=True),
)
campaign_posts = Table(
    "campaign_posts", metadata, _of_campaign(),
    Column("post_id", String(ID.max_length), primary_key=True),
    Column("creator_id", String(ID.max_length), nullable=False),
    Column("posted_at", DateTime(), nullable=False),
    Column("engagements", BigInteger(), nullable=False),
    Column("sponsored", Boolean(), nullable=False),
    Column("format", String(TEXT.max_length), nullable=True),
    Column("impressions", BigInteger(), nullable=True),
    Column("clicks", BigInteger(), nullable=True),
    Column("conversions", BigInteger(), nullable=True),
    Column("cost", Float(), nullable=True),
    # the creator's followers when the post was merged into the catalog's track record (NULL: not merged, the
    # creator was not in the catalog), so that replacing the results takes out exactly what was added
    Column("creator_followers", Float(), nullable=True),
)
campaign_sales = Table(
    "campaign_sales", metadata, _of_campaign(),
    Column("date", Date(), primary_key=True),
    Column("units", Float(), nullable=False),
)
campaign_measurements = Table(
    "campaign_measurements", metadata, _of_campaign(),
    Column("status", String(16), nullable=False),
    Column("reason", Text(), nullable=True),
    Column("result", Text(), nullable=True),
    # the measured incremental units during the campaign (a band) and the attributed units, out of `result`
    *[Column(f"during_{q}", Float(), nullable=True) for q in ("mean", "p10", "p50", "p90")],
    Column("attributed_units", Float(), nullable=True),
    Column("measured_at", String(32), nullable=False),
)
COLUMNS = [c.name for c in creators.columns]
DATA_COLUMNS = COLUMNS[1:]


def engine_for(url: str) -> Engine:
    """An engine for the catalog URL; SQLite waits for locks and lets readers run beside a writer (WAL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database to the newest schema (no-op when it is there)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(_alembic(url), "head")


def at_head(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(_alembic(str(engine.url))).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


@dataclass(frozen=True)
class State:
    catalog_revision: int
    model_generation: int
    model_versions: str | None
    last_reload: str | None = None


class StateWatch:
    """Whether the shared state may have changed since the last look, for a worker that follows it on every request.

    SQLite counts the commits of every other connection, other processes' included (`PRAGMA data_version`): asked
    on a connection kept for it, the answer costs microseconds where reading the state costs a tenth of a
    millisecond. Any other database (or an in-memory SQLite) is always read."""

    def __init__(self, engine: Engine):
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = database if database and database != ":memory:" and not database.startswith("file:") else None
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._version: int | None = None

    def changed(self) -> bool:
        """False only when SQLite says nothing was committed since the last call that returned True."""
        if self._path is None:
            return True
        with self._lock:
            try:
                if self._connection is None or self._pid != os.getpid():  # a connection is not shared across a fork
                    self._connection = sqlite3.connect(f"file:{quote(self._path)}?mode=rw", uri=True, timeout=60,
                                                       check_same_thread=False)  # never creates the file
                    self._pid, self._version = os.getpid(), None
                version = self._connection.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                self._connection = self._version = None
                return True
            if version == self._version:
                return False
            self._version = version
            return True

    def forget(self) -> None:
        """The state read after the last True did not arrive: the next call says changed."""
        with self._lock:
            self._version = None


def read_state(engine: Engine) -> State:
    with engine.connect() as conn:
        row = conn.execute(select(service_state).where(service_state.c.id == 1)).one()
    return State(int(row.catalog_revision), int(row.model_generation), row.model_versions, row.last_reload)


def record_models(engine: Engine, versions_json: str, last_reload: str) -> int:
    """Tell every worker which model version set to serve now; returns the new generation."""
    with engine.begin() as conn:
        conn.execute(update(service_state).where(service_state.c.id == 1).values(
            model_generation=service_state.c.model_generation + 1, model_versions=versions_json,
            last_reload=last_reload))
        return int(conn.execute(select(service_state.c.model_generation)).scalar_one())


def record_reload(engine: Engine, last_reload: str) -> None:
    """What a reload that changed nothing (unchanged, refused) did, for every worker's /readyz."""
    with engine.begin() as conn:
        conn.execute(update(service_state).where(service_state.c.id == 1).values(last_reload=last_reload))


# --- imports ---------------------------------------------------------------------------------------------------

# A real account grows a few percent a month; followers doubling or halving between two imports of one id, or a
# move to another platform, more likely means another account under the same id, whose stored history (computed
# from the old account's posts) no longer describes it.
FOLLOWERS_JUMP = 2.0
HISTORY = list(CREATOR_HISTORY)


@dataclass(frozen=True)
class ProfileChange:
    """A stored creator's platform or followers as the import found them (`old`) and as the file gives them."""

    field: str
    old: str | int
    new: str | int


@dataclass(frozen=True)
class HistoryWarning:
    """An imported creator that looks like another account than the stored one, and what became of its stored
    history: `kept` (the file does not give it and the import was not asked to replace it), `replaced` (by the
    file's history columns) or `cleared` (the file has none)."""

    creator_id: str
    changes: tuple[ProfileChange, ...]
    history: str
    history_columns: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class ImportResult:
    received: int
    created: int
    updated: int
    unchanged: int
    catalog_size: int
    revision: int
    warnings: tuple[HistoryWarning, ...] = ()


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as plain Python values, NULL for missing."""
    out = frame[columns].astype(object)
    out = out.where(pd.notna(out), None)
    records = out.to_dict("records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, np.generic):
                record[key] = value.item()
    return records


def profile_changes(old, record: dict) -> list[ProfileChange]:
    """What says that `record` is another account than the stored row `old`: a new platform, or followers moved
    by more than FOLLOWERS_JUMP times either way."""
    changes = []
    if record["platform"] is not None and old.platform != record["platform"]:
        changes.append(ProfileChange("platform", old.platform, record["platform"]))
    if record["followers"] is not None:  # a required value missing is the database's NOT NULL error to raise
        before, after = int(old.followers), int(record["followers"])
        if max(before, after) > FOLLOWERS_JUMP * min(before, after):
            changes.append(ProfileChange("followers", before, after))
    return changes


def _history_warning(creator_id: str, changes: list[ProfileChange], stale: list[str], replace: bool,
                     record: dict) -> HistoryWarning:
    said = "; ".join(f"platform {c.old} -> {c.new}" if c.field == "platform"
                     else f"followers {c.old:,} -> {c.new:,} ({c.new / c.old:.3g}x)" for c in changes)
    if not replace:
        return HistoryWarning(creator_id, tuple(changes), "kept", tuple(stale),
                              f"{creator_id}: {said}; its stored history ({', '.join(stale)}) was kept. If this is "
                              "another account, clear it by importing the row in a creators file with empty "
                              "hist_*/track_* columns, or pass --replace-history (replace_history=true) with the "
                              "import that brings such a change")
    from_file = [c for c in HISTORY if record.get(c) is not None]
    cleared = [c for c in HISTORY if c not in from_file]
    if from_file:
        return HistoryWarning(creator_id, tuple(changes), "replaced", tuple(HISTORY),
                              f"{creator_id}: {said}; its stored history was replaced by the file's "
                              f"({', '.join(from_file)}" + (", the other history columns cleared)" if cleared else ")"))
    return HistoryWarning(creator_id, tuple(changes), "cleared", tuple(HISTORY),
                          f"{creator_id}: {said}; its stored history was cleared (the file gives none)")


def import_creators(engine: Engine, frame: pd.DataFrame, chunk: int = 2000,
                    replace_history: bool = False) -> ImportResult:
    """Upsert validated creators in one transaction: all rows or none. Columns absent from `frame` keep what is
    stored (so re-importing a plain creators file keeps each creator's history).

    A stored creator whose platform or followers change as if it were another account (`profile_changes`) while
    it keeps a stored history the file does not give is reported in `warnings`; with `replace_history`, that
    history is cleared instead (the file's history columns, when it has them, are stored as for every row). The
    comparison is with what is stored, so importing the same file again changes nothing and warns of nothing."""
    frame = frame.sort_values("creator_id", kind="stable")  # one lock order for concurrent imports
    given = [c for c in COLUMNS if c in frame.columns]
    absent = [c for c in HISTORY if c not in given]
    records = _records(frame, given)
    dialect = engine.dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise ValueError(f"catalog database {dialect!r} is not supported; use SQLite or PostgreSQL")
    created = updated = 0
    warnings: list[HistoryWarning] = []
    with engine.begin() as conn:
        _one_import_at_a_time(conn)
        for start in range(0, len(records), chunk):
            part = records[start:start + chunk]
            ids = [r["creator_id"] for r in part]
            existing = {row.creator_id: row for row in conn.execute(
                select(*[creators.c[c] for c in dict.fromkeys(given + ["platform", "followers"] + absent)])
                .where(creators.c.creator_id.in_(ids)))}
            changed, cleared = [], []
            for record in part:
                old = existing.get(record["creator_id"])
                if old is None:
                    created += 1
                    changed.append(record)
                    continue
                stale = [c for c in absent if getattr(old, c) is not None]
                changes = profile_changes(old, record) if stale else []
                if changes:
                    warnings.append(_history_warning(record["creator_id"], changes, stale, replace_history, record))
                if changes and replace_history:
                    updated += 1
                    cleared.append({**record, **dict.fromkeys(absent)})
                elif any(not _same(getattr(old, c), record[c]) for c in given):
                    updated += 1
                    changed.append(record)
            for rows, columns in ((changed, given), (cleared, given + absent)):
                if rows:
                    statement = insert(creators)
                    statement = statement.on_conflict_do_update(
                        index_elements=[creators.c.creator_id],
                        set_={c: statement.excluded[c] for c in columns if c != "creator_id"})
                    conn.execute(statement, rows)
        if created or updated:
            conn.execute(update(service_state).where(service_state.c.id == 1).values(
                catalog_revision=service_state.c.catalog_revision + 1))
        size = int(conn.execute(select(func.count()).select_from(creators)).scalar_one())
        revision = int(conn.execute(select(service_state.c.catalog_revision)).scalar_one())
    return ImportResult(len(records), created, updated, len(records) - created - updated, size, revision,
                        tuple(warnings))


def _one_import_at_a_time(conn) -> None:
    """Take the catalog's write lock before the import reads anything, held until it commits: concurrent imports
    then run one after the other, each reading what the previous one wrote. Without it, an import compares its
    rows with a catalog another import is changing, skips rows it wrongly finds unchanged, and the two leave a
    mix that no order of the two gives."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the first write; waits (timeout)
    else:  # the service_state row: every import updates it at the end anyway
        conn.execute(select(service_state.c.id).where(service_state.c.id == 1).with_for_update())


def _same(old, new) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if isinstance(new, float) or isinstance(old, float):
        return abs(float(old) - float(new)) <= 1e-12 * max(1.0, abs(float(new)))
    return old == new


def get_creator(engine: Engine, creator_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(creators).where(creators.c.creator_id == creator_id)).one_or_none()
    return None if row is None else dict(row._mapping)


# --- the in-memory catalog -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """Every creator, sorted by id, as a frame of arrays the engine reads; plus the tier of each."""

    revision: int
    creators: pd.DataFrame
    tiers: np.ndarray

    def __len__(self) -> int:
        return len(self.creators)


# Rows read per round trip while the snapshot is built: one chunk's Python rows are the only temporary, so the
# peak stays near the arrays kept (a million rows at once are ~1 GB of tuples and objects).
SNAPSHOT_CHUNK = 50_000
_TEXT = {c.name for c in TABLES["creators"].columns if c.kind in ("id", "str")}
_REPEATED_TEXT = _TEXT - {"creator_id"}  # a handful of distinct values each: one str object per value


def snapshot(engine: Engine, chunk: int = SNAPSHOT_CHUNK) -> Snapshot:
    """Read the whole catalog and its revision in one transaction, `chunk` rows at a time, into one array per
    column: numbers as float64 (NaN where missing; hist_posts and track_posts 0 there), text as Python strings
    (NaN where missing), repeated values (platform, niche, country) categorical over shared string objects."""
    with engine.connect() as conn, conn.begin():
        revision = int(conn.execute(select(service_state.c.catalog_revision)).scalar_one())
        size = int(conn.execute(select(func.count()).select_from(creators)).scalar_one())
        arrays = _CatalogArrays(size)
        result = conn.execute(select(creators).order_by(creators.c.creator_id).execution_options(yield_per=chunk))
        for rows in result.partitions():
            arrays.append(rows)
    columns = arrays.columns()
    for name in ("hist_posts", "track_posts"):  # no history is no posts
        np.nan_to_num(columns[name], copy=False, nan=0.0)
    # object Series keep Python strings (pandas would infer its own string dtype); no copies, no consolidation.
    # Repeated text is categorical: a request factorises, compares and checks it for missing values by its codes
    # (a third of a ranking of a million creators went to hashing these strings again and again)
    frame = pd.DataFrame({name: pd.Series(_categorical(values), copy=False) if name in _REPEATED_TEXT else
                          pd.Series(values, dtype=values.dtype, copy=False) for name, values in columns.items()},
                         columns=pd.Index(COLUMNS, dtype=object), copy=False)
    return Snapshot(revision, frame, tier_of(columns["followers"]) if len(frame) else np.array([]))


def _categorical(values: np.ndarray) -> pd.Categorical:
    """Text as categories of Python strings (not pandas' own string type), missing values NaN."""
    distinct = pd.unique(values[~pd.isna(values)])
    return pd.Categorical(values, categories=pd.Index(sorted(distinct, key=str), dtype=object))


class _CatalogArrays:
    """The catalog's columns, filled chunk by chunk into arrays made for `size` rows (grown when more arrive: the
    count and the rows may see two states of the table where the database does not hold one snapshot)."""

    def __init__(self, size: int):
        self.filled = 0
        self.arrays = {name: np.empty(size, dtype=object if name in _TEXT else float) for name in COLUMNS}
        self.shared: dict[str, dict[str, str]] = {name: {} for name in _REPEATED_TEXT}

    def append(self, rows) -> None:
        stop = self.filled + len(rows)
        if stop > len(self.arrays["creator_id"]):
            self.arrays = {name: _grown(values, max(stop, 2 * len(values))) for name, values in self.arrays.items()}
        for name, values in zip(COLUMNS, zip(*rows, strict=True), strict=True):
            if name in _REPEATED_TEXT:
                shared = self.shared[name]
                values = [np.nan if v is None else shared.setdefault(v, v) for v in values]
            elif name in _TEXT:
                values = [np.nan if v is None else v for v in values]
            else:
                values = _floats(values)
            self.arrays[name][self.filled:stop] = values
        self.filled = stop

    def columns(self) -> dict[str, np.ndarray]:
        return {name: values if len(values) == self.filled else values[:self.filled].copy()
                for name, values in self.arrays.items()}


def _floats(values) -> np.ndarray:
    """Numbers as float64, None as NaN, and NaN for anything that is no number (SQLite stores what it is given)."""
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _grown(values: np.ndarray, size: int) -> np.ndarray:
    grown = np.empty(size, dtype=values.dtype)
    grown[:len(values)] = values
    return grown


def mask(snap: Snapshot, filters) -> np.ndarray:
    """Which creators match catalog filters (schemas.CatalogFilters); None matches all."""
    frame = snap.creators
    keep = np.ones(len(frame), dtype=bool)
    if filters is None:
        return keep
    if filters.platforms:
        keep &= frame["platform"].isin(filters.platforms).to_numpy()
    if filters.niches:
        keep &= frame["niche"].isin(filters.niches).to_numpy()
    if filters.tiers:
        keep &= np.isin(snap.tiers, filters.tiers)
    followers = frame["followers"].to_numpy()
    if filters.min_followers is not None:
        keep &= followers >= filters.min_followers
    if filters.max_followers is not None:
        keep &= followers <= filters.max_followers
    if filters.max_price_per_post is not None:  # unknown prices are kept: the engine prices them at the tier norm
        price = frame["price_per_post"].to_numpy()
        keep &= np.isnan(price) | (price <= filters.max_price_per_post)
    if filters.min_audience_quality is not None:
        keep &= frame["audience_quality"].to_numpy() >= filters.min_audience_quality
    if filters.countries:
        keep &= frame["country"].isin([c.upper() for c in filters.countries]).to_numpy()
    return keep
