"""Boosters compiled to machine code by lleaves, cached as object files that are checked before they are loaded.

LLVM loads a cached object file without any check of its own, and a damaged one (garbage, or cut short by a full
disk or a copy) aborts the whole process instead of raising an error: a worker that loads it dies, and so does the
next. So each object file `DIGEST.o` gets a record `DIGEST.o.sha256` (in `sha256sum` format) of its content,
written whole after the object file is in place; a file whose record is missing or differs is never loaded: the
booster is compiled again and both are rewritten. The record guards against damage, not against a writer: the
cache folder holds code the service runs, and only the service's user should be able to write it (SECURITY.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

import lightgbm as lgb
import lleaves
import llvmlite.binding as llvm
import numpy as np

from microlift.models import features as F

logger = logging.getLogger(__name__)
RECORD_SUFFIX = ".sha256"


def compiled(booster: lgb.Booster, cache: Path, features: list[str]):
    """`booster` compiled by lleaves (cached in `cache` by digest), or None, with a warning, where it cannot be
    compiled or its answers differ from the booster's on reference rows (ordinary, all-missing, extreme values)."""
    text = booster.model_to_string()
    cache = Path(cache)
    try:
        # the object code is specialised to this CPU: a cache shared with another machine must not be reused
        toolchain = (f"lleaves {metadata.version('lleaves')} llvmlite {metadata.version('llvmlite')} "
                     f"cpu {llvm.get_host_cpu_name()}")
        digest = hashlib.sha256(text.encode() + toolchain.encode()).hexdigest()[:32]
        target = cache / f"{digest}.o"
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp, open(cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker compiling the same booster: wait and reuse
            source, scratch = Path(tmp) / "booster.txt", Path(tmp) / "object.o"
            source.write_text(text)
            model = lleaves.Model(model_file=str(source))
            # LLVM loads the object file it is given: a private copy of the bytes that were checked, if any;
            # otherwise lleaves compiles and writes it there as it goes, and it is renamed into place after
            reused = _verified_copy(target, scratch)
            model.compile(cache=str(scratch), raw_score=True, finline=False)
            if not reused:
                _store(scratch, target, Path(tmp))
        rows = np.random.default_rng(0).normal(0, 3, (64, len(features)))
        rows[::4] = np.nan
        rows[1::8] = 1e12
        categories = (np.arange(64) % 40).astype(float)
        categories[::4] = np.nan
        rows[:, [j for j, f in enumerate(features) if f in F.CATEGORICAL]] = categories[:, None]
        agrees = np.allclose(model.predict(rows, n_jobs=1), booster.predict(rows, raw_score=True), rtol=1e-9,
                             atol=1e-9)
    except Exception as exc:  # an unsupported model or a broken toolchain: LightGBM predicts, as before
        logger.warning("booster not compiled (%s: %s); LightGBM predicts", type(exc).__name__, str(exc)[:200])
        return None
    if not agrees:
        logger.warning("compiled booster %s disagrees with LightGBM; LightGBM predicts", digest)
        return None
    return model


def _verified_copy(target: Path, scratch: Path) -> bool:
    """Copy the cached object file to `scratch` if its content matches its record; a damaged or unrecorded file
    and its record are removed (the caller compiles again)."""
    if not target.exists():
        return False
    record = target.with_name(target.name + RECORD_SUFFIX)
    data = target.read_bytes()
    try:
        recorded = record.read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        recorded = ""
    if recorded and recorded == hashlib.sha256(data).hexdigest():
        scratch.write_bytes(data)
        return True
    logger.warning("compiled booster %s in %s %s; compiling it again", target.name, target.parent,
                   "does not match the SHA-256 recorded when it was written (damaged or altered)" if recorded
                   else "has no SHA-256 record (written by an older version, or cut short)")
    target.unlink(missing_ok=True)
    record.unlink(missing_ok=True)
    return False


def _store(scratch: Path, target: Path, tmp: Path) -> None:
    """Put a freshly written object file in the cache, then its record: each renamed into place whole."""
    record = tmp / "record"
    record.write_text(f"{hashlib.sha256(scratch.read_bytes()).hexdigest()}  {target.name}\n")
    os.replace(scratch, target)
    os.replace(record, target.with_name(target.name + RECORD_SUFFIX))
