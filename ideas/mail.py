"""Mail: queued through the job table in the caller's transaction, sent over SMTP with
retries (once per job key, see `deliver`), or written to a folder when no SMTP host is set."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ideas import jobs
from ideas.db import Database
from ideas.errors import N_
from ideas.i18n import translations
from ideas.models import MailDelivery, utcnow
from ideas.settings import Settings

log = logging.getLogger(__name__)

# Template name -> (subject, body); both translated, then filled with the parameters.
TEMPLATES = {
    "password_reset": (
        N_("Reset your password"),
        N_(
            "Hello %(name)s,\n\n"
            "someone, hopefully you, asked to reset the password of your account. "
            "Open this link within an hour to choose a new one:\n\n%(link)s\n\n"
            "If it was not you, ignore this message: your password stays as it is."
        ),
    ),
    "sign_up": (
        N_("Finish signing up"),
        N_(
            "Hello,\n\n"
            "someone, hopefully you, asked to sign up on the ideas portal with this address. "
            "Open this link within a day to choose your name and password:\n\n%(link)s\n\n"
            "If it was not you, ignore this message: no account is made."
        ),
    ),
    "sign_up_exists": (
        N_("You already have an account"),
        N_(
            "Hello %(name)s,\n\n"
            "someone, hopefully you, tried to sign up on the ideas portal with this address, "
            "which has an account already. If it was you, sign in:\n\n%(signin)s\n\n"
            "Forgot your password? Choose a new one here:\n\n%(reset)s\n\n"
            "If it was not you, ignore this message: your account stays as it is."
        ),
    ),
    "status_changed": (
        N_("“%(title)s” is now %(new)s"),
        N_(
            "Hello %(name)s,\n\n"
            "%(actor)s moved “%(title)s” from %(old)s to %(new)s.\n\n"
            "%(note)sSee the idea: %(link)s"
        ),
    ),
    "status_note": (
        N_("News on “%(title)s”"),
        N_(
            "Hello %(name)s,\n\n"
            "%(actor)s posted an update on “%(title)s” (%(new)s).\n\n"
            "%(note)sSee the idea: %(link)s"
        ),
    ),
    "item_moved": (
        N_("“%(item)s” is now %(new)s"),
        N_(
            "Hello %(name)s,\n\n"
            "%(actor)s moved the roadmap item “%(item)s” to %(new)s. It answers %(count)d ideas "
            "you vote for or follow:\n\n%(changes)s\n\nSee the roadmap: %(item_link)s"
        ),
    ),
    "digest": (
        N_("Your weekly news on the ideas you follow"),
        N_(
            "Hello %(name)s,\n\n"
            "this is what changed on the ideas you vote for or follow since your last digest:"
            "\n\n%(changes)s"
        ),
    ),
}

# Pieces of the mails above, translated and filled in the same way.
PARTS = {
    "note": N_("The team's note:\n%(note)s\n\n"),
    "change": N_("“%(title)s”: %(old)s → %(new)s"),
    "update": N_("“%(title)s”: an update (%(new)s)"),
    "on_roadmap": N_("It is part of the roadmap item “%(item)s”: %(item_link)s\n\n"),
    "more": N_("And %(n)d more: %(link)s"),
    "footer": N_(
        "You get this email because you vote for or follow ideas on the portal.\n"
        "Choose how often we write: %(settings)s\n"
        "Unsubscribe: %(unsubscribe)s"
    ),
}


def render(template: str, locale: str, params: dict[str, Any]) -> tuple[str, str]:
    subject, body = TEMPLATES[template]
    gettext = translations(locale).gettext
    return gettext(subject) % params, gettext(body) % params


def part(name: str, locale: str, params: dict[str, Any]) -> str:
    return translations(locale).gettext(PARTS[name]) % params


def queue(session: Session, to: str, template: str, locale: str, params: dict[str, Any]) -> None:
    subject, body = render(template, locale, params)
    jobs.enqueue(session, "send_mail", {"to": to, "subject": subject, "body": body})


def build_message(settings: Settings, payload: dict[str, Any], message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    for name, value in payload.get("headers", {}).items():  # e.g. List-Unsubscribe
        message[name] = value
    message.set_content(payload["body"])
    return message


def deliver(
    db: Database, settings: Settings, job: jobs.ClaimedJob, payload: dict[str, Any]
) -> None:
    """Sends the job's mail once per key. The delivery is recorded before the mail goes out
    and marked sent right after the server took it: a retry of a job whose worker stopped after
    that (the job not yet marked done) sends nothing. A retry after a stop between the two
    cannot know whether the server took the mail; it sends it again with the same Message-ID,
    which mail programs recognise as the same message."""
    key = job.key or f"job:{job.id}"
    with db.transaction() as session:
        delivery = session.get(MailDelivery, key)
        if delivery is None:
            delivery = MailDelivery(key=key, message_id=make_msgid(domain="ideas-portal"))
            session.add(delivery)
        elif delivery.sent_at is not None:
            log.info("mail %s was sent already (job %s): not sending it again", key, job.id)
            return
        message_id = delivery.message_id
    send(settings, build_message(settings, payload, message_id), job.id)
    with db.transaction() as session:
        sent = session.get(MailDelivery, key)
        assert sent is not None
        sent.sent_at = utcnow()


def send(settings: Settings, message: EmailMessage, job_id: int) -> None:
    if not settings.smtp_host:
        _write_to_folder(settings.mail_dir, message, job_id)
        return
    if settings.smtp_tls == "ssl":
        context = ssl.create_default_context()
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=30, context=context
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        client.send_message(message)


def _write_to_folder(folder: Path, message: EmailMessage, job_id: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id:08d}.eml"
    path.write_bytes(bytes(message))
    log.info("no SMTP_HOST set: mail to %s written to %s", message["To"], path.resolve())
