"""One settings object for every command and the service (env vars, then defaults)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

NEO4J_VERSION = "5.26.30"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "codegraph"


class Settings(BaseSettings):
    """Everything configurable, read once; the same code runs against any Neo4j.

    ``neo4j_uri`` unset means "the project's own local Neo4j" on ``local_bolt_port``,
    with the password generated on its first start.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    neo4j_uri: str | None = Field(default=None, alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", alias="NEO4J_USER")
    neo4j_password: SecretStr | None = Field(default=None, alias="NEO4J_PASSWORD")
    neo4j_database: str = Field(default="neo4j", alias="NEO4J_DATABASE")

    state_dir: Path = Field(default_factory=_default_state_dir, alias="CODEGRAPH_STATE_DIR")
    local_bolt_port: int = Field(default=7697, alias="CODEGRAPH_BOLT_PORT")
    local_heap: str = Field(default="2g", alias="CODEGRAPH_NEO4J_HEAP")
    local_pagecache: str = Field(default="2g", alias="CODEGRAPH_NEO4J_PAGECACHE")
    local_tx_memory_max: str | None = Field(
        default=None, alias="CODEGRAPH_NEO4J_TX_MEMORY_MAX",
        description="memory one transaction may use on the local server (default: a quarter of the heap, so "
        "a runaway auditor query fails alone instead of exhausting the pool every transaction shares)")
    local_tx_log_retention: str = Field(
        default="1G size", alias="CODEGRAPH_NEO4J_TX_LOG_RETENTION",
        description="transaction log kept by the local server beyond what recovery needs (Neo4j's default, two "
        "days, filled a 250 GB disk with ~40 GB per dev graph after a day of annual loads and discards; Community "
        "has no online backup to read it)")
    local_start_timeout_s: float = Field(default=120.0, alias="CODEGRAPH_NEO4J_START_TIMEOUT")
    java: Path | None = Field(
        default=None, alias="CODEGRAPH_JAVA",
        description="the java executable or JDK home the local server runs on (default: the newest tested Java "
        "installed; see codegraph/runtime/java_runtime.py)")

    batch_size: int = Field(default=5000, alias="CODEGRAPH_BATCH_SIZE", ge=1, le=100_000)

    api_host: str = Field(default="127.0.0.1", alias="CODEGRAPH_API_HOST")
    api_port: int = Field(default=8000, alias="CODEGRAPH_API_PORT")
    api_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, alias="CODEGRAPH_API_WORKERS", ge=1,
                             description="uvicorn worker processes of `codegraph serve` (default: one per core)")
    release_poll_s: float = Field(
        default=0.25, alias="CODEGRAPH_RELEASE_POLL_S", gt=0,
        description="how often a service process re-reads the visible releases: the longest a release promoted "
        "or retracted by another process can go unseen (changes made by the process itself are seen at once)",
    )
    # "role:sha256hex" pairs, comma separated; see graph_service.security.
    api_keys: str = Field(default="", alias="CODEGRAPH_API_KEYS")

    max_request_bytes: int = Field(default=5 * 1024 * 1024, alias="CODEGRAPH_MAX_REQUEST_BYTES", ge=1,
                                   description="largest request body the API reads (413 beyond)")
    cypher_timeout_s: float = Field(default=10.0, alias="CODEGRAPH_CYPHER_TIMEOUT")
    cypher_row_cap: int = Field(default=1000, alias="CODEGRAPH_CYPHER_ROW_CAP")
    cypher_slots: int = Field(default=16, alias="CODEGRAPH_CYPHER_SLOTS", ge=1,
                              description="auditor queries one service process runs at once (beyond: wait, then 503)")
    drg_base_rates: dict[str, float] = Field(
        default={"default": 7276.76}, alias="CODEGRAPH_DRG_BASE_RATES",
        description="MS-DRG base rate in dollars per payer id (JSON object; 'default' for payers not listed): "
        "expected payment = relative weight x rate. The default is the FY2026 IPPS national rate with wage index 1: "
        "operating standardized amount $6,752.61 + capital federal rate $524.15 (no wage index, IME, DSH, outliers).",
    )

    @property
    def neo4j_home(self) -> Path:
        return self.state_dir / "neo4j"

    @property
    def password_file(self) -> Path:
        return self.state_dir / "neo4j-password"

    @property
    def api_keys_file(self) -> Path:
        return self.state_dir / "api-keys"

    @property
    def uses_local_neo4j(self) -> bool:
        return self.neo4j_uri is None

    @property
    def bolt_uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.local_bolt_port}"

    def resolved_password(self) -> str:
        """The configured password, else the local server's generated one."""
        if self.neo4j_password is not None:
            return self.neo4j_password.get_secret_value()
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        raise RuntimeError(
            f"no Neo4j password: set NEO4J_PASSWORD or run `codegraph neo4j start` "
            f"(which writes {self.password_file})"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
