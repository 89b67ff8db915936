"""Resolving authority codes and names to the UK-wide reference list, in memory.

Built once per process from `reference/uk_local_authorities.csv` (every current
UK authority) and `reference/london_local_authorities.csv` (the 33 London ones,
whose names take precedence). A GSS code matches in any case; a name matches
case- and punctuation-insensitively, with or without "London Borough of",
"Council" and similar (`names.authority_key`); the three-letter register code
(`HCK`) matches too, as OCDS publishers use it in `GB-LAE` identifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from citytools.loaders.names import authority_key
from citytools.loaders.reference import reference_rows

_GSS = re.compile(r"^[ENSW]\d{8}$")
# Combined authorities are named after their area: "Greater Manchester Combined Authority".
_COMBINED_SUFFIXES = (
    " Mayoral Combined Authority",
    " Combined County Authority",
    " Combined Authority",
)


@dataclass(frozen=True)
class AuthorityRecord:
    gss: str
    name: str  # the short "nice" name: "Hackney"
    official_name: str  # "London Borough of Hackney"
    region: str  # London, a combined authority's area, a nation or an English region
    authority_type: str  # "London borough", "Metropolitan district", ...
    register_code: str  # three-letter code of the former local-authority-eng register

    @property
    def london(self) -> bool:
        """A London authority is shipped in the reference graph; others are emitted by loaders."""
        return self.gss.startswith("E09")


def is_gss_code(text: str) -> bool:
    return bool(_GSS.match(text.strip().upper()))


def _area_name(official_name: str) -> str:
    for suffix in _COMBINED_SUFFIXES:
        if official_name.endswith(suffix):
            return official_name[: -len(suffix)]
    return official_name


def _full_key(text: str) -> str:
    """`authority_key` until it no longer changes ("The Royal Borough of X" needs two passes)."""
    key = authority_key(text)
    while (again := authority_key(key.replace("-", " "))) != key:
        key = again
    return key


class AuthorityResolver:
    """GSS code, register code or name → `AuthorityRecord`."""

    def __init__(self, records: list[AuthorityRecord]) -> None:
        self.by_gss = {r.gss: r for r in records}
        self._by_code = {r.register_code: r for r in records if r.register_code}
        self._by_key: dict[str, AuthorityRecord] = {}
        for record in records:
            for name in (record.name, record.official_name):
                self._by_key.setdefault(_full_key(name), record)

    def __len__(self) -> int:
        return len(self.by_gss)

    def resolve(self, text: str) -> AuthorityRecord | None:
        """The authority a GSS code or a name denotes, or None."""
        stripped = text.strip()
        if not stripped:
            return None
        if is_gss_code(stripped):
            return self.by_gss.get(stripped.upper())
        return self._by_key.get(_full_key(stripped))

    def by_register_code(self, code: str) -> AuthorityRecord | None:
        return self._by_code.get(code.strip().upper())


def _region(row: dict[str, str], combined: dict[str, str]) -> str:
    if row["gss_code"].startswith("E09") or row["combined_authority"] == "GLA":
        return "London"
    if row["local_authority_type"] == "COMB":
        return _area_name(row["official_name"])
    if row["combined_authority"] in combined:
        return combined[row["combined_authority"]]
    if row["nation"] != "England":
        return row["nation"]
    return row["region"]


@lru_cache(maxsize=1)
def authority_resolver() -> AuthorityResolver:
    """The resolver over every current UK authority (read once per process)."""
    uk = reference_rows("uk_local_authorities.csv")
    combined = {
        row["local_authority_code"]: _area_name(row["official_name"])
        for row in uk
        if row["local_authority_type"] == "COMB"
    }
    london = {row["gss_code"]: row for row in reference_rows("london_local_authorities.csv")}
    records = []
    for row in uk:
        gss = row["gss_code"]
        ldn = london.get(gss)
        records.append(
            AuthorityRecord(
                gss=gss,
                name=ldn["name"] if ldn else row["nice_name"],
                official_name=ldn["official_name"] if ldn else row["official_name"],
                region=_region(row, combined),
                authority_type=ldn["la_type"] if ldn else row["local_authority_type_name"],
                register_code=row["local_authority_code"],
            )
        )
    return AuthorityResolver(records)
