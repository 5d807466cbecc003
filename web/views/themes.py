"""The product team's dashboard and themes: the overview, the themes by score, a theme's page and
its actions (rename, merge, move an idea, hide, rebuild now)."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import boards, dashboard, themes, votes
from ideas import ideas as idea_rules
from ideas.errors import N_, Errors, Message, NotFound, ValidationError
from ideas.models import Board, Theme, User
from web.forms import text, whole_number, with_form
from web.views.common import db, flash, pages, safe_next, staff

REPRESENTATIVE = 5  # ideas shown as a theme's most representative
SORT_LABELS = {
    "voters": N_("Voters"),
    "weighted": N_("Weighted voters"),
    "growth": N_("Growth"),
    "size": N_("Ideas"),
}
EVENT_LABELS = {
    "created": N_("Found by a rebuild"),
    "split": N_("Split"),
    "merged": N_("Merged"),
    "retired": N_("Retired"),
    "renamed": N_("Renamed"),
}


def _week_label(monday: date, locale: str) -> str:
    return format_date(monday, "d MMM", locale=locale)  # "24 Nov", "24 nov"


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    locale = request.state.locale
    helpers = {
        "week_label": lambda monday: _week_label(monday, locale),
        "SORT_LABELS": SORT_LABELS,
        "EVENT_LABELS": EVENT_LABELS,
    }
    return pages(request).render(request, name, {**helpers, **context}, status_code=status)


def _to_theme(request: Request, theme_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(request.url_for("theme", id=theme_id).path + anchor, 303)


# The overview and the list --------------------------------------------------------------------


def overview(request: Request) -> Response:
    staff(request)
    with db(request).reading() as session:
        summary = dashboard.overview(session)
        rebuilding = themes.rebuild_requested(session)
    labels = [_week_label(week.week, request.state.locale) for week in summary.weeks]
    return _render(
        request,
        "staff/dashboard.html",
        {"summary": summary, "labels": labels, "rebuilding": rebuilding},
    )


def theme_list(request: Request) -> Response:
    staff(request)
    params = request.query_params
    sort = params.get("sort", "voters")
    sort = sort if sort in themes.SORTS else "voters"
    show_hidden = params.get("hidden") == "1"
    with db(request).reading() as session:
        all_boards = boards.all_boards(session)
        board = boards.get_by_slug(session, params["board"]) if params.get("board") else None
        found = themes.listing(session, board.id if board else None, sort, show_hidden)
        last_rebuilt = themes.last_rebuilt(session)
        rebuilding = themes.rebuild_requested(session)
    return _render(
        request,
        "staff/themes.html",
        {
            "themes": found,
            "boards": all_boards,
            "board": board,
            "sort": sort,
            "show_hidden": show_hidden,
            "last_rebuilt": last_rebuilt,
            "rebuilding": rebuilding,
        },
    )


# A theme ----------------------------------------------------------------------------------------


def _theme_context(session: Session, theme: Theme) -> dict[str, Any]:
    ideas = themes.ideas_of(session, theme)
    same_scope = themes.listing(session, theme.board_id, "voters", include_hidden=True)
    events = themes.events(session, theme)
    related = {event.theme_id for event in events} | {
        event.other_theme_id for event in events if event.other_theme_id is not None
    }
    if theme.merged_into_id is not None:
        related.add(theme.merged_into_id)
    return {
        "theme": theme,
        "board": session.get(Board, theme.board_id) if theme.board_id else None,
        "ideas": ideas,
        "weighted": votes.weighted_counts(session, [idea.id for idea in ideas]),
        "representative": ideas[:REPRESENTATIVE],
        "central": next((idea for idea in ideas if idea.id == theme.central_idea_id), None),
        "others": [other for other in same_scope if other.id != theme.id],
        "history": themes.history(session, theme),
        "events": events,
        "names": themes.names_of(session, related),
        "roadmap_item_id": themes.roadmap_item_id(session, theme),
        "form": {"name": theme.custom_name or ""},
        "errors": {},
    }


def _theme_page(
    request: Request,
    theme_id: int,
    form: dict[str, str] | None = None,
    errors: dict[str, dict[str, Message]] | None = None,
    status: int = 200,
) -> Response:
    with db(request).reading() as session:
        context = _theme_context(session, themes.get(session, theme_id))
    if form is not None:
        context["form"] = form
    context["errors"] = errors or {}
    return _render(request, "staff/theme.html", context, status)


def theme_page(request: Request) -> Response:
    staff(request)
    return _theme_page(request, request.path_params["id"])


def _chosen_theme(session: Session, raw: str, field: str = "into") -> Theme:
    """The theme a form's select names; a ValidationError on the field otherwise."""
    theme_id = whole_number(raw)
    errors = Errors()
    if theme_id is None:
        errors.add(field, N_("Choose a theme."))
        errors.raise_if_any()
    try:
        return themes.get(session, theme_id or 0)
    except NotFound:
        errors.add(field, N_("There is no such theme."))
        raise ValidationError(errors.fields) from None


@with_form
def rename(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    theme_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            themes.rename(session, actor, themes.get(session, theme_id), text(form, "name"))
    except ValidationError as error:
        return _theme_page(request, theme_id, form, {"rename": error.fields}, 400)
    flash(request, N_("The theme is renamed; rebuilds keep its name."))
    return _to_theme(request, theme_id)


@with_form
def merge(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    theme_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            theme = themes.get(session, theme_id)
            into = _chosen_theme(session, text(form, "into"))
            themes.merge(session, actor, theme, into)
            into_id = into.id
    except ValidationError as error:
        return _theme_page(request, theme_id, None, {"merge": error.fields}, 400)
    flash(request, N_("The themes are merged: every idea of one is in the other now."))
    return _to_theme(request, into_id)


@with_form
def move_idea(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    theme_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            theme = themes.get(session, theme_id)
            idea_id = whole_number(text(form, "idea"))
            if idea_id is None or idea_id not in themes.idea_ids(session, theme.id):
                errors = Errors()
                errors.add("idea", N_("Choose one of this theme's ideas."))
                errors.raise_if_any()
            idea = idea_rules.get(session, idea_id or 0, actor)
            themes.move_idea(session, actor, idea, _chosen_theme(session, text(form, "into")))
    except ValidationError as error:
        return _theme_page(request, theme_id, None, {"move": error.fields}, 400)
    flash(request, N_("The idea is moved; rebuilds leave it where you put it."))
    return _to_theme(request, theme_id, "#ideas")


def _set_hidden(request: Request, hidden: bool) -> Response:
    actor = staff(request)
    theme_id = request.path_params["id"]
    with db(request).transaction() as session:
        themes.set_hidden(session, actor, themes.get(session, theme_id), hidden)
    flash(
        request,
        N_("The theme is hidden from the lists.") if hidden else N_("The theme is shown again."),
    )
    return _to_theme(request, theme_id)


@with_form
def hide(request: Request, form: dict[str, str]) -> Response:
    return _set_hidden(request, True)


@with_form
def show(request: Request, form: dict[str, str]) -> Response:
    return _set_hidden(request, False)


@with_form
def rebuild(request: Request, form: dict[str, str]) -> Response:
    actor: User = staff(request)
    with db(request).transaction() as session:
        queued = themes.request_rebuild(session, actor)
    if queued:
        flash(request, N_("The themes are being rebuilt in the background; reload in a minute."))
    else:
        flash(request, N_("A rebuild is under way already."))
    target = safe_next(text(form, "next"), request.url_for("themes").path)
    return RedirectResponse(target, 303)
