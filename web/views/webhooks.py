"""Admin pages for outgoing webhooks: the list, a new one, its page (edit, secret, rotate, test
event, delete) and its delivery log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import webhooks
from ideas.errors import N_, ValidationError
from ideas.models import Webhook
from web.forms import text, with_form
from web.views.common import admin, db, flash, pages

EVENT_FIELD = "event:"  # one checkbox per event: "event:idea.created"

LABELS = {"EVENTS": webhooks.SUBSCRIBABLE, "EVENT_LABELS": webhooks.EVENT_LABELS}
FIELDS = ["url", "description", "events", "active", "secret"]


def _events(form: dict[str, str]) -> list[str]:
    return [name.removeprefix(EVENT_FIELD) for name in form if name.startswith(EVENT_FIELD)]


def _form_of(webhook: Webhook) -> dict[str, str]:
    return {
        "url": webhook.url,
        "description": webhook.description,
        "active": "1" if webhook.active else "",
        **{EVENT_FIELD + event: "1" for event in webhook.events},
    }


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return pages(request).render(request, name, {**LABELS, **context}, status_code=status)


def webhook_list(
    request: Request, form: dict[str, str] | None = None, errors: dict | None = None
) -> Response:
    admin(request)
    with db(request).reading() as session:
        hooks = webhooks.all_webhooks(session)
        latest = {hook.id: webhooks.deliveries(session, hook, limit=1) for hook in hooks}
    return _render(
        request,
        "admin/webhooks.html",
        {
            "webhooks": hooks,
            "latest": {hook_id: found[0] for hook_id, found in latest.items() if found},
            "form": {"active": "1"} if form is None else form,
            "errors": errors or {},
            "fields": FIELDS,
        },
        status=400 if errors else 200,
    )


@with_form
def webhook_create(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    try:
        with db(request).transaction() as session:
            webhook = webhooks.create(
                session,
                actor,
                text(form, "url"),
                _events(form),
                text(form, "description"),
                active=bool(text(form, "active")),
                secret=text(form, "secret"),
            )
    except ValidationError as error:
        return webhook_list(request, form, error.fields)
    flash(request, N_("The webhook is saved. Copy its secret to the receiver now."))
    return RedirectResponse(_page(request, webhook.id, shown=True), 303)


def _page(request: Request, webhook_id: int, shown: bool = False) -> str:
    path = request.url_for("webhook", id=webhook_id).path
    return f"{path}?secret=shown" if shown else path


def webhook_page(
    request: Request, form: dict[str, str] | None = None, errors: dict | None = None
) -> Response:
    admin(request)
    with db(request).reading() as session:
        webhook = webhooks.get(session, request.path_params["id"])
        log = webhooks.deliveries(session, webhook)
    return _render(
        request,
        "admin/webhook.html",
        {
            "webhook": webhook,
            "deliveries": log,
            "form": _form_of(webhook) if form is None else form,
            "errors": errors or {},
            "fields": FIELDS,
            "show_secret": request.query_params.get("secret") == "shown",
            "log_limit": webhooks.LOG_LIMIT,
        },
        status=400 if errors else 200,
    )


@with_form
def webhook_update(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    try:
        with db(request).transaction() as session:
            webhook = webhooks.get(session, request.path_params["id"])
            webhooks.update(
                session,
                actor,
                webhook,
                text(form, "url"),
                _events(form),
                text(form, "description"),
                active=bool(text(form, "active")),
            )
    except ValidationError as error:
        return webhook_page(request, form, error.fields)
    flash(request, N_("The webhook is saved."))
    return RedirectResponse(_page(request, request.path_params["id"]), 303)


@with_form
def webhook_rotate(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    with db(request).transaction() as session:
        webhook = webhooks.get(session, request.path_params["id"])
        webhooks.rotate_secret(session, actor, webhook)
    flash(request, N_("The webhook has a new secret. Copy it to the receiver now."))
    return RedirectResponse(_page(request, request.path_params["id"], shown=True), 303)


@with_form
def webhook_ping(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    with db(request).transaction() as session:
        webhook = webhooks.get(session, request.path_params["id"])
        webhooks.ping(session, actor, webhook)
    flash(request, N_("A test event is on its way; its delivery shows below."))
    return RedirectResponse(_page(request, request.path_params["id"]), 303)


@with_form
def webhook_delete(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    with db(request).transaction() as session:
        webhook = webhooks.get(session, request.path_params["id"])
        webhooks.delete(session, actor, webhook)
    flash(request, N_("The webhook is deleted."))
    return RedirectResponse(request.url_for("admin_webhooks").path, 303)
