"""Settings read from the environment: defaults, and bad values refused at start-up."""

from __future__ import annotations

import pytest

from ideas.settings import Settings


def test_the_connection_pool_is_sized_by_settings() -> None:
    defaults = Settings.from_env({})
    assert (defaults.database_pool_size, defaults.database_max_overflow) == (5, 10)
    sized = Settings.from_env({"DATABASE_POOL_SIZE": " 8 ", "DATABASE_MAX_OVERFLOW": "0"})
    assert (sized.database_pool_size, sized.database_max_overflow) == (8, 0)


@pytest.mark.parametrize(
    ("name", "value", "least"),
    [
        ("DATABASE_POOL_SIZE", "0", 1),  # SQLAlchemy would read 0 as "no limit"
        ("DATABASE_POOL_SIZE", "-5", 1),
        ("DATABASE_POOL_SIZE", "five", 1),
        ("DATABASE_POOL_SIZE", "2.5", 1),
        ("DATABASE_POOL_SIZE", "²", 1),
        ("DATABASE_MAX_OVERFLOW", "-1", 0),  # and -1 as "no limit" too
        ("DATABASE_MAX_OVERFLOW", "ten", 0),
    ],
)
def test_a_bad_pool_size_is_refused_with_its_name(name: str, value: str, least: int) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a whole number, at least {least}"):
        Settings.from_env({name: value})
