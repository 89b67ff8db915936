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


# each suffix as the words `fold` leaves of it: "U.K." folds to two words, "u k"
_SUFFIX_WORDS = tuple(sorted({tuple(fold(s).split()) for s in _LEGAL_SUFFIXES}))


def organisation_key(name: str) -> str:
    """Key for vendors: folded, without legal/country suffixes ('Civica UK Ltd' -> 'civica')."""
    words = fold(name).split()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SUFFIX_WORDS:
            n = len(suffix)
            if len(words) > n and tuple(words[-n:]) == suffix:
                del words[-n:]
                stripped = True
                break
    return "-".join(words) or "unnamed"


def product_key(name: str) -> str:
    """Key for products: the folded name ('Mosaic ' and 'MOSAIC' -> 'mosaic')."""
    return slug(name)


def authority_key(name: str) -> str:
    """Key for authority names: folded, without 'London Borough of', 'Council' and similar."""
    words = fold(name)
    for prefix in ("london borough of ", "royal borough of ", "the "):
        if words.startswith(prefix):
            words = words[len(prefix) :]
    if words.startswith("city of westminster"):  # "City of Westminster (Council)"
        words = words[len("city of ") :]
    for suffix in (" london borough council", " borough council", " city council", " council"):
        if words.endswith(suffix):
            words = words[: -len(suffix)]
    return words.replace(" ", "-")
