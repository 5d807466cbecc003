"""The admin's webhook pages: make one from the form (its secret shown), edit it, rotate its
secret, send a test event to a real local receiver and read the delivery log, delete it; bad
input comes back with a message per field; members and staff are refused."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import jobs, webhooks, worker
from ideas.db import Database
from ideas.models import User, Webhook, WebhookDelivery
from ideas.settings import Settings
from tests.conftest import Receiver, csrf_of, sign_in


def _post(client: TestClient, path: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client, "/")
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _hooks(db: Database) -> list[Webhook]:
    with db.reading() as session:
        return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def _run_worker(db: Database, settings: Settings) -> None:
    while jobs.run_due(db, worker.handlers(db, settings)):
        pass


def _make(db: Database, admin: User, url: str, events=("idea.created",)) -> Webhook:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return webhooks.create(session, session.get_one(User, admin.id), url, events)


def test_an_admin_makes_a_webhook_and_sees_its_secret(
    client: TestClient, db: Database, make_user
) -> None:
    sign_in(client, make_user("admin").email)
    page = client.get("/admin/webhooks")
    assert page.status_code == 200
    assert 'name="event:roadmap_item.changed"' in page.text
    assert 'name="event:ping"' not in page.text  # a test event, sent from a webhook's page

    response = _post(
        client,
        "/admin/webhooks",
        {
            "url": "https://hooks.example.com/ideas",
            "description": "Our CRM",
            "event:idea.created": "1",
            "event:idea.merged": "1",
            "active": "1",
        },
    )

    assert response.status_code == 303
    [hook] = _hooks(db)
    assert response.headers["location"] == f"/admin/webhooks/{hook.id}?secret=shown"
    assert (hook.url, hook.description, hook.active) == (
        "https://hooks.example.com/ideas",
        "Our CRM",
        True,
    )
    assert hook.events == ["idea.created", "idea.merged"]
    shown = client.get(response.headers["location"]).text
    assert f'<code id="webhook-secret">{hook.secret}</code>' in shown
    assert "<details open>" in shown  # open right after it is made
    assert "Copy its secret to the receiver now." in _text(shown)
    assert "<details open>" not in client.get(f"/admin/webhooks/{hook.id}").text
    listing = _text(client.get("/admin/webhooks").text)
    assert "https://hooks.example.com/ideas" in listing and "Our CRM" in listing


def test_a_given_secret_and_an_inactive_webhook(
    client: TestClient, db: Database, make_user
) -> None:
    sign_in(client, make_user("admin").email)
    response = _post(
        client,
        "/admin/webhooks",
        {
            "url": "http://127.0.0.1:9000/in",
            "event:roadmap_item.changed": "1",
            "secret": "our-own-secret-0123",
        },
    )
    assert response.status_code == 303
    [hook] = _hooks(db)
    assert hook.secret == "our-own-secret-0123" and not hook.active
    assert hook.events == ["roadmap_item.changed"]


def test_bad_input_comes_back_with_a_message_per_field(
    client: TestClient, db: Database, make_user
) -> None:
    sign_in(client, make_user("admin").email)

    response = _post(
        client,
        "/admin/webhooks",
        {"url": "ftp://files.example.com", "description": "Kept as typed", "secret": "short"},
    )

    assert response.status_code == 400
    assert _hooks(db) == []
    html = response.text
    assert 'id="url-error"' in html and "http:// or https://" in html
    assert 'id="events-error"' in html and "Choose at least one event." in html
    assert 'id="secret-error"' in html and "At least 16 characters." in html
    assert 'value="Kept as typed"' in html and 'value="ftp://files.example.com"' in html

    unknown = _post(client, "/admin/webhooks", {"url": "https://x.example", "event:nope": "1"})
    assert unknown.status_code == 400
    assert "Unknown events: nope." in unknown.text
    assert _hooks(db) == []


def test_an_admin_edits_rotates_and_deletes_a_webhook(
    client: TestClient, db: Database, make_user
) -> None:
    admin = make_user("admin")
    hook = _make(db, admin, "https://hooks.example.com/a")
    sign_in(client, admin.email)
    page = client.get(f"/admin/webhooks/{hook.id}").text
    assert 'name="event:idea.created" value="1" checked' in page
    assert 'name="secret"' not in page  # a new secret comes from "rotate"

    refused = _post(client, f"/admin/webhooks/{hook.id}", {"url": "hooks.example.com"})
    assert refused.status_code == 400
    assert 'id="url-error"' in refused.text and 'id="events-error"' in refused.text
    assert _hooks(db)[0].url == "https://hooks.example.com/a"

    saved = _post(
        client,
        f"/admin/webhooks/{hook.id}",
        {"url": "https://hooks.example.com/b", "event:idea.status_changed": "1"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/webhooks/{hook.id}"
    [changed] = _hooks(db)
    assert (changed.url, changed.events, changed.active) == (
        "https://hooks.example.com/b",
        ["idea.status_changed"],
        False,
    )

    rotated = _post(client, f"/admin/webhooks/{hook.id}/rotate")
    assert rotated.headers["location"] == f"/admin/webhooks/{hook.id}?secret=shown"
    [after] = _hooks(db)
    assert after.secret != hook.secret
    assert (
        f'<code id="webhook-secret">{after.secret}</code>'
        in client.get(rotated.headers["location"]).text
    )

    deleted = _post(client, f"/admin/webhooks/{hook.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/webhooks"
    assert _hooks(db) == []
    assert client.get(f"/admin/webhooks/{hook.id}").status_code == 404


def test_a_test_event_reaches_the_receiver_and_shows_in_the_log(
    client: TestClient, db: Database, settings: Settings, make_user, receiver: Receiver
) -> None:
    admin = make_user("admin")
    hook = _make(db, admin, f"{receiver.url}/in")
    sign_in(client, admin.email)
    receiver.statuses = [500]

    assert _post(client, f"/admin/webhooks/{hook.id}/ping").status_code == 303
    _run_worker(db, settings)

    [request] = receiver.requests
    assert request.headers["x-ideas-event"] == "ping"
    assert webhooks.verify_signature(
        hook.secret, request.body, request.headers["x-ideas-signature"]
    )
    with db.reading() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
    log = client.get(f"/admin/webhooks/{hook.id}").text
    row = _text(log.split(f'id="delivery-{delivery.id}"', 1)[1].split("</tr>", 1)[0])
    assert "ping" in row and request.headers["x-ideas-delivery"] in row
    assert "Retrying" in row and "HTTP 500" in row and "boom 500" in row
    assert "DeliveryFailed" not in row  # the job's error stays in the job table
    listing = _text(client.get("/admin/webhooks").text)
    assert "Retrying" in listing


def test_members_and_staff_are_refused(client: TestClient, db: Database, make_user) -> None:
    admin = make_user("admin")
    hook = _make(db, admin, "https://hooks.example.com/a")
    for role in ("member", "staff"):
        client.cookies.clear()
        sign_in(client, make_user(role).email)
        assert client.get("/admin/webhooks").status_code == 403
        assert client.get(f"/admin/webhooks/{hook.id}").status_code == 403
        created = _post(
            client, "/admin/webhooks", {"url": "https://x.example", "event:idea.created": "1"}
        )
        assert created.status_code == 403
        assert _post(client, f"/admin/webhooks/{hook.id}/ping").status_code == 403
        assert _post(client, f"/admin/webhooks/{hook.id}/delete").status_code == 403
        assert "/admin/webhooks" not in client.get("/").text  # not in their menu
    assert [found.id for found in _hooks(db)] == [hook.id]
    with db.reading() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
    client.cookies.clear()
    sign_in(client, admin.email)
    assert 'href="/admin/webhooks"' in client.get("/").text
