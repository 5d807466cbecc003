"""The roadmap: the team's board of items (create, edit, link ideas, move), and the public
roadmap and changelog."""

from __future__ import annotations

import re
from typing import Any

from babel.dates import format_date
from markupsafe import escape
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import roadmap, themes
from ideas.errors import N_, Errors, Message, ValidationError
from ideas.i18n import translations
from ideas.models import Idea, RoadmapItem, User
from web.forms import page_number, text, whole_number, with_form
from web.views.common import db, flash, pages, staff
from web.views.duplicates import idea_reference

RECENTLY_SHIPPED = 6  # on the public roadmap; the changelog has them all
CHANGELOG_PAGE = 20


def number_text(value: float) -> str:
    """At most two decimals, no trailing zeros: 0.25, 6.4, 12."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


# What every roadmap template needs.
LABELS = {
    "ROADMAP_STATUSES": roadmap.STATUSES,
    "ROADMAP_LABELS": roadmap.STATUS_LABELS,
    "IMPACTS": roadmap.IMPACTS,
    "IMPACT_LABELS": roadmap.IMPACT_LABELS,
    "num": number_text,
}


# A new item's form: RICE inputs start at medium impact, 80% confidence, one person-month.
NEW_ITEM = {"impact": "1", "confidence": "0.8", "effort": "1"}


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    locale = request.state.locale
    day = {"day": lambda moment: format_date(moment, "long", locale=locale)}  # "24 novembre 2026"
    return pages(request).render(request, name, {**LABELS, **day, **context}, status_code=status)


def _form_of(item: RoadmapItem) -> dict[str, str]:
    return {
        "title": item.title,
        "description": item.description,
        "target": item.target or "",
        "impact": number_text(item.impact),
        "confidence": number_text(item.confidence),
        "effort": number_text(item.effort),
        "weighted_reach": "1" if item.weighted_reach else "",
    }


def _fields(form: dict[str, str]) -> roadmap.Fields:
    return roadmap.Fields(
        title=text(form, "title"),
        description=text(form, "description"),
        target=text(form, "target"),
        impact=text(form, "impact"),
        confidence=text(form, "confidence"),
        effort=text(form, "effort"),
        weighted_reach=bool(text(form, "weighted_reach")),
    )


def _ideas_named(session: Session, raw: str, field: str = "ideas") -> list[Idea]:
    """The ideas a form field names by number or address, separated by spaces, commas or
    lines; a ValidationError on the field for anything else."""
    ids, unknown = [], []
    for part in re.split(r"[\s,;]+", raw.strip()):
        if part:
            idea_id = idea_reference(part)
            if idea_id is None:
                unknown.append(part[:40])
            else:
                ids.append(idea_id)
    if unknown:
        errors = Errors()
        errors.add(field, N_("Not an idea's number or address: %(what)s"), what=", ".join(unknown))
        errors.raise_if_any()
    return roadmap.find_ideas(session, ids, field)


def _flash_errors(request: Request, error: ValidationError) -> None:
    gettext = translations(request.state.locale).gettext
    for message in error.fields.values():
        # base.html shows a flash as markup and %-formats it: give it the finished sentence,
        # escaped (it may quote what was typed), its "%" doubled.
        flash(request, str(escape(message.render(gettext))).replace("%", "%%"))


def _to_item(request: Request, item_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(request.url_for("roadmap_item", id=item_id).path + anchor, 303)


# The team's board -----------------------------------------------------------------------------


def board(request: Request) -> Response:
    staff(request)
    with db(request).reading() as session:
        columns = roadmap.by_status(session)
        items = [item for column in columns.values() for item in column]
        scores = roadmap.scores(session, items)
        ideas = roadmap.linked_ideas(session, [item.id for item in items], request.state.user)
    return _render(
        request, "staff/roadmap.html", {"columns": columns, "scores": scores, "ideas": ideas}
    )


def new_form(request: Request) -> Response:
    staff(request)
    form = {**NEW_ITEM, "ideas": request.query_params.get("ideas", "")[:2000]}
    return _render(request, "staff/roadmap_form.html", {"form": form, "errors": {}})


@with_form
def create(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    try:
        with db(request).transaction() as session:
            errors: dict[str, Message] = {}
            try:  # the ideas' errors and the fields' errors are shown together
                ideas = _ideas_named(session, text(form, "ideas"))
            except ValidationError as error:
                errors, ideas = error.fields, []
            try:
                roadmap.validate(_fields(form))
            except ValidationError as error:
                errors = {**error.fields, **errors}
            if errors:
                raise ValidationError(errors)
            item = roadmap.create(session, actor, _fields(form), ideas, note=text(form, "note"))
    except ValidationError as error:
        return _render(
            request, "staff/roadmap_form.html", {"form": form, "errors": error.fields}, 400
        )
    flash(request, N_("The item is on the roadmap; the followers of its ideas are notified."))
    return _to_item(request, item.id)


@with_form
def from_theme(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        theme = themes.get(session, request.path_params["id"])
        item = roadmap.from_theme(session, actor, theme)
    flash(request, N_("The item is on the roadmap; the followers of its ideas are notified."))
    return _to_item(request, item.id)


def _item_context(session: Session, item: RoadmapItem, viewer: User) -> dict[str, Any]:
    return {
        "item": item,
        "score": roadmap.scores(session, [item])[item.id],
        "ideas": roadmap.linked_ideas(session, [item.id], viewer)[item.id],
        "history": roadmap.history(session, item),
        "form": _form_of(item),
        "errors": {},
    }


def item_page(request: Request) -> Response:
    viewer = staff(request)
    with db(request).reading() as session:
        item = roadmap.get(session, request.path_params["id"])
        context = _item_context(session, item, viewer)
    return _render(request, "staff/roadmap_item.html", context)


@with_form
def update(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    item_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            roadmap.update(session, actor, roadmap.get(session, item_id), _fields(form))
    except ValidationError as error:
        with db(request).reading() as session:  # the failed transaction expired the item
            item = roadmap.get(session, item_id)
            context = _item_context(session, item, actor)
        context.update(form=form, errors=error.fields)
        return _render(request, "staff/roadmap_item.html", context, 400)
    flash(request, N_("The item is saved."))
    return _to_item(request, item_id)


@with_form
def move(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    item_id = request.path_params["id"]
    raw_position = text(form, "position")
    try:
        with db(request).transaction() as session:
            item = roadmap.get(session, item_id)
            old = item.status
            roadmap.move(
                session,
                actor,
                item,
                text(form, "status"),
                whole_number(raw_position) if raw_position else None,
                text(form, "note"),
            )
            moved = item.status != old
    except ValidationError as error:
        _flash_errors(request, error)
        moved = False
    else:
        if moved:
            flash(request, N_("The item is moved; the followers of its ideas are notified."))
    if text(form, "next") == "board":
        return RedirectResponse(request.url_for("roadmap_board").path + f"#item-{item_id}", 303)
    return _to_item(request, item_id)


@with_form
def link(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    item_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            item = roadmap.get(session, item_id)
            roadmap.link(session, actor, item, _ideas_named(session, text(form, "ideas")))
    except ValidationError as error:
        _flash_errors(request, error)
    return _to_item(request, item_id, "#ideas")


@with_form
def unlink(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    item_id = request.path_params["id"]
    idea_id = whole_number(text(form, "idea"))
    with db(request).transaction() as session:
        roadmap.unlink(session, actor, roadmap.get(session, item_id), [idea_id or 0])
    return _to_item(request, item_id, "#ideas")


# For everyone ---------------------------------------------------------------------------------


def public_roadmap(request: Request) -> Response:
    viewer = request.state.user
    with db(request).reading() as session:
        # Cancelled items leave the public page; the newest shipped ones stay a while.
        columns = roadmap.by_status(session, ("planned", "in_progress"))
        recent, shipped_total = roadmap.shipped(session, per_page=RECENTLY_SHIPPED)
        columns["shipped"] = recent
        items = [item for column in columns.values() for item in column]
        ideas = roadmap.linked_ideas(session, [item.id for item in items], viewer)
    return _render(
        request,
        "roadmap/index.html",
        {"columns": columns, "ideas": ideas, "shipped_total": shipped_total},
    )


def changelog(request: Request) -> Response:
    page = page_number(request)
    with db(request).reading() as session:
        items, total = roadmap.shipped(session, page, CHANGELOG_PAGE)
        ideas = roadmap.linked_ideas(session, [item.id for item in items], request.state.user)
    return _render(
        request,
        "roadmap/changelog.html",
        {"items": items, "ideas": ideas, "total": total, "page": page, "per_page": CHANGELOG_PAGE},
    )
