"""The weekly roadmap updates, for everyone: the archive, a week's page, its files (Markdown,
CSV, JSON) and the Atom feed; and the team's "make last week's export now"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import weekly, weekly_render
from ideas.errors import N_
from ideas.i18n import translations
from ideas.models import WeeklySnapshot, utcnow
from web import markdown
from web.forms import with_form
from web.views.common import db, flash, pages, staff

FEED_ENTRIES = 20
ATOM = "http://www.w3.org/2005/Atom"


def _base_url(request: Request) -> str:
    base: str = request.app.state.settings.base_url
    return base


def _summary(snapshot: WeeklySnapshot, locale: str) -> dict[str, Any]:
    data = snapshot.data
    words = weekly_render.Words(data, locale)
    return {
        "week": snapshot.week,
        "title": weekly_render.title(data, locale),
        "dates": words.dates(data),
        "shipped": len(data["changes"]["shipped"]),
        "added": len(data["changes"]["added"]),
        "moves": len(data["changes"]["status_changes"]),
    }


def archive(request: Request) -> Response:
    with db(request).reading() as session:
        weeks = weekly.recent(session)
    locale = request.state.locale
    return pages(request).render(
        request, "updates/index.html", {"weeks": [_summary(week, locale) for week in weeks]}
    )


def week_page(request: Request) -> Response:
    week = request.path_params["week"]
    with db(request).reading() as session:
        snapshot = weekly.get(session, week)
        newer = session.get(
            WeeklySnapshot, weekly.week_of_day(weekly.monday_of(week) + timedelta(days=7))
        )
        older = session.get(WeeklySnapshot, weekly.previous_week(week))
    locale = request.state.locale
    body = weekly_render.markdown(snapshot.data, locale, _base_url(request), heading=False)
    return pages(request).render(
        request,
        "updates/week.html",
        {
            "summary": _summary(snapshot, locale),
            "body": markdown.render(body),
            "newer": newer.week if newer else None,
            "older": older.week if older else None,
            "formats": weekly.FORMATS,
        },
    )


def download(request: Request) -> Response:
    week, format = request.path_params["week"], request.path_params["format"]
    with db(request).reading() as session:
        snapshot = weekly.get(session, week)
    content = weekly_render.render(snapshot.data, format, request.state.locale, _base_url(request))
    name = weekly_render.file_name(week, format)
    return Response(
        content,
        media_type=weekly_render.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def feed(request: Request) -> Response:
    """Atom (RFC 4287): one entry per week, newest first, the week's update as its content."""
    base = _base_url(request)
    locale = request.state.locale
    gettext = translations(locale).gettext
    with db(request).reading() as session:
        weeks = weekly.recent(session, FEED_ENTRIES)
    ElementTree.register_namespace("", ATOM)
    root = ElementTree.Element(f"{{{ATOM}}}feed", {"xml:lang": locale})

    def add(parent: ElementTree.Element, tag: str, text: str = "", **attributes: str) -> None:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        if text:
            element.text = text

    add(root, "id", f"{base}/updates")
    add(root, "title", gettext(N_("Weekly roadmap updates")))
    add(root, "link", rel="self", href=f"{base}/updates/feed.atom")
    add(root, "link", rel="alternate", type="text/html", href=f"{base}/updates")
    newest = weeks[0].created_at if weeks else None
    add(root, "updated", (newest or utcnow()).isoformat())
    author = ElementTree.SubElement(root, f"{{{ATOM}}}author")
    add(author, "name", gettext(N_("The product team")))
    for snapshot in weeks:
        entry = ElementTree.SubElement(root, f"{{{ATOM}}}entry")
        page = f"{base}/updates/{snapshot.week}"
        add(entry, "id", page)
        add(entry, "title", weekly_render.title(snapshot.data, locale))
        add(entry, "link", rel="alternate", type="text/html", href=page)
        add(entry, "published", snapshot.created_at.isoformat())
        add(entry, "updated", snapshot.created_at.isoformat())
        body = weekly_render.markdown(snapshot.data, locale, base, heading=False)
        add(entry, "content", str(markdown.render(body)), type="html")
    xml = ElementTree.tostring(root, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n' + xml,
        media_type="application/atom+xml; charset=utf-8",
    )


@with_form
def make_now(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    done = weekly.publish_last_week(db(request), request.app.state.settings, actor)
    flash(
        request,
        N_("Last week's update is ready; members who asked for it get it by email.")
        if done.created
        else N_("Last week's update was made already."),
    )
    return RedirectResponse(request.url_for("staff_dashboard").path + "#weekly-updates", 303)
