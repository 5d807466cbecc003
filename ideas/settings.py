"""Settings, read from the environment once (as starlette.config does)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Action -> (requests allowed, window in seconds), per client.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "signin": (10, 300),
    "signup": (5, 3600),
    "reset": (5, 3600),
    "submit": (20, 3600),
    "vote": (120, 60),
    "comment": (30, 600),
}

# The environment variables read by Settings.from_env; the README documents each one and a
# test checks that it does.
VARIABLES = (
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_MAX_OVERFLOW",
    "SECRET_KEY",
    "BASE_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_TLS",
    "MAIL_FROM",
    "MAIL_DIR",
    "DEFAULT_LOCALE",
    "RATE_LIMITS",
    "WORKER",
    "JOB_LEASE_SECONDS",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "EMBEDDING_BACKEND",
    "EMBEDDING_CACHE_DIR",
    "DIGEST_SCHEDULE",
    "TIME_ZONE",
    "EXPORT_SCHEDULE",
    "EXPORT_DIR",
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "on", "true", "yes"}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///ideas.db"
    # Connections each process keeps to the database, and how many more it may open at a peak:
    # processes x (both) must stay below PostgreSQL's max_connections (100 by default).
    database_pool_size: int = 5
    database_max_overflow: int = 10
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"
    mail_from: str = "Ideas portal <no-reply@localhost>"
    mail_dir: Path = Path("mail-outbox")
    default_locale: str = "en"
    rate_limits: Mapping[str, tuple[int, int]] | None = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    worker: bool = True
    job_lease_seconds: int = 300  # a crashed worker's jobs wait this long, then run again
    max_body_bytes: int = 1_000_000
    log_level: str = "INFO"
    embedding_backend: str = "onnx"
    embedding_cache_dir: Path | None = None  # None: ~/.cache/ideas-portal (ml.embedders)
    digest_schedule: str = "mon 09:00"  # the weekly digest's day and time, in UTC
    time_zone: str = "UTC"  # IANA name: the weeks of the weekly roadmap update
    export_schedule: str = "mon 08:00"  # the weekly roadmap update's day and time, in time_zone
    export_dir: Path | None = None  # where the worker also writes the weekly files

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cls()

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        return replace(
            base,
            database_url=normalise_database_url(get("DATABASE_URL") or base.database_url),
            database_pool_size=_count(
                "DATABASE_POOL_SIZE", get("DATABASE_POOL_SIZE"), base.database_pool_size, 1
            ),
            database_max_overflow=_count(
                "DATABASE_MAX_OVERFLOW", get("DATABASE_MAX_OVERFLOW"), base.database_max_overflow, 0
            ),
            secret_key=get("SECRET_KEY"),
            base_url=(get("BASE_URL") or base.base_url).rstrip("/"),
            smtp_host=get("SMTP_HOST"),
            smtp_port=int(get("SMTP_PORT") or base.smtp_port),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_tls=(get("SMTP_TLS") or base.smtp_tls).lower(),
            mail_from=get("MAIL_FROM") or base.mail_from,
            mail_dir=Path(get("MAIL_DIR") or base.mail_dir),
            default_locale=get("DEFAULT_LOCALE") or base.default_locale,
            rate_limits=None if not _flag(get("RATE_LIMITS") or "on") else base.rate_limits,
            worker=_flag(get("WORKER") or "on"),
            job_lease_seconds=int(get("JOB_LEASE_SECONDS") or base.job_lease_seconds),
            max_body_bytes=int(get("MAX_BODY_BYTES") or base.max_body_bytes),
            log_level=(get("LOG_LEVEL") or base.log_level).upper(),
            embedding_backend=(get("EMBEDDING_BACKEND") or base.embedding_backend).lower(),
            embedding_cache_dir=Path(cache) if (cache := get("EMBEDDING_CACHE_DIR")) else None,
            digest_schedule=_checked_weekly(get("DIGEST_SCHEDULE") or base.digest_schedule),
            time_zone=checked_time_zone(get("TIME_ZONE") or base.time_zone),
            export_schedule=_checked_weekly(get("EXPORT_SCHEDULE") or base.export_schedule),
            export_dir=Path(folder) if (folder := get("EXPORT_DIR")) else None,
        )


def _count(name: str, value: str | None, default: int, least: int) -> int:
    """A whole number of at least `least`, refused at start-up otherwise (SQLAlchemy would read
    a pool size of 0 or an overflow of -1 as "no limit")."""
    if value is None:
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < least:
        raise ValueError(f"{name} must be a whole number, at least {least}: {value!r}")
    return int(text)


def weekly_time(value: str) -> tuple[int, int, int]:
    """Parses a weekly time: "mon 09:00" is (0, 9, 0), the weekday counted from Monday."""
    day, _, clock = value.strip().lower().partition(" ")
    hour, _, minute = clock.strip().partition(":")
    if (
        day not in WEEKDAYS
        or not (clock.isascii() and hour.isdigit() and minute.isdigit() and len(minute) == 2)
        or not (int(hour) < 24 and int(minute) < 60)
    ):
        raise ValueError(
            f"a weekly time looks like 'mon 09:00' (mon-sun, then UTC time): {value!r}"
        )
    return WEEKDAYS.index(day), int(hour), int(minute)


def _checked_weekly(value: str) -> str:
    weekly_time(value)  # refuse a bad value at start-up, not at the first digest
    return value


def checked_time_zone(value: str) -> str:
    """An IANA time zone name ("Europe/Rome"); refused at start-up when unknown."""
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"TIME_ZONE must be an IANA time zone name such as Europe/Rome or UTC: {value!r}"
        ) from None
    return name


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or omits)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
