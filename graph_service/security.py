"""API keys with roles; only SHA-256 hashes are kept at rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    engine = "engine"
    auditor = "auditor"
    maintainer = "maintainer"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(role: Role) -> tuple[str, str]:
    """A fresh key and its at-rest line ``role:sha256``."""
    key = f"cg_{role.value}_{secrets.token_urlsafe(24)}"
    return key, f"{role.value}:{hash_key(key)}"


def parse_key_hashes(spec: str) -> dict[str, Role]:
    """``role:sha256`` pairs separated by commas or newlines → hash → role."""
    out: dict[str, Role] = {}
    # A line may end in a comment ("role:hash  # label, created"), as `codegraph apikey create` writes it.
    lines = [line.split("#", 1)[0] for line in spec.splitlines()]
    for item in ",".join(lines).split(","):
        item = item.strip()
        if not item:
            continue
        role, _, digest = item.partition(":")
        if role not in Role.__members__ or len(digest) != 64:
            raise ValueError(f"bad API key entry {item[:20]!r}: expected role:sha256hex with role in {list(Role)}")
        out[digest.lower()] = Role(role)
    return out


def load_key_hashes(spec: str, key_file: Path) -> dict[str, Role]:
    """Keys from configuration, else from the state dir's key file written by `codegraph apikey`."""
    if spec.strip():
        return parse_key_hashes(spec)
    if key_file.exists():
        return parse_key_hashes(key_file.read_text())
    return {}


def role_of(key: str, hashes: dict[str, Role]) -> Role | None:
    digest = hash_key(key)
    for known, role in hashes.items():
        if hmac.compare_digest(known, digest):
            return role
    return None
