"""API keys for write and admin routes: only sha256 digests are stored; a presented key is hashed and compared
in constant time with every stored digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g, request

from microlift.serving.problems import Problem


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(keys_file: Path) -> str:
    """Make a key, append its digest to the keys file (mode 600) and return the key (shown once)."""
    key = "ml_" + secrets.token_urlsafe(32)
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    with open(keys_file, "a") as handle:
        handle.write(digest(key) + "\n")
    keys_file.chmod(0o600)
    return key


def load_digests(hashes: tuple[str, ...], keys_file: Path) -> tuple[str, ...]:
    found = list(hashes)
    if keys_file.is_file():
        found += [line.strip().lower() for line in keys_file.read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    return tuple(dict.fromkeys(found))


def presented() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def matches(key: str, digests: tuple[str, ...]) -> bool:
    return _stored(digest(key), digests)


def _stored(candidate: str, digests: tuple[str, ...]) -> bool:
    found = False
    for stored in digests:  # no early exit: the time does not depend on which digest matches
        found |= hmac.compare_digest(candidate, stored)
    return found


@dataclass(frozen=True)
class Caller:
    """The API key a request presents, and its digest only when that digest is one the service stores."""

    key: str | None
    verified: str | None


def caller() -> Caller:
    """This request's key, hashed and compared once per request (the rate limit and the key check both ask)."""
    if "microlift_caller" not in g:
        key = presented()
        candidate = digest(key) if key is not None else None
        known = candidate is not None and _stored(candidate, current_app.extensions["microlift"].api_digests)
        g.microlift_caller = Caller(key, candidate if known else None)
    return g.microlift_caller


def check() -> None:
    """401 without a key, 403 with a wrong one."""
    key = caller()
    if key.key is None:
        raise Problem(401, "Unauthorized", "this route needs an API key: send 'Authorization: Bearer KEY' or "
                      "'X-API-Key: KEY'", kind="missing-api-key", headers={"WWW-Authenticate": "Bearer"})
    if key.verified is None:
        raise Problem(403, "Forbidden", "the API key is not valid for this server", kind="wrong-api-key")
