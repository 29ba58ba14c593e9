"""What a worker holds: the loaded models and the in-memory catalog, and how both follow the shared state.

A request takes the current bundle and snapshot once and uses them to the end, so a swap in the middle of a
request never mixes two model versions. An import bumps the catalog revision and a reload records the new model
version set in the database; every worker checks that state (at most every MICROLIFT_SYNC_SECONDS) and follows.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import platform
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from microlift.models.modelstore import Bundle, ModelRefused, load_alias, load_version_set
from microlift.models.settings import Settings
from microlift.serving import campaigns, catalog, metrics
from microlift.serving.settings import ServiceSettings

log = logging.getLogger(__name__)
_QUIET_SECONDS = 1.0  # the longest a worker goes without reading the shared state when told nothing changed


class Runtime:
    def __init__(self, settings: Settings, service: ServiceSettings, engine: Engine, api_digests: tuple[str, ...]):
        self.settings, self.service, self.engine = settings, service, engine
        self.api_digests = api_digests
        self.bundle: Bundle | None = None
        self.snapshot: catalog.Snapshot | None = None
        self.last_reload: dict | None = None
        self.database_error: str | None = None
        self._generation = 0
        self._next_sync = 0.0
        self._watch = catalog.StateWatch(engine)
        self._read_at = -_QUIET_SECONDS
        self._catalog_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._following = False
        self._started_at = 0.0
        self._calibration_rows: dict[tuple, list[dict]] = {}  # (revision, brand, niche) -> measured campaigns

    def start(self) -> None:
        """Load the alias's models and the catalog. A refused or missing model leaves the service up but not ready,
        saying why in /readyz, until a reload loads a good one."""
        state = catalog.read_state(self.engine)
        self._generation = state.model_generation
        self._started_at = time.time()
        try:
            self._swap(load_alias(self.settings))  # every failure to load is a ModelRefused
        except ModelRefused as exc:
            log.warning("no model loaded at start-up: %s", exc)
            self.last_reload = {"outcome": "refused", "detail": exc.public, "at": self._started_at}
        self._refresh_catalog(state.catalog_revision)

    # --- following the shared state ---------------------------------------------------------------------------

    def sync_now(self) -> None:
        """Follow the shared state at once (after this worker changed it)."""
        self._next_sync = 0.0
        self.sync(force=True)

    def sync(self, force: bool = False) -> None:
        """Follow the shared state: read it (at most every MICROLIFT_SYNC_SECONDS) unless the database says nothing
        was committed since the last read (`catalog.StateWatch`), and at least once a second whatever it says."""
        now = time.monotonic()
        if now < self._next_sync:
            return
        self._next_sync = now + self.service.sync_seconds
        changed = self._watch.changed()  # asked every time, so that its count is the one this read sees
        if not (force or changed or now >= self._read_at + _QUIET_SECONDS):
            return
        self._read_at = now
        try:
            state = catalog.read_state(self.engine)
        except SQLAlchemyError as exc:
            self._watch.forget()
            self.database_error = str(exc).splitlines()[0][:200]
            log.warning("catalog database unreachable: %s", self.database_error)
            return
        self.database_error = None
        if state.last_reload:
            shared = json.loads(state.last_reload)
            if shared.get("at", 0) >= self._started_at:  # a reload before this process started is not its story
                self.last_reload = shared
        if self.snapshot is None or state.catalog_revision != self.snapshot.revision:
            self._refresh_catalog(state.catalog_revision)
        if state.model_generation > self._generation and state.model_versions and not self._following:
            self._following = True
            threading.Thread(target=self._follow, args=(state.model_generation, state.model_versions),
                             daemon=True).start()

    def _refresh_catalog(self, revision: int) -> None:
        with self._catalog_lock:
            if self.snapshot is not None and self.snapshot.revision >= revision:
                return
            started = time.perf_counter()
            self.snapshot = catalog.snapshot(self.engine)
            release_free_memory()  # what building it (and the snapshot it replaced, once requests let go) freed
            metrics.CATALOG.set(len(self.snapshot))
            log.info("catalog revision %d: %d creators (%.2f s)", self.snapshot.revision, len(self.snapshot),
                     time.perf_counter() - started)

    def _follow(self, generation: int, versions_json: str) -> None:
        """Another worker reloaded: serve the same version set (already checked there; checked again here)."""
        try:
            with self._reload_lock:
                record = json.loads(versions_json)
                if self.bundle is None or self.bundle.versions != record["versions"]:
                    self._swap(load_version_set(self.settings, record["versions"], record["alias"]))
                self._generation = max(self._generation, generation)
        except (ModelRefused, ValueError, KeyError) as exc:
            log.error("could not follow the model version set %s: %s", versions_json, exc)
            self._generation = max(self._generation, generation)
        finally:
            self._following = False

    def calibration_rows(self, brand: str | None, niche: str) -> tuple[list[dict], list[dict]]:
        """The brand's measured campaigns and, when it has none, the niche's (`campaigns.calibration_rows`), read
        once per catalog revision (every results import makes a new one) rather than on every forecast."""
        revision = self.snapshot.revision if self.snapshot is not None else None
        key = (revision, brand, niche)
        rows = self._calibration_rows.get(key) if revision is not None else None
        if rows is None:
            brand_rows = campaigns.calibration_rows(self.engine, brand=brand) if brand is not None else []
            niche_rows = [] if brand_rows else campaigns.calibration_rows(self.engine, niche=niche)
            rows = (brand_rows, niche_rows)
            if revision is not None:
                if len(self._calibration_rows) >= 1024 or any(k[0] != revision for k in self._calibration_rows):
                    self._calibration_rows = {}  # a new revision, or too many brands: start again
                self._calibration_rows[key] = rows
        return rows

    # --- reload -----------------------------------------------------------------------------------------------

    def reload(self) -> tuple[str, str]:
        """Load the alias again; a refused model leaves the old one serving. Returns (outcome, detail for the key
        holder); every worker's /readyz shows the outcome in plain words."""
        with self._reload_lock:
            try:
                fresh = load_alias(self.settings)
            except ModelRefused as exc:
                serving = f"still serving {self._describe()}" if self.bundle is not None else "no model is serving"
                outcome, detail, public, fresh = "refused", f"{exc}; {serving}", exc.public, None
            else:
                if self.bundle is not None and fresh.versions == self.bundle.versions:
                    outcome, detail, fresh = "unchanged", f"the alias still points at {self._describe()}", None
                else:
                    self._swap(fresh)
                    outcome, detail = "reloaded", f"now serving {self._describe()}"
                public = detail
            # what is served is each worker's own (/readyz "models"); the shared record says what this reload did
            self.last_reload = {"outcome": outcome, "detail": public, "at": time.time()}
            shared = json.dumps(self.last_reload)
            if fresh is not None:
                self._generation = catalog.record_models(self.engine, json.dumps(
                    {"versions": fresh.versions, "alias": fresh.alias}), shared)
            else:
                catalog.record_reload(self.engine, shared)
            metrics.RELOADS.labels(outcome).inc()
            (log.warning if outcome == "refused" else log.info)("model reload %s: %s", outcome, detail)
            return outcome, detail

    def _swap(self, bundle: Bundle) -> None:
        previous = self.bundle.versions if self.bundle else None
        self.bundle = bundle  # one reference assignment: requests in flight keep the bundle they took
        metrics.serving(previous, bundle.versions)

    def _describe(self) -> str:
        if self.bundle is None:
            return "no model"
        return ", ".join(f"{k} v{v}" for k, v in self.bundle.versions.items()) + f" ({self.bundle.alias})"


# glibc's mallopt parameter: at most this many malloc arenas
_M_ARENA_MAX = -8


def _glibc():
    """The C library when it is glibc (whose malloc the two functions below tune), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return None


def one_malloc_arena() -> None:
    """One malloc arena for the process (call it before threads start). glibc gives threads arenas of their own
    (up to 8 per CPU), each keeping the high-water mark of the requests it served: after requests on a million
    creators, half a GB beyond the catalog. One arena hands its free top back to the system after each request
    instead; the next request faults those pages in again (bench/catalog_scale.py shows memory and time)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, 1)


def release_free_memory() -> None:
    """Hand the memory malloc keeps after frees back to the system (glibc's malloc_trim; nothing elsewhere)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
