"""The answer cache: an LRU bounded in bytes and in entries, emptied by a new store version."""

from __future__ import annotations

from citytools.service.http.cache import CachedAnswer, ResponseCache
from citytools.service.store.versions import LocalVersions


def answer(size: int) -> CachedAnswer:
    return CachedAnswer(b"x" * size, "text/plain", "select")


def test_an_answer_larger_than_the_cache_is_not_kept_and_evicts_nothing() -> None:
    cache = ResponseCache(LocalVersions(lambda: 0), max_bytes=100)
    assert cache.put(0, ("a",), answer(60))
    assert cache.put(0, ("huge",), answer(101))
    assert cache.get(0, ("huge",)) is None
    assert cache.get(0, ("a",)) is not None


def test_an_answer_over_the_entry_limit_is_not_kept() -> None:
    cache = ResponseCache(LocalVersions(lambda: 0), max_bytes=100, max_entry_bytes=10)
    assert cache.put(0, ("a",), answer(11))
    assert len(cache) == 0


def test_replacing_an_answer_counts_its_bytes_once() -> None:
    cache = ResponseCache(LocalVersions(lambda: 0), max_bytes=100)
    for size in (50, 50, 50):
        cache.put(0, ("a",), answer(size))
    cache.put(0, ("b",), answer(50))
    assert [cache.get(0, (k,)) is not None for k in ("a", "b")] == [True, True]


def test_the_number_of_entries_is_bounded_least_recently_used_first() -> None:
    cache = ResponseCache(LocalVersions(lambda: 0), max_entries=3)
    for key in "abc":
        cache.put(0, (key,), answer(1))
    assert cache.get(0, ("a",)) is not None
    cache.put(0, ("d",), answer(1))
    assert [cache.get(0, (k,)) is not None for k in "abcd"] == [True, False, True, True]
