"""Name normalisation: the keys that decide when two spellings are one thing.

"Civica UK Ltd", "CIVICA" and "Civica Limited" share the key `civica`; the
original strings are kept on the resource as `ct:originalName`. Only legal
and country suffixes are dropped, never words that could tell two firms apart.
"""

from __future__ import annotations

import re
import unicodedata

_LEGAL_SUFFIXES = (
    "limited",
    "ltd",
    "plc",
    "llp",
    "llc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "gmbh",
    "bv",
    "sa",
    "ag",
    "co",
    "uk",
    "u k",
    "group",
    "holdings",
    "(uk)",
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case ASCII with '&' read as 'and' and punctuation as single spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("&", " and ")
    return _NON_ALNUM.sub(" ", text).strip()


def slug(text: str) -> str:
    """A stable IRI path segment: 'Adults & Social Care' -> 'adults-and-social-care'."""
    folded = fold(text).replace(" ", "-")
    return folded or "unnamed"


def organisation_key(name: str) -> str:
    """Key for vendors: folded, without legal/country suffixes ('Civica UK Ltd' -> 'civica')."""
    words = fold(name).split()
    suffixes = {s.replace("(", "").replace(")", "") for s in _LEGAL_SUFFIXES}
    while len(words) > 1 and words[-1] in suffixes:
        words.pop()
    return "-".join(words) or "unnamed"


def product_key(name: str) -> str:
    """Key for products: the folded name ('Mosaic ' and 'MOSAIC' -> 'mosaic')."""
    return slug(name)


def authority_key(name: str) -> str:
    """Key for authority names: folded, without 'London Borough of', 'Council' and similar."""
    words = fold(name)
    for prefix in ("london borough of ", "royal borough of ", "the ", "city of westminster"):
        if prefix == "city of westminster" and words == prefix:
            return "westminster"
        if words.startswith(prefix):
            words = words[len(prefix) :]
    for suffix in (" london borough council", " borough council", " city council", " council"):
        if words.endswith(suffix):
            words = words[: -len(suffix)]
    return words.replace(" ", "-")
