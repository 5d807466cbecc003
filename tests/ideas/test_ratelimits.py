"""Rate limits: counted per key and fixed window in the database."""

from __future__ import annotations

from sqlalchemy import select

from ideas import ratelimits
from ideas.models import RateLimitHit

START = 1_800_000_000.0  # a window boundary for windows of 60 and 300 seconds


def test_counts_per_key_within_a_window(db) -> None:
    results = [ratelimits.hit(db, "signin:1.2.3.4", 3, 60, now=START + n) for n in range(5)]
    assert results == [True, True, True, False, False]


def test_keys_are_counted_separately(db) -> None:
    for n in range(3):
        assert ratelimits.hit(db, "vote:alice", 3, 60, now=START + n)
    assert not ratelimits.hit(db, "vote:alice", 3, 60, now=START + 3)
    assert ratelimits.hit(db, "vote:bob", 3, 60, now=START + 3)
    assert ratelimits.hit(db, "comment:alice", 3, 60, now=START + 3)


def test_a_new_window_starts_afresh_and_forgets_old_ones(db) -> None:
    for n in range(4):
        ratelimits.hit(db, "signup:ip", 2, 60, now=START + n)
    assert not ratelimits.hit(db, "signup:ip", 2, 60, now=START + 59.9)
    assert ratelimits.hit(db, "signup:ip", 2, 60, now=START + 60)
    assert ratelimits.hit(db, "signup:ip", 2, 60, now=START + 61)
    assert not ratelimits.hit(db, "signup:ip", 2, 60, now=START + 62)
    with db.reading() as session:
        rows = session.execute(select(RateLimitHit.window_start, RateLimitHit.count)).all()
    assert [tuple(r) for r in rows] == [(int(START) + 60, 3)]


def test_windows_of_different_lengths(db) -> None:
    assert ratelimits.hit(db, "k", 1, 300, now=START + 200)
    assert not ratelimits.hit(db, "k", 1, 300, now=START + 299)
    assert ratelimits.hit(db, "k", 1, 300, now=START + 300)
