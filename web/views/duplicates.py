"""Duplicates: the team's queue of look-alike pairs, merging and undoing, and the author's
"mine is the same as this one"."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import duplicates, merges
from ideas import ideas as idea_rules
from ideas.errors import N_, Errors, NotFound, ValidationError
from ideas.i18n import translations
from ideas.models import Idea, User
from web.forms import text, whole_number, with_form
from web.views.common import db, flash, pages, signed_in, staff

IDEA_URL = re.compile(r"/ideas/([0-9]{1,10})(?:[/?#]|$)")


def idea_reference(raw: str) -> int | None:
    """An idea's id from what people paste: "12", "#12" or the idea's address."""
    raw = raw.strip()
    found = IDEA_URL.search(raw)
    return whole_number(found.group(1) if found else raw.removeprefix("#"))


def _referenced(session: Session, raw: str, field: str, viewer: User) -> Idea:
    """The idea a form field names; a ValidationError on that field if there is none."""
    idea_id = idea_reference(raw)
    errors = Errors()
    if idea_id is None:
        errors.add(field, N_("Give an idea's number or its address."))
        errors.raise_if_any()
    try:
        return idea_rules.get(session, idea_id or 0, viewer)
    except NotFound:
        errors.add(field, N_("There is no such idea."))
        raise ValidationError(errors.fields) from None


def _flash_errors(request: Request, error: ValidationError) -> None:
    gettext = translations(request.state.locale).gettext
    for message in error.fields.values():
        flash(request, message.render(gettext).replace("%", "%%"))


def _to_idea(request: Request, idea_id: int) -> RedirectResponse:
    return RedirectResponse(request.url_for("idea", id=idea_id).path, 303)


def queue(request: Request) -> Response:
    staff(request)
    with db(request).reading() as session:
        pairs = duplicates.pending(session, limit=100)
        recent = merges.recent(session)
    return pages(request).render(
        request, "staff/duplicates.html", {"pairs": pairs, "recent": recent}
    )


@with_form
def merge_candidate(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)

    def work(session: Session) -> None:
        candidate = duplicates.get(session, request.path_params["id"])
        keep = whole_number(text(form, "keep"))
        if keep not in (candidate.idea_id, candidate.other_id):
            keep = candidate.idea_id
        gone = candidate.other_id if keep == candidate.idea_id else candidate.idea_id
        source = idea_rules.get(session, gone, actor)
        target = idea_rules.get(session, keep, actor)
        merges.merge(session, actor, source, target)

    # Merges and undos run again when PostgreSQL breaks a deadlock by ending them.
    db(request).run_transaction(work)
    flash(request, N_("The ideas are merged: votes and followers are carried over."))
    return RedirectResponse(request.url_for("duplicates").path, 303)


@with_form
def dismiss_candidate(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        duplicates.dismiss(session, actor, duplicates.get(session, request.path_params["id"]))
    flash(request, N_("Noted: this pair will not be suggested again."))
    return RedirectResponse(request.url_for("duplicates").path, 303)


@with_form
def merge_idea(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    idea_id = request.path_params["id"]

    def work(session: Session) -> None:
        source = idea_rules.get(session, idea_id, actor)
        target = _referenced(session, text(form, "into"), "into", actor)
        merges.merge(session, actor, source, target)

    try:
        db(request).run_transaction(work)
    except ValidationError as error:
        _flash_errors(request, error)
        return _to_idea(request, idea_id)
    flash(request, N_("The ideas are merged: votes and followers are carried over."))
    return _to_idea(request, idea_id)


@with_form
def unmerge_idea(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    idea_id = request.path_params["id"]
    db(request).run_transaction(
        lambda session: merges.unmerge(session, actor, idea_rules.get(session, idea_id, actor))
    )
    flash(request, N_("The merge is undone."))
    target = text(form, "next")
    if target == "queue":
        return RedirectResponse(request.url_for("duplicates").path, 303)
    return _to_idea(request, idea_id)


@with_form
def same_as(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    idea_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            idea = idea_rules.get(session, idea_id, user)
            other = _referenced(session, text(form, "other"), "other", user)
            duplicates.author_says_same(session, user, idea, other)
    except ValidationError as error:
        _flash_errors(request, error)
        return _to_idea(request, idea_id)
    flash(request, N_("Thanks! The team will look at both ideas and merge them if they match."))
    return _to_idea(request, idea_id)
