"""Signing up, in and out, resetting a password, and choosing the interface language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import accounts
from ideas.errors import N_, Errors, ValidationError
from ideas.i18n import supported
from ideas.models import User
from web import security
from web.forms import text, with_form
from web.views.common import db, flash, pages, safe_next


def _start(request: Request, user: User, next_url: str) -> Response:
    """Signs the browser in with a fresh session (the old one is dropped: no fixation)."""
    with db(request).transaction() as session:
        old = request.session.get("sid")
        if old:
            accounts.end_session(session, old)
        token = accounts.start_session(session, user)
    kept: dict[str, object] = {
        key: request.session[key] for key in ("locale", "flash") if key in request.session
    }
    request.session.clear()
    request.session.update({"sid": token, "csrf": security.new_csrf_token(), **kept})
    return RedirectResponse(safe_next(next_url), 303)


def signup_form(request: Request) -> Response:
    return pages(request).render(
        request,
        "auth/signup.html",
        {"form": {}, "errors": {}, "next": request.query_params.get("next", ""), "sent": False},
    )


@with_form
def signup(request: Request, form: dict[str, str]) -> Response:
    security.limit(request, "signup")
    try:
        with db(request).transaction() as session:
            accounts.request_sign_up(
                session,
                text(form, "email"),
                request.app.state.secret_key,
                request.app.state.settings.base_url,
                request.state.locale,
                safe_next(text(form, "next"), ""),
            )
    except ValidationError as error:
        return pages(request).render(
            request,
            "auth/signup.html",
            {"form": form, "errors": error.fields, "next": text(form, "next"), "sent": False},
            status_code=400,
        )
    # The same answer whether or not the address has an account: the mail says which.
    return pages(request).render(
        request,
        "auth/signup.html",
        {"form": {"email": text(form, "email")}, "errors": {}, "next": "", "sent": True},
    )


def signup_finish_form(request: Request) -> Response:
    token = request.path_params["token"]
    with db(request).reading() as session:
        found = accounts.sign_up_email(session, token, request.app.state.secret_key)
    return pages(request).render(
        request,
        "auth/signup_finish.html",
        {"email": found[0] if found else "", "form": {}, "errors": {}, "token": token},
        status_code=200 if found else 400,
    )


@with_form
def signup_finish(request: Request, form: dict[str, str]) -> Response:
    token, secret = request.path_params["token"], request.app.state.secret_key
    try:
        with db(request).transaction() as session:
            made = accounts.finish_sign_up(
                session,
                token,
                secret,
                text(form, "name"),
                text(form, "password"),
                request.state.locale,
            )
    except ValidationError as error:
        with db(request).reading() as session:
            found = accounts.sign_up_email(session, token, secret)
        return pages(request).render(
            request,
            "auth/signup_finish.html",
            {
                "email": found[0] if found else "",
                "form": form,
                "errors": error.fields,
                "token": token,
            },
            status_code=400,
        )
    if made is None:
        return pages(request).render(
            request,
            "auth/signup_finish.html",
            {"email": "", "form": {}, "errors": {}, "token": token},
            status_code=400,
        )
    user, next_url = made
    flash(request, N_("Welcome! Your account is ready."))
    return _start(request, user, next_url)


def signin_form(request: Request) -> Response:
    return pages(request).render(
        request,
        "auth/signin.html",
        {"form": {}, "errors": {}, "next": request.query_params.get("next", "")},
    )


@with_form
def signin(request: Request, form: dict[str, str]) -> Response:
    security.limit(request, "signin")
    with db(request).transaction() as session:
        user = accounts.authenticate(session, text(form, "email"), text(form, "password"))
    if user is None:
        errors = Errors()
        # The same words whether the email is unknown or the password wrong.
        errors.add("password", N_("Wrong email or password."))
        return pages(request).render(
            request,
            "auth/signin.html",
            {
                "form": {"email": text(form, "email")},
                "errors": errors.fields,
                "next": text(form, "next"),
            },
            status_code=400,
        )
    return _start(request, user, text(form, "next"))


@with_form
def signout(request: Request, form: dict[str, str]) -> Response:
    sid = request.session.get("sid")
    if sid:
        with db(request).transaction() as session:
            accounts.end_session(session, sid)
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale
    return RedirectResponse("/", 303)


def forgot_form(request: Request) -> Response:
    return pages(request).render(request, "auth/forgot.html", {"form": {}, "sent": False})


@with_form
def forgot(request: Request, form: dict[str, str]) -> Response:
    security.limit(request, "reset")
    settings = request.app.state.settings
    with db(request).transaction() as session:
        accounts.request_password_reset(
            session,
            text(form, "email"),
            request.app.state.secret_key,
            settings.base_url,
            request.state.locale,
        )
    # The same answer whether or not the account exists.
    return pages(request).render(request, "auth/forgot.html", {"form": form, "sent": True})


def reset_form(request: Request) -> Response:
    with db(request).reading() as session:
        user = accounts.user_for_reset_token(
            session, request.path_params["token"], request.app.state.secret_key
        )
    return pages(request).render(
        request,
        "auth/reset.html",
        {"valid": user is not None, "errors": {}, "token": request.path_params["token"]},
        status_code=200 if user else 400,
    )


@with_form
def reset(request: Request, form: dict[str, str]) -> Response:
    token = request.path_params["token"]
    try:
        with db(request).transaction() as session:
            user = accounts.user_for_reset_token(session, token, request.app.state.secret_key)
            if user is not None:
                accounts.set_password(session, user, text(form, "password"))
    except ValidationError as error:
        return pages(request).render(
            request,
            "auth/reset.html",
            {"valid": True, "errors": error.fields, "token": token},
            status_code=400,
        )
    if user is None:
        return pages(request).render(
            request,
            "auth/reset.html",
            {"valid": False, "errors": {}, "token": token},
            status_code=400,
        )
    flash(request, N_("Your password is changed."))
    return _start(request, user, "/")


@with_form
def language(request: Request, form: dict[str, str]) -> Response:
    locale = supported(text(form, "locale"))
    if locale:
        request.session["locale"] = locale
        user = request.state.user
        if user is not None:
            with db(request).transaction() as session:
                accounts.set_locale(accounts.get_user(session, user.id), locale)
    return RedirectResponse(safe_next(text(form, "next")), 303)
