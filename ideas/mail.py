"""Mail: queued through the job table in the caller's transaction, sent over SMTP with
retries, or written to a folder when no SMTP host is set."""

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
from ideas.errors import N_
from ideas.i18n import translations
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
}


def render(template: str, locale: str, params: dict[str, Any]) -> tuple[str, str]:
    subject, body = TEMPLATES[template]
    gettext = translations(locale).gettext
    return gettext(subject) % params, gettext(body) % params


def queue(session: Session, to: str, template: str, locale: str, params: dict[str, Any]) -> None:
    subject, body = render(template, locale, params)
    jobs.enqueue(session, "send_mail", {"to": to, "subject": subject, "body": body})


def build_message(settings: Settings, payload: dict[str, Any], job_id: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    # The same job always carries the same Message-ID, so a retried send can be recognised.
    message["Message-ID"] = make_msgid(idstring=f"job{job_id}", domain="ideas-portal")
    message.set_content(payload["body"])
    return message


def send(settings: Settings, payload: dict[str, Any], job_id: int) -> None:
    message = build_message(settings, payload, job_id)
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
