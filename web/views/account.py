"""A member's settings (email updates, language) and the unsubscribe link of the emails, which
works without signing in."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import accounts, updates
from ideas.accounts import EMAIL_UPDATES
from ideas.errors import N_, ValidationError
from ideas.i18n import supported
from ideas.models import User
from ideas.settings import weekly_time
from web.forms import text, with_form
from web.views.common import db, flash, pages, signed_in


def account_form(request: Request) -> Response:
    user = signed_in(request)
    form = {
        "email_updates": user.email_updates,
        "locale": user.locale or request.state.locale,
        "roadmap_updates": "1" if user.roadmap_updates else "",
    }
    return _render(request, form, {})


@with_form
def update_account(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    locale = text(form, "locale")
    try:
        with db(request).transaction() as session:
            accounts.set_preferences(
                session,
                accounts.get_user(session, user.id),
                text(form, "email_updates"),
                locale,
                roadmap_updates=bool(text(form, "roadmap_updates")),
            )
    except ValidationError as error:
        return _render(request, form, error.fields, status_code=400)
    request.session["locale"] = locale  # the session's language wins over the account's
    flash(request, N_("Your settings are saved."))
    return RedirectResponse(request.url_for("account").path, 303)


def _render(
    request: Request, form: dict[str, str], errors: dict[str, Any], status_code: int = 200
) -> Response:
    settings = request.app.state.settings
    weekday, hour, minute = weekly_time(settings.digest_schedule)
    day = get_day_names("wide", locale=request.state.locale)[weekday]
    export_day, export_hour, export_minute = weekly_time(settings.export_schedule)
    return pages(request).render(
        request,
        "account/settings.html",
        {
            "form": form,
            "errors": errors,
            "choices": EMAIL_UPDATES,
            "digest_day": day,
            "digest_time": f"{hour:02d}:{minute:02d}",
            "export_day": get_day_names("wide", locale=request.state.locale)[export_day],
            "export_time": f"{export_hour:02d}:{export_minute:02d}",
            "time_zone": settings.time_zone,
        },
        status_code=status_code,
    )


def unsubscribe_form(request: Request) -> Response:
    """Asks first: mail scanners open links, and opening one must not unsubscribe anybody."""
    with db(request).reading() as session:
        found = _person(request, session)
    return _unsubscribe_page(request, found, done=False)


@with_form
def unsubscribe(request: Request, form: dict[str, str]) -> Response:
    """The button of the page above, and mail programs' one-click unsubscribe (RFC 8058): no
    session and no CSRF token (see web/security.py); the signed link is the proof."""
    with db(request).transaction() as session:
        found = _person(request, session)
        if found is not None:
            updates.unsubscribe(*found)
    return _unsubscribe_page(request, found, done=True)


def _person(request: Request, session: Session) -> tuple[User, str] | None:
    """The person the link names, and what it stops ("updates" or "roadmap")."""
    return updates.read_unsubscribe_token(
        session, request.path_params["token"], request.app.state.secret_key
    )


def _unsubscribe_page(request: Request, found: tuple[User, str] | None, done: bool) -> Response:
    person, purpose = found if found is not None else (None, "updates")
    if person is not None and request.state.user is None:
        # The email was in the person's language: so is this page.
        request.state.locale = supported(person.locale) or request.state.locale
    return pages(request).render(
        request,
        "account/unsubscribe.html",
        {
            "person": person,
            "purpose": purpose,
            "done": done,
            "token": request.path_params["token"],
        },
        status_code=200 if person else 400,
    )
