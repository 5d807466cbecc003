"""The weekly roadmap update by email, to the members who opted in (``User.roadmap_updates``):
the week's Markdown as plain text, in the member's language as it is when the mail is sent, with
a link that stops these emails without signing in (and RFC 8058's List-Unsubscribe headers)."""

from __future__ import annotations

from typing import Any

from ideas import jobs, keys, mail, updates, weekly, weekly_render
from ideas.db import Database
from ideas.errors import N_
from ideas.i18n import supported, translations
from ideas.models import User, WeeklySnapshot
from ideas.settings import Settings

FOOTER = N_(
    "You get this email because you asked for the weekly roadmap update.\n"
    "Your settings: %(settings)s\n"
    "Unsubscribe: %(unsubscribe)s"
)


def send(db: Database, settings: Settings, job: jobs.ClaimedJob) -> None:
    secret = keys.secret_key(db, settings.secret_key)
    with db.reading() as session:
        user = session.get(User, job.payload["user_id"])
        snapshot = session.get(WeeklySnapshot, job.payload["week"])
        if user is None or snapshot is None or not user.roadmap_updates or user.is_blocked:
            return  # gone, or they changed their mind since it was queued
        locale = supported(user.locale) or supported(settings.default_locale) or "en"
        payload = message(secret, settings, user, snapshot.data, locale)
    mail.deliver(db, settings, job, payload)


def message(
    secret: str, settings: Settings, user: User, snapshot: dict[str, Any], locale: str
) -> dict[str, Any]:
    token = updates.unsubscribe_token(secret, user.id, "roadmap")
    unsubscribe = f"{settings.base_url}/unsubscribe/{token}"
    footer = translations(locale).gettext(FOOTER) % {
        "settings": f"{settings.base_url}/account",
        "unsubscribe": unsubscribe,
    }
    body = weekly_render.markdown(snapshot, locale, settings.base_url)
    return {
        "to": user.email,
        "subject": weekly_render.title(snapshot, locale),
        "body": f"{body}\n-- \n{footer}",
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }


def handle_export(db: Database, settings: Settings, job: jobs.ClaimedJob) -> None:
    """The worker's weekly run (see ideas.weekly.schedule)."""
    done = weekly.publish(db, settings, job.payload["week"])
    weekly.log.info(
        "weekly update %s: %s, %d files written, %d emails queued",
        done.week,
        "made" if done.created else "made before",
        len(done.files),
        done.mails,
    )
