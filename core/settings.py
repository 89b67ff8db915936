"""All settings, read from the environment (prefix CITYTOOLS_) or a `.env` file, in one place."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citytools.vocab import DEFAULT_BASE_IRI


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYTOOLS_", env_file=".env", extra="ignore")

    store: Path = Field(Path("citytools-data"), description="Directory of the embedded store")
    endpoint: str | None = Field(
        None, description="Remote SPARQL 1.1 endpoint instead of the embedded store"
    )
    base_iri: str = Field(DEFAULT_BASE_IRI, description="Base under which data IRIs are minted")
    write_token: str | None = Field(
        None, description="Bearer token for writes; unset refuses writes"
    )
    query_timeout: float = Field(10.0, gt=0, description="Seconds a query may run")
    max_results: int = Field(100_000, gt=0, description="Rows an answer may hold before truncation")
    max_body_mb: float = Field(64.0, gt=0, description="Largest request body accepted, in MiB")
    query_workers: int = Field(
        2,
        ge=1,
        description="Worker processes that evaluate queries (each killable at timeout), "
        "per HTTP process",
    )
    http_workers: int = Field(
        0, ge=0, description="HTTP processes of `serve`; 0: one per CPU core (at most 8)"
    )
    inline_queries: bool = Field(
        True,
        description="Answer queries whose worst case is provably small in the HTTP process",
    )
    inline_memory_quads: int = Field(
        500_000,
        ge=0,
        description="Largest store (in quads) the inline lane copies into memory, in each "
        "HTTP process, for lookups about twice as fast; a larger one is read from disk",
    )
    access_log: bool = Field(
        False, description="One JSON line per HTTP request on standard error (`serve`)"
    )
    federation_allow: str = Field("", description="Space-separated endpoints SERVICE may call")
    cors_origins: str = Field("", description="Space- or comma-separated origins allowed by CORS")

    @field_validator("base_iri")
    @classmethod
    def _base_ends_with_separator(cls, value: str) -> str:
        if not value.endswith(("/", "#")):
            raise ValueError("CITYTOOLS_BASE_IRI must end with '/' or '#'")
        return value

    @property
    def federation_endpoints(self) -> frozenset[str]:
        return frozenset(self.federation_allow.split())

    @property
    def cors_origin_list(self) -> list[str]:
        return [o for o in self.cors_origins.replace(",", " ").split() if o]

    @property
    def http_processes(self) -> int:
        return self.http_workers or min(os.cpu_count() or 1, 8)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)
