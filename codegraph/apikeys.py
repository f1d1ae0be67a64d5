"""The state dir's API key file: one ``role:sha256  # label, created`` line per key (only hashes are kept).

``codegraph apikey create|list|revoke`` and the demo manage it; the service reads it at start-up, so a revoked
key stops working when the service is restarted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from graph_service.security import Role, hash_key, new_key

DEMO_LABEL = "demo"


@dataclass(frozen=True)
class KeyEntry:
    role: str
    digest: str
    label: str
    created: str

    @property
    def key_id(self) -> str:
        """The first 12 hex digits of the hash: enough to name a key for ``revoke`` without revealing it."""
        return self.digest[:12]


def _parse(line: str) -> KeyEntry | None:
    entry, _, comment = line.partition("#")
    role, _, digest = entry.strip().partition(":")
    if not role or len(digest) != 64:
        return None
    label, _, created = comment.strip().partition(",")
    return KeyEntry(role, digest.lower(), label.strip(), created.strip())


def list_keys(path: Path) -> list[KeyEntry]:
    if not path.exists():
        return []
    return [e for e in (_parse(line) for line in path.read_text().splitlines()) if e is not None]


def add_key(path: Path, role: Role, label: str = "") -> str:
    """Mint a key for ``role``; returns it (shown once), stores its hash with the label and the time."""
    key, line = new_key(role)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("a") as fh:
        fh.write(f"{line}  # {label.replace(',', ' ').replace('#', ' ')}, {created}\n")
    path.chmod(0o600)
    return key


def revoke(path: Path, ident: str) -> list[KeyEntry]:
    """Remove the keys named by ``ident``: a key itself, or the start (at least 8 hex digits) of its hash."""
    ident = ident.strip()
    digest = hash_key(ident) if ident.startswith("cg_") else ident.lower()
    if len(digest) < 8:
        raise ValueError("name a key by the key itself or by at least 8 hex digits of its id (codegraph apikey list)")
    kept, removed = [], []
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = _parse(line)
        (removed if entry is not None and entry.digest.startswith(digest) else kept).append((line, entry))
    if len(removed) > 1 and not ident.startswith("cg_"):
        raise ValueError(f"{ident!r} names {len(removed)} keys; give more digits")
    if removed:
        path.write_text("".join(line + "\n" for line, _ in kept))
        path.chmod(0o600)
    return [e for _, e in removed if e is not None]
