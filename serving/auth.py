"""API keys for write and admin routes: only sha256 digests are stored; a presented key is hashed and compared
in constant time with every stored digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from flask import current_app, request

from serving.problems import Problem


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
    candidate = digest(key)
    found = False
    for stored in digests:  # no early exit: the time does not depend on which digest matches
        found |= hmac.compare_digest(candidate, stored)
    return found


def check() -> None:
    """401 without a key, 403 with a wrong one."""
    key = presented()
    if key is None:
        raise Problem(401, "Unauthorized", "this route needs an API key: send 'Authorization: Bearer KEY' or "
                      "'X-API-Key: KEY'", kind="missing-api-key", headers={"WWW-Authenticate": "Bearer"})
    if not matches(key, current_app.extensions["microlift"].api_digests):
        raise Problem(403, "Forbidden", "the API key is not valid for this server", kind="wrong-api-key")
