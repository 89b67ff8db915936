"""HTTP caching of read answers: validators (ETag, Last-Modified) and a small LRU of bodies.

Both are keyed by the store version (`versions.py`), so any write invalidates them. The
bodies are a `cachetools.LRUCache` sized in bytes; this module adds what it does not
know: the version that empties it, a bound on the number of entries as well, and answers
too big to be worth keeping. The
ETag also carries a random epoch drawn at start-up (shared by the processes of one
service): store versions restart at 0 when the service restarts, and an ETag must never
match data it did not describe.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from cachetools import LRUCache
from starlette.responses import Response

from citytools.service.store.versions import Versions

CacheKey = tuple[str, ...]
TRUNCATED_HEADER = "X-CityTools-Truncated"  # on an answer cut at CITYTOOLS_MAX_RESULTS


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str
    kind: str  # "select", "construct", "graph", … (routes check it against what was acceptable)
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Validators:
    etag: str
    last_modified: str  # HTTP date


@dataclass
class ResponseCache:
    """An LRU of answer bodies for the current store version, with the HTTP validators."""

    versions: Versions
    max_entries: int = 512
    max_bytes: int = 64 * 1024 * 1024
    max_entry_bytes: int = 8 * 1024 * 1024
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    _entries: LRUCache[CacheKey, CachedAnswer] = field(init=False)
    _seen_version: int | None = None
    _modified_text: str = ""

    def __post_init__(self) -> None:
        self._entries = LRUCache(maxsize=self.max_bytes, getsizeof=_size)

    def _sync(self) -> int:
        """The store version; a change clears the cache and moves Last-Modified."""
        current, changed = self.versions.current()
        if current != self._seen_version:
            self._entries.clear()
            self._seen_version = current
            self._modified_text = format_datetime(_utc(changed), usegmt=True)
        return current

    def written(self) -> None:
        """Called after a write through this service."""
        self._sync()

    def validators(self, key: CacheKey) -> tuple[int, Validators]:
        version = self._sync()
        digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=8).hexdigest()
        etag = f'"{self.epoch}-{version}-{digest}"'
        return version, Validators(etag, self._modified_text)

    def get(self, version: int, key: CacheKey) -> CachedAnswer | None:
        if self._sync() != version:
            return None
        return self._entries.get(key)

    def put(self, version: int, key: CacheKey, answer: CachedAnswer) -> bool:
        """Keep `answer` if the store is still at `version`; False when it moved meanwhile."""
        if self._sync() != version:
            return False
        if _size(answer) > min(self.max_entry_bytes, self.max_bytes):
            return True  # not kept, and nothing evicted for it
        self._entries[key] = answer  # evicts the least recently used beyond max_bytes
        while len(self._entries) > self.max_entries:
            self._entries.popitem()
        return True

    def __len__(self) -> int:
        return len(self._entries)


def _size(answer: CachedAnswer) -> int:
    return len(answer.body)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, validators: Validators
) -> bool:
    """Whether the client's copy is current, by its `If-None-Match` and
    `If-Modified-Since` headers. RFC 9110 §13.1: If-None-Match wins."""
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or validators.etag in tags
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return since >= parsedate_to_datetime(validators.last_modified)


def validator_headers(validators: Validators) -> dict[str, str]:
    return {
        "ETag": validators.etag,
        "Last-Modified": validators.last_modified,
        # Clients may keep answers but must revalidate: any write can change them.
        "Cache-Control": "no-cache",
        "Vary": "Accept",
    }


def not_modified_response(validators: Validators) -> Response:
    return Response(status_code=304, headers=validator_headers(validators))
