"""The emails that close the loop, rendered by the worker when it sends them: in the member's
language as it is then, only if they still want them, each with a link to stop them that works
without signing in (and the List-Unsubscribe headers of RFC 8058 for one-click mail programs)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ideas import digest, jobs, keys, mail, updates
from ideas.db import Database
from ideas.i18n import supported, translations
from ideas.ideas import STATUS_LABELS
from ideas.models import Digest, Idea, RoadmapItem, StatusChange, User
from ideas.settings import Settings

DIGEST_LIMIT = 50  # changes listed in one digest; the rest are a click away


def send_status_mail(db: Database, settings: Settings, job: jobs.ClaimedJob) -> None:
    """One status change, or several moved together by a roadmap item, to one person."""
    secret = keys.secret_key(db, settings.secret_key)
    with db.reading() as session:
        user = session.get(User, job.payload["user_id"])
        if user is None or not _wants(user, "immediately"):
            return  # gone, or they changed their mind since the change was made
        changes = [
            (change, idea)
            for change_id in job.payload["change_ids"]
            if (change := session.get(StatusChange, change_id)) is not None
            and (idea := session.get(Idea, change.idea_id)) is not None
            and idea.hidden_at is None
        ]
        if not changes:
            return  # hidden since: nothing to say
        item = session.get(RoadmapItem, job.payload.get("item_id") or 0)
        locale = _locale(user, settings)
        if len(changes) == 1:
            change, idea = changes[0]
            params = _change_params(change, idea, locale, settings)
            if item is not None:
                params["note"] += mail.part("on_roadmap", locale, _item_params(item, settings))
            moved = change.from_status != change.to_status
            template = "status_changed" if moved else "status_note"
        else:
            first = _change_params(*changes[0], locale, settings)
            entries = [_entry(change, idea, locale, settings) for change, idea in changes]
            params = {
                **first,
                **_item_params(item, settings),
                "count": len(changes),
                "changes": "\n\n".join(entries),
            }
            template = "item_moved"
        subject, body = mail.render(template, locale, {**params, "name": user.name})
        payload = _payload(secret, settings, user, subject, body, locale)
    mail.deliver(db, settings, job, payload)


def _item_params(item: RoadmapItem | None, settings: Settings) -> dict[str, Any]:
    if item is None:
        return {"item": "", "item_link": f"{settings.base_url}/roadmap"}
    return {"item": item.title, "item_link": f"{settings.base_url}/roadmap#item-{item.id}"}


def send_digest(db: Database, settings: Settings, job: jobs.ClaimedJob) -> None:
    secret = keys.secret_key(db, settings.secret_key)
    week = date.fromisoformat(job.payload["week"])
    with db.reading() as session:
        user = session.get(User, job.payload["user_id"])
        found = session.get(Digest, (job.payload["user_id"], week))
        if user is None or found is None or not _wants(user, "weekly"):
            return
        changes = digest.changes_for(session, user.id, found.since, found.until)
        if not changes:
            return  # the ideas were hidden since: nothing left to say
        locale = _locale(user, settings)
        entries = [_digest_entry(session, change, locale, settings) for change in changes]
        if len(entries) > DIGEST_LIMIT:
            more = {"n": len(entries) - DIGEST_LIMIT, "link": f"{settings.base_url}/notifications"}
            entries = [*entries[:DIGEST_LIMIT], mail.part("more", locale, more)]
        subject, body = mail.render(
            "digest", locale, {"name": user.name, "changes": "\n\n".join(entries)}
        )
        payload = _payload(secret, settings, user, subject, body, locale)
    mail.deliver(db, settings, job, payload)


def _wants(user: User, how: str) -> bool:
    return user.email_updates == how and not user.is_blocked


def _locale(user: User, settings: Settings) -> str:
    return supported(user.locale) or supported(settings.default_locale) or "en"


def _change_params(
    change: StatusChange, idea: Idea, locale: str, settings: Settings
) -> dict[str, Any]:
    gettext = translations(locale).gettext
    note = "\n".join(f"> {line}" for line in change.note.splitlines())
    return {
        "actor": change.actor.name,
        "title": idea.title,
        "old": gettext(STATUS_LABELS[change.from_status]),
        "new": gettext(STATUS_LABELS[change.to_status]),
        "note": mail.part("note", locale, {"note": note}) if note else "",
        "link": f"{settings.base_url}/ideas/{idea.id}",
    }


def _digest_entry(session: Session, change: StatusChange, locale: str, settings: Settings) -> str:
    idea = session.get(Idea, change.idea_id)
    assert idea is not None
    return _entry(change, idea, locale, settings)


def _entry(change: StatusChange, idea: Idea, locale: str, settings: Settings) -> str:
    """One change in a list of changes: the idea, its move, the note and the link."""
    params = _change_params(change, idea, locale, settings)
    moved = change.from_status != change.to_status
    head = mail.part("change" if moved else "update", locale, params)
    return f"{head}\n{params['note']}{params['link']}"


def _payload(
    secret: str, settings: Settings, user: User, subject: str, body: str, locale: str
) -> dict[str, Any]:
    """The mail to `user`, with the footer and headers that let them stop such mail."""
    token = updates.unsubscribe_token(secret, user.id)
    unsubscribe = f"{settings.base_url}/unsubscribe/{token}"
    footer = mail.part(
        "footer", locale, {"settings": f"{settings.base_url}/account", "unsubscribe": unsubscribe}
    )
    return {
        "to": user.email,
        "subject": subject,
        "body": f"{body}\n\n-- \n{footer}",
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
