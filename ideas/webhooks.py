"""Outgoing webhooks: an admin names a URL, a secret and the events it wants; each event is a
JSON body POSTed to it, signed with HMAC-SHA256 of the exact body bytes and the secret.

`emit` is called by the domain inside the transaction of the change: it stores one delivery per
webhook that wants the event, and one job per delivery, so a change that is rolled back sends
nothing. The worker's `deliver` sends it; a non-2xx answer or no answer raises, and the job table
retries with its backoff (10 s, 20 s, 40 s … at most an hour apart) up to MAX_ATTEMPTS times.
Every attempt sends the same body with the same delivery id: receivers de-duplicate by it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ideas import audit, jobs
from ideas.db import Database
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import Idea, Job, RoadmapItem, User, Webhook, WebhookDelivery, utcnow
from ideas.settings import Settings

log = logging.getLogger(__name__)

EVENTS = (
    "idea.created",
    "idea.status_changed",
    "idea.merged",
    "roadmap_item.changed",
    "weekly_export.ready",
    "ping",
)
EVENT_LABELS = {
    "idea.created": N_("An idea is submitted"),
    "idea.status_changed": N_("An idea's status changes"),
    "idea.merged": N_("An idea is merged into another"),
    "roadmap_item.changed": N_("A roadmap item is created, moved, edited or (un)linked"),
    "weekly_export.ready": N_("The weekly export is ready"),
    "ping": N_("A test event sent from this page"),
}
# What a webhook can subscribe to; "ping" is only sent by an admin's "send a test event".
SUBSCRIBABLE = tuple(event for event in EVENTS if event != "ping")

JOB = "webhook"
MAX_ATTEMPTS = 12  # 10 s, 20 s, 40 s … 2560 s, then an hour: about 3.5 hours in all
TIMEOUT = 10.0  # seconds for the receiver to answer
RESPONSE_LIMIT = 2000  # characters of the receiver's answer kept in the log
LOG_LIMIT = 50  # deliveries shown per webhook
URL_LIMIT = 2000
DESCRIPTION_LIMIT = 200
SECRET_LIMITS = (16, 200)
USER_AGENT = "ideas-portal-webhooks"
SIGNATURE_HEADER = "X-Ideas-Signature"


class DeliveryFailed(Exception):
    """The receiver answered with a non-2xx status, or not at all: the job is retried."""


# Signing -----------------------------------------------------------------------------------


def body_of(payload: dict[str, Any]) -> bytes:
    """The JSON body, the same bytes for the same payload (sorted keys, no spaces, UTF-8)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: "sha256=" and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers: True when `header` (X-Ideas-Signature) signs these exact body bytes."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


# Admin ---------------------------------------------------------------------------------------


def _ensure_admin(actor: User) -> None:
    if not actor.is_admin or actor.is_blocked:
        raise Forbidden()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and url.isprintable()
        and not any(char.isspace() for char in url)
    )


def _validate(
    url: str, events: Iterable[str], description: str, secret: str | None = None
) -> tuple[str, list[str], str]:
    errors = Errors()
    url, description = url.strip(), description.strip()
    errors.check_length("url", url, 1, URL_LIMIT)
    if url and "url" not in errors.fields and not _is_http_url(url):
        errors.add("url", N_("An address starting with http:// or https:// and a host name."))
    wanted = list(dict.fromkeys(events))
    unknown = [event for event in wanted if event not in SUBSCRIBABLE]
    if unknown:
        errors.add("events", N_("Unknown events: %(events)s."), events=", ".join(unknown))
    elif not wanted:
        errors.add("events", N_("Choose at least one event."))
    errors.check_length("description", description, 0, DESCRIPTION_LIMIT)
    if secret is not None:
        errors.check_length("secret", secret, *SECRET_LIMITS)
        if secret and (not secret.isascii() or not secret.isprintable() or " " in secret):
            errors.add("secret", N_("Letters, digits and punctuation only, without spaces."))
    errors.raise_if_any()
    return url, [event for event in SUBSCRIBABLE if event in wanted], description


def create(
    session: Session,
    actor: User,
    url: str,
    events: Iterable[str],
    description: str = "",
    active: bool = True,
    secret: str = "",
) -> Webhook:
    """A new webhook; without a secret one is made (`secrets.token_urlsafe`)."""
    _ensure_admin(actor)
    secret = secret.strip()
    url, wanted, description = _validate(url, events, description, secret or None)
    webhook = Webhook(
        url=url,
        secret=secret or new_secret(),
        events=wanted,
        active=active,
        description=description,
        created_by_id=actor.id,
    )
    session.add(webhook)
    session.flush()
    audit.record(session, actor, "webhook.create", "webhook", webhook.id, url=url, events=wanted)
    return webhook


def update(
    session: Session,
    actor: User,
    webhook: Webhook,
    url: str,
    events: Iterable[str],
    description: str,
    active: bool,
) -> None:
    """Changes what the webhook wants and where it goes (the secret: see `rotate_secret`)."""
    _ensure_admin(actor)
    url, wanted, description = _validate(url, events, description)
    audit.record(
        session,
        actor,
        "webhook.update",
        "webhook",
        webhook.id,
        url=url,
        events=wanted,
        active=active,
        old_url=webhook.url,
        old_events=list(webhook.events),
        old_active=webhook.active,
    )
    webhook.url, webhook.events, webhook.description = url, wanted, description
    webhook.active = active


def rotate_secret(session: Session, actor: User, webhook: Webhook) -> str:
    """A new secret; deliveries not yet sent are signed with it (bodies are signed when sent)."""
    _ensure_admin(actor)
    webhook.secret = new_secret()
    audit.record(session, actor, "webhook.rotate_secret", "webhook", webhook.id)
    return webhook.secret


def delete(session: Session, actor: User, webhook: Webhook) -> None:
    """Removes the webhook and its delivery log; what was still to be sent is not sent."""
    _ensure_admin(actor)
    audit.record(session, actor, "webhook.delete", "webhook", webhook.id, url=webhook.url)
    session.delete(webhook)
    session.flush()


def ping(session: Session, actor: User, webhook: Webhook) -> WebhookDelivery:
    """A test event for this webhook alone, sent even when it is inactive."""
    _ensure_admin(actor)
    audit.record(session, actor, "webhook.ping", "webhook", webhook.id)
    data = {"webhook": {"id": webhook.id}, "actor": _person(actor)}
    return _queue(session, webhook, "ping", data)


def get(session: Session, webhook_id: int) -> Webhook:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(N_("There is no such webhook."))
    return webhook


def all_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def deliveries(session: Session, webhook: Webhook, limit: int = LOG_LIMIT) -> list[WebhookDelivery]:
    """The latest deliveries, newest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# Emitting ------------------------------------------------------------------------------------


def emit(session: Session, event: str, data: dict[str, Any]) -> int:
    """Queues the event for every active webhook that wants it, in the caller's transaction;
    returns how many deliveries were queued. `data` must be JSON; paths in keys named "url" or
    ending in "_url" ("/ideas/12") are sent as full addresses (BASE_URL + path)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = [
        webhook
        for webhook in session.scalars(select(Webhook).where(Webhook.active.is_(True)))
        if event in webhook.events
    ]
    for webhook in hooks:
        _queue(session, webhook, event, data)
    return len(hooks)


def _queue(session: Session, webhook: Webhook, event: str, data: dict[str, Any]) -> WebhookDelivery:
    delivery_id = str(uuid.uuid4())
    payload = {"id": delivery_id, "event": event, "created_at": utcnow().isoformat(), "data": data}
    delivery = WebhookDelivery(webhook_id=webhook.id, event=event, payload=payload)
    session.add(delivery)
    session.flush()
    jobs.enqueue(
        session,
        JOB,
        {"delivery_id": delivery.id, "id": delivery_id},
        max_attempts=MAX_ATTEMPTS,
        key=f"webhook:{delivery_id}",
    )
    return delivery


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "name": user.name}


def idea_data(idea: Idea) -> dict[str, Any]:
    """An idea as webhooks show it: small, with its address."""
    return {
        "id": idea.id,
        "title": idea.title,
        "status": idea.status,
        "board_id": idea.board_id,
        "url": f"/ideas/{idea.id}",
    }


def item_data(item: RoadmapItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "status": item.status,
        "target": item.target,
        "url": f"/roadmap#item-{item.id}",
    }


def idea_created(session: Session, idea: Idea, author: User) -> None:
    emit(
        session,
        "idea.created",
        {
            "idea": {**idea_data(idea), "description": idea.description},
            "author": _person(author),
        },
    )


def status_changed(
    session: Session, actor: User, idea: Idea, old: str, new: str, note: str
) -> None:
    emit(
        session,
        "idea.status_changed",
        {"idea": idea_data(idea), "from": old, "to": new, "note": note, "actor": _person(actor)},
    )


def merged(session: Session, actor: User, source: Idea, target: Idea) -> None:
    emit(
        session,
        "idea.merged",
        {"idea": idea_data(source), "into": idea_data(target), "actor": _person(actor)},
    )


def roadmap_changed(
    session: Session, actor: User, item: RoadmapItem, action: str, **details: Any
) -> None:
    """`action`: "created", "moved", "updated", "linked" or "unlinked", with its details."""
    emit(
        session,
        "roadmap_item.changed",
        {"action": action, "item": item_data(item), "actor": _person(actor), **details},
    )


# Delivering ----------------------------------------------------------------------------------


def _absolute(value: Any, base_url: str, key: str = "") -> Any:
    if isinstance(value, dict):
        return {name: _absolute(inner, base_url, name) for name, inner in value.items()}
    if isinstance(value, list):
        return [_absolute(inner, base_url) for inner in value]
    if (
        isinstance(value, str)
        and (key == "url" or key.endswith("_url"))
        and value.startswith("/")
        and not value.startswith("//")
    ):
        return base_url.rstrip("/") + value
    return value


def deliver(db: Database, settings: Settings, job: jobs.ClaimedJob) -> None:
    """Sends one delivery and records how it went. Raises DeliveryFailed on a non-2xx answer or
    none, so that the job table retries it; the last attempt marks the delivery failed."""
    with db.reading() as session:
        delivery = session.get(WebhookDelivery, job.payload["delivery_id"])
        if delivery is None or delivery.payload.get("id") != job.payload["id"]:
            return  # its webhook was deleted
        if delivery.delivered_at is not None or delivery.failed_at is not None:
            return  # a retry of a job whose worker stopped after recording the answer
        webhook = session.get_one(Webhook, delivery.webhook_id)
        if not webhook.active and delivery.event != "ping":
            skipped = True
        else:
            skipped = False
            body = body_of(_absolute(delivery.payload, settings.base_url))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Ideas-Event": delivery.event,
                "X-Ideas-Delivery": job.payload["id"],
                SIGNATURE_HEADER: sign(webhook.secret, body),
            }
            url = webhook.url
    if skipped:
        with db.transaction() as session:
            found = session.get(WebhookDelivery, job.payload["delivery_id"])
            if found is not None:
                found.last_error = "The webhook was switched off before this was sent."
                found.failed_at = utcnow()
        return
    status: int | None = None
    answer: str | None = None
    error: str | None = None
    try:
        status, answer = _post(url, body, headers)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:RESPONSE_LIMIT]
    ok = status is not None and 200 <= status < 300
    _record(db, job, status, answer, error, ok)
    if not ok:
        raise DeliveryFailed(error or f"HTTP {status}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POSTs the body; the status and the start of the answer (read no further than needed)."""
    with (
        httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        kept = b""
        for chunk in response.iter_bytes():
            kept += chunk
            if len(kept) >= RESPONSE_LIMIT * 4:  # enough for RESPONSE_LIMIT characters
                break
        text = kept.decode(response.encoding or "utf-8", errors="replace")
        return response.status_code, text[:RESPONSE_LIMIT]


def _record(
    db: Database,
    job: jobs.ClaimedJob,
    status: int | None,
    answer: str | None,
    error: str | None,
    ok: bool,
) -> None:
    with db.transaction() as session:
        delivery = session.get(WebhookDelivery, job.payload["delivery_id"])
        if delivery is None:
            return  # deleted meanwhile
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status, delivery.last_response, delivery.last_error = status, answer, error
        row = session.get(Job, job.id)
        last = row is None or job.attempts >= row.max_attempts
        if ok:
            delivery.delivered_at = now
        elif last:
            delivery.failed_at = now
