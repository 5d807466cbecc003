"""Outgoing webhooks, against a real local HTTP receiver: each event comes from the real domain
action, signed with HMAC-SHA256 of the exact body; a 500 or no answer is retried with the same
delivery id and body until the last attempt; the log keeps the last answer; a change rolled
back sends nothing; inactive and unsubscribed webhooks get nothing; bad input is refused per
field."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ideas import ideas as idea_rules
from ideas import jobs, merges, roadmap, webhooks, worker
from ideas.db import Database
from ideas.errors import Forbidden, ValidationError
from ideas.models import AuditEntry, Idea, Job, User, Webhook, WebhookDelivery, utcnow
from ideas.settings import Settings
from tests.conftest import Receiver, free_port


def make_hook(
    db: Database, admin: User, url: str, events: tuple[str, ...] = ("idea.created",), **kw: Any
) -> Webhook:
    with db.transaction() as session:
        return webhooks.create(session, session.get_one(User, admin.id), url, events, **kw)


def run_worker(db: Database, settings: Settings) -> int:
    total = 0
    while done := jobs.run_due(db, worker.handlers(db, settings)):
        total += done
    return total


def retry_now(db: Database) -> None:
    """Brings the retries' time forward: backoff is for real receivers, not for tests."""
    with db.transaction() as session:
        session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))


def payload_of(request: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.body)
    return data


def only_delivery(db: Database) -> WebhookDelivery:
    with db.reading() as session:
        return session.scalars(select(WebhookDelivery)).one()


def count(db: Database, model: Any) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_idea_reaches_the_receiver_as_signed_json(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    hook = make_hook(db, admin, f"{receiver.url}/hooks/ideas", description="CRM")
    author = make_user(name="Ada Author")

    idea = make_idea("Export the roadmap as CSV", "Every Monday, please.", author=author)
    assert receiver.requests == []  # queued in the job table, not sent from the request
    assert run_worker(db, settings) == 1

    [request] = receiver.requests
    assert request.path == "/hooks/ideas"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-ideas-event"] == "idea.created"
    # The signature is the HMAC-SHA256 of the raw body bytes with the webhook's secret.
    expected = hmac.new(hook.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-ideas-signature"] == f"sha256={expected}"
    assert webhooks.verify_signature(
        hook.secret, request.body, request.headers["x-ideas-signature"]
    )
    assert not webhooks.verify_signature("another secret!!", request.body, f"sha256={expected}")
    assert not webhooks.verify_signature(hook.secret, request.body + b" ", f"sha256={expected}")
    assert not webhooks.verify_signature(hook.secret, request.body, None)

    body = payload_of(request)
    assert body["id"] == request.headers["x-ideas-delivery"]
    assert body["event"] == "idea.created"
    assert body["data"]["idea"] == {
        "id": idea.id,
        "title": "Export the roadmap as CSV",
        "description": "Every Monday, please.",
        "status": "open",
        "board_id": idea.board_id,
        "url": f"{settings.base_url}/ideas/{idea.id}",  # the path, made absolute when sent
    }
    assert body["data"]["author"] == {"id": author.id, "name": "Ada Author"}
    assert "email" not in request.body.decode()

    delivery = only_delivery(db)
    assert delivery.delivered_at is not None and delivery.failed_at is None
    assert (delivery.attempts, delivery.last_status, delivery.last_response) == (1, 200, "ok")
    assert delivery.last_error is None


def test_every_event_comes_from_its_domain_action(
    db, settings, make_user, make_board, make_idea, receiver: Receiver
) -> None:
    admin, team = make_user("admin"), make_user("staff", name="Tess Team")
    hook = make_hook(db, admin, receiver.url, webhooks.SUBSCRIBABLE)
    board = make_board()
    first = make_idea("Offline mode for the app", board=board)
    second = make_idea("Work without a connection", board=board)
    third = make_idea("Dark mode for the dashboard", board=board)
    with db.transaction() as session:
        actor = session.get_one(User, team.id)
        one, two, three = (session.get_one(Idea, idea.id) for idea in (first, second, third))
        idea_rules.set_status(session, actor, one, "under_review", "Looking into it.")
        idea_rules.set_status(session, actor, one, "under_review", "A note alone.")
        merges.merge(session, actor, two, one)
    with db.transaction() as session:
        actor = session.get_one(User, team.id)
        one, three = session.get_one(Idea, first.id), session.get_one(Idea, third.id)
        item = roadmap.create(session, actor, roadmap.Fields("Offline", target="2027-Q1"), [one])
        roadmap.move(session, actor, item, "in_progress", note="Started.")
        roadmap.update(session, actor, item, roadmap.Fields("Offline mode", target="2027-Q1"))
        roadmap.link(session, actor, item, [three])
        roadmap.unlink(session, actor, item, [three.id])
        item_id = item.id

    run_worker(db, settings)

    bodies = [payload_of(request) for request in receiver.requests]
    for request in receiver.requests:
        assert webhooks.verify_signature(
            hook.secret, request.body, request.headers["x-ideas-signature"]
        )
        assert request.headers["x-ideas-event"] == payload_of(request)["event"]
    summary = sorted(
        (body["event"], body["data"].get("action", ""), body["data"].get("idea", {}).get("id", 0))
        for body in bodies
    )
    assert summary == sorted(
        [
            ("idea.created", "", first.id),
            ("idea.created", "", second.id),
            ("idea.created", "", third.id),
            ("idea.status_changed", "", first.id),  # open -> under review (a note alone: none)
            ("idea.merged", "", second.id),
            ("roadmap_item.changed", "created", 0),
            ("idea.status_changed", "", first.id),  # under review -> planned, by the item
            ("roadmap_item.changed", "moved", 0),
            ("idea.status_changed", "", first.id),  # planned -> in progress
            ("roadmap_item.changed", "updated", 0),
            ("roadmap_item.changed", "linked", 0),
            ("idea.status_changed", "", third.id),  # open -> in progress, joining the item
            ("roadmap_item.changed", "unlinked", 0),
        ]
    )
    changes = [
        (body["data"]["idea"]["id"], body["data"]["from"], body["data"]["to"])
        for body in bodies
        if body["event"] == "idea.status_changed"
    ]
    assert sorted(changes) == sorted(
        [
            (first.id, "open", "under_review"),
            (first.id, "under_review", "planned"),
            (first.id, "planned", "in_progress"),
            (third.id, "open", "in_progress"),
        ]
    )
    notes = {
        body["data"]["to"]: body["data"]["note"]
        for body in bodies
        if body["event"] == "idea.status_changed" and body["data"]["idea"]["id"] == first.id
    }
    assert notes == {"under_review": "Looking into it.", "planned": "", "in_progress": "Started."}
    assert {
        json.dumps(body["data"]["actor"]) for body in bodies if body["event"] != "idea.created"
    } == {json.dumps({"id": team.id, "name": "Tess Team"})}
    [merged] = [body["data"] for body in bodies if body["event"] == "idea.merged"]
    assert merged["idea"]["title"] == "Work without a connection"
    assert merged["into"]["id"] == first.id
    assert merged["into"]["url"] == f"{settings.base_url}/ideas/{first.id}"
    items = {b["data"]["action"]: b["data"] for b in bodies if b["event"] == "roadmap_item.changed"}
    assert items["created"]["item"] == {
        "id": item_id,
        "title": "Offline",
        "status": "planned",
        "target": "2027-Q1",
        "url": f"{settings.base_url}/roadmap#item-{item_id}",
    }
    assert items["created"]["idea_ids"] == [first.id]
    assert (items["moved"]["from"], items["moved"]["to"]) == ("planned", "in_progress")
    assert items["moved"]["note"] == "Started."
    assert items["updated"]["fields"] == ["title"]
    assert items["updated"]["item"]["title"] == "Offline mode"
    assert items["linked"]["idea_ids"] == items["unlinked"]["idea_ids"] == [third.id]
    # one delivery id per delivery
    assert len({body["id"] for body in bodies}) == len(bodies) == 13


def test_a_500_is_retried_with_the_same_delivery_id_and_body(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    hook = make_hook(db, admin, receiver.url)
    receiver.statuses = [500]
    make_idea()

    before = utcnow()
    assert run_worker(db, settings) == 1
    assert len(receiver.requests) == 1
    failed = only_delivery(db)
    assert (failed.attempts, failed.last_status, failed.last_response) == (1, 500, "boom 500")
    assert failed.delivered_at is None and failed.failed_at is None
    with db.reading() as session:
        job = session.scalars(select(Job).where(Job.kind == "webhook")).one()
    assert job.done_at is None and job.failed_at is None
    assert job.last_error == "DeliveryFailed: HTTP 500"
    assert job.run_at >= before + jobs.backoff(1)  # waits before trying again
    assert job.max_attempts == webhooks.MAX_ATTEMPTS

    assert run_worker(db, settings) == 0  # not due yet
    retry_now(db)
    assert run_worker(db, settings) == 1

    first, second = receiver.requests
    assert second.headers["x-ideas-delivery"] == first.headers["x-ideas-delivery"]
    assert second.body == first.body
    assert second.headers["x-ideas-signature"] == first.headers["x-ideas-signature"]
    assert webhooks.verify_signature(hook.secret, second.body, second.headers["x-ideas-signature"])
    delivered = only_delivery(db)
    assert (delivered.attempts, delivered.last_status, delivered.last_response) == (2, 200, "ok")
    assert delivered.delivered_at is not None and delivered.last_error is None
    with db.reading() as session:
        assert session.get_one(Job, job.id).done_at is not None
    retry_now(db)
    assert run_worker(db, settings) == 0
    assert len(receiver.requests) == 2


def test_the_last_attempt_marks_the_delivery_failed(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    make_hook(db, admin, receiver.url)
    receiver.statuses = [503] * webhooks.MAX_ATTEMPTS
    make_idea()

    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        assert run_worker(db, settings) == 1
        delivery = only_delivery(db)
        assert delivery.attempts == attempt
        assert (delivery.failed_at is not None) == (attempt == webhooks.MAX_ATTEMPTS)
        retry_now(db)

    assert run_worker(db, settings) == 0
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert len({request.headers["x-ideas-delivery"] for request in receiver.requests}) == 1
    delivery = only_delivery(db)
    assert (delivery.last_status, delivery.last_response) == (503, "boom 503")
    assert delivery.delivered_at is None
    with db.reading() as session:
        job = session.scalars(select(Job).where(Job.kind == "webhook")).one()
    assert job.failed_at is not None


def test_no_answer_is_logged_and_retried(db, settings, make_user, make_idea) -> None:
    admin = make_user("admin")
    make_hook(db, admin, f"http://127.0.0.1:{free_port()}/nobody-listens")
    make_idea()

    assert run_worker(db, settings) == 1
    delivery = only_delivery(db)
    assert delivery.attempts == 1 and delivery.last_status is None
    assert delivery.last_error and "ConnectError" in delivery.last_error
    assert delivery.delivered_at is None and delivery.failed_at is None
    with db.reading() as session:
        job = session.scalars(select(Job).where(Job.kind == "webhook")).one()
    assert job.done_at is None and job.last_error and "ConnectError" in job.last_error


def test_a_long_answer_is_cut_short_in_the_log(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    make_hook(db, make_user("admin"), receiver.url)
    receiver.answer = "é".encode() * 50_000
    make_idea()
    run_worker(db, settings)
    delivery = only_delivery(db)
    assert delivery.last_response == "é" * webhooks.RESPONSE_LIMIT


def test_a_change_rolled_back_sends_nothing(
    db, settings, make_user, make_board, receiver: Receiver
) -> None:
    make_hook(db, make_user("admin"), receiver.url)
    author, board = make_user(), make_board()

    with pytest.raises(RuntimeError), db.transaction() as session:
        idea_rules.submit(session, session.get_one(User, author.id), board, "A fine idea", "")
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        raise RuntimeError("something else failed")

    assert count(db, WebhookDelivery) == 0
    assert count(db, Job) == 0
    assert run_worker(db, settings) == 0
    assert receiver.requests == []


def test_inactive_and_unsubscribed_webhooks_get_nothing(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    make_hook(db, admin, f"{receiver.url}/wants", ("idea.created", "idea.merged"))
    make_hook(db, admin, f"{receiver.url}/inactive", ("idea.created",), active=False)
    make_hook(db, admin, f"{receiver.url}/other", ("idea.status_changed",))
    switched_off = make_hook(db, admin, f"{receiver.url}/switched-off", ("idea.created",))

    make_idea()
    with db.transaction() as session:  # after the event, before the worker sends it
        webhook, actor = session.get_one(Webhook, switched_off.id), session.get_one(User, admin.id)
        webhooks.update(session, actor, webhook, webhook.url, webhook.events, "", active=False)
    run_worker(db, settings)

    assert [request.path for request in receiver.requests] == ["/wants"]
    with db.reading() as session:
        skipped = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == switched_off.id)
        ).one()
    assert skipped.attempts == 0 and skipped.failed_at is not None and skipped.last_error


def test_a_ping_is_sent_to_that_webhook_only_even_inactive(
    db, settings, make_user, receiver: Receiver
) -> None:
    admin = make_user("admin", name="Ann Admin")
    hook = make_hook(db, admin, f"{receiver.url}/off", active=False)
    make_hook(db, admin, f"{receiver.url}/other")
    with db.transaction() as session:
        webhooks.ping(session, session.get_one(User, admin.id), session.get_one(Webhook, hook.id))
    run_worker(db, settings)

    [request] = receiver.requests
    assert request.path == "/off" and request.headers["x-ideas-event"] == "ping"
    assert payload_of(request)["data"] == {
        "webhook": {"id": hook.id},
        "actor": {"id": admin.id, "name": "Ann Admin"},
    }
    assert webhooks.verify_signature(
        hook.secret, request.body, request.headers["x-ideas-signature"]
    )
    with pytest.raises(ValueError), db.transaction() as session:
        webhooks.emit(session, "idea.deleted", {})


def test_a_rotated_secret_signs_what_is_sent_next(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    hook = make_hook(db, admin, receiver.url)
    assert len(hook.secret) >= 40  # token_urlsafe(32)
    make_idea()
    with db.transaction() as session:
        secret = webhooks.rotate_secret(
            session, session.get_one(User, admin.id), session.get_one(Webhook, hook.id)
        )
    assert secret != hook.secret
    run_worker(db, settings)
    [request] = receiver.requests
    signature = request.headers["x-ideas-signature"]
    assert webhooks.verify_signature(secret, request.body, signature)
    assert not webhooks.verify_signature(hook.secret, request.body, signature)
    with db.reading() as session:  # the audit log never holds a secret
        details = [json.dumps(entry.details) for entry in session.scalars(select(AuditEntry))]
    assert details and not any(secret in text or hook.secret in text for text in details)


def test_a_deleted_webhook_sends_nothing_more(
    db, settings, make_user, make_idea, receiver: Receiver
) -> None:
    admin = make_user("admin")
    hook = make_hook(db, admin, receiver.url)
    make_idea()
    with db.transaction() as session:
        webhooks.delete(session, session.get_one(User, admin.id), session.get_one(Webhook, hook.id))
    assert count(db, WebhookDelivery) == 0
    assert run_worker(db, settings) == 1  # the job finds nothing to send
    assert receiver.requests == []
    with db.reading() as session:
        assert session.scalars(select(Job)).one().done_at is not None


def test_a_given_secret_is_kept_and_events_are_stored_in_their_order(db, make_user) -> None:
    hook = make_hook(
        db,
        make_user("admin"),
        "  https://hooks.example.com/ideas?team=1  ",
        ("roadmap_item.changed", "idea.created", "idea.created"),
        secret="a-secret-of-our-own",
    )
    assert hook.secret == "a-secret-of-our-own"
    assert hook.url == "https://hooks.example.com/ideas?team=1"
    assert hook.events == ["idea.created", "roadmap_item.changed"]
    assert hook.active


@pytest.mark.parametrize(
    ("url", "events", "description", "secret", "fields"),
    [
        ("", ("idea.created",), "", "", {"url"}),
        ("ftp://example.com/x", ("idea.created",), "", "", {"url"}),
        ("https://", ("idea.created",), "", "", {"url"}),
        ("example.com/hook", ("idea.created",), "", "", {"url"}),
        ("http://example.com:port/", ("idea.created",), "", "", {"url"}),
        ("http://exa mple.com/", ("idea.created",), "", "", {"url"}),
        ("https://" + "a" * 2000 + ".com", ("idea.created",), "", "", {"url"}),
        ("https://example.com", (), "", "", {"events"}),
        ("https://example.com", ("idea.created", "idea.deleted"), "", "", {"events"}),
        ("https://example.com", ("ping",), "", "", {"events"}),
        ("https://example.com", ("idea.created",), "x" * 201, "", {"description"}),
        ("https://example.com", ("idea.created",), "", "short", {"secret"}),
        ("https://example.com", ("idea.created",), "", "has spaces in it, see", {"secret"}),
        ("nope", (), "x" * 201, "short", {"url", "events", "description", "secret"}),
    ],
)
def test_bad_input_is_refused_per_field(
    db, make_user, url: str, events: tuple[str, ...], description: str, secret: str, fields
) -> None:
    admin = make_user("admin")
    with pytest.raises(ValidationError) as refused, db.transaction() as session:
        webhooks.create(
            session, session.get_one(User, admin.id), url, events, description, secret=secret
        )
    assert set(refused.value.fields) == fields
    assert count(db, Webhook) == 0


def test_only_admins_manage_webhooks(db, make_user) -> None:
    admin = make_user("admin")
    hook = make_hook(db, admin, "https://example.com/hook")
    for role in ("member", "staff"):
        person = make_user(role)
        with db.transaction() as session:
            actor, webhook = session.get_one(User, person.id), session.get_one(Webhook, hook.id)
            with pytest.raises(Forbidden):
                webhooks.create(session, actor, "https://example.com/x", ("idea.created",))
            with pytest.raises(Forbidden):
                webhooks.update(session, actor, webhook, webhook.url, webhook.events, "", True)
            with pytest.raises(Forbidden):
                webhooks.rotate_secret(session, actor, webhook)
            with pytest.raises(Forbidden):
                webhooks.ping(session, actor, webhook)
            with pytest.raises(Forbidden):
                webhooks.delete(session, actor, webhook)
    assert count(db, Webhook) == 1 and count(db, WebhookDelivery) == 0
