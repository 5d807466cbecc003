"""The application: create_app, its lifespan, error pages, and the one route table."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor, StringConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ideas import embeddings, keys, similar, worker
from ideas.db import Database
from ideas.errors import N_, Conflict, DomainError, Forbidden, NotFound, ValidationError
from ideas.i18n import negotiate, supported, translations
from ideas.settings import Settings
from web import api
from web.forms import MAX_ID
from web.security import AuthMiddleware, GuardMiddleware, RequestRefused
from web.templating import Pages
from web.views import account, admin, auth, duplicates, ideas, notifications, staff
from web.views import roadmap as roadmap_views
from web.views import similar as similar_views
from web.views import themes as theme_views
from web.views import webhooks as webhook_views
from web.views import weekly as weekly_views

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"


class IdConvertor(IntegerConvertor):
    """A row id in a path. Starlette's "int" passes any number on, and the database refuses one
    past an INTEGER column (PostgreSQL) or 64 bits (SQLite), as int() refuses 4300 digits: a 500.
    Longer numbers match no route (404); one past MAX_ID becomes 0, which names no row (404)."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0


register_url_convertor("id", IdConvertor())


class WeekConvertor(StringConvertor):
    """An ISO week in a path, "2026-W48"; anything else matches no route (404)."""

    regex = "[0-9]{4}-W[0-9]{2}"


class ExportFormatConvertor(StringConvertor):
    regex = "md|csv|json"


register_url_convertor("week", WeekConvertor())
register_url_convertor("export_format", ExportFormatConvertor())

routes = [
    Route("/", ideas.home, name="home"),
    Route("/b/{slug}", ideas.board_page, name="board"),
    Route("/ideas/new", ideas.new_form, name="new_idea"),
    Route("/ideas/similar", similar_views.fragment, name="similar_ideas"),
    Route("/ideas", ideas.create, methods=["POST"], name="create_idea"),
    Route("/ideas/{id:id}", ideas.show, name="idea"),
    Route("/ideas/{id:id}/edit", ideas.edit_form, name="edit_idea"),
    Route("/ideas/{id:id}/edit", ideas.update, methods=["POST"], name="update_idea"),
    Route("/ideas/{id:id}/vote", ideas.vote, methods=["POST"], name="vote"),
    Route("/ideas/{id:id}/unvote", ideas.unvote, methods=["POST"], name="unvote"),
    Route("/ideas/{id:id}/follow", ideas.follow, methods=["POST"], name="follow"),
    Route("/ideas/{id:id}/unfollow", ideas.unfollow, methods=["POST"], name="unfollow"),
    Route("/ideas/{id:id}/comments", ideas.comment, methods=["POST"], name="comment"),
    Route("/ideas/{id:id}/status", staff.set_status, methods=["POST"], name="set_status"),
    Route("/ideas/{id:id}/hide", staff.hide_idea, methods=["POST"], name="hide_idea"),
    Route("/ideas/{id:id}/restore", staff.restore_idea, methods=["POST"], name="restore_idea"),
    Route("/ideas/{id:id}/lock", staff.lock_comments, methods=["POST"], name="lock_comments"),
    Route("/ideas/{id:id}/unlock", staff.unlock_comments, methods=["POST"], name="unlock_comments"),
    Route("/ideas/{id:id}/merge", duplicates.merge_idea, methods=["POST"], name="merge_idea"),
    Route("/ideas/{id:id}/unmerge", duplicates.unmerge_idea, methods=["POST"], name="unmerge_idea"),
    Route("/ideas/{id:id}/same", duplicates.same_as, methods=["POST"], name="same_as"),
    Route("/comments/{id:id}/hide", staff.hide_comment, methods=["POST"], name="hide_comment"),
    Route(
        "/comments/{id:id}/restore",
        staff.restore_comment,
        methods=["POST"],
        name="restore_comment",
    ),
    Route("/signup", auth.signup_form, name="signup_form"),
    Route("/signup", auth.signup, methods=["POST"], name="signup"),
    Route("/signup/{token}", auth.signup_finish_form, name="signup_finish_form"),
    Route("/signup/{token}", auth.signup_finish, methods=["POST"], name="signup_finish"),
    Route("/signin", auth.signin_form, name="signin_form"),
    Route("/signin", auth.signin, methods=["POST"], name="signin"),
    Route("/signout", auth.signout, methods=["POST"], name="signout"),
    Route("/forgot", auth.forgot_form, name="forgot_form"),
    Route("/forgot", auth.forgot, methods=["POST"], name="forgot"),
    Route("/reset/{token}", auth.reset_form, name="reset_form"),
    Route("/reset/{token}", auth.reset, methods=["POST"], name="reset"),
    Route("/language", auth.language, methods=["POST"], name="language"),
    Route("/account", account.account_form, name="account"),
    Route("/account", account.update_account, methods=["POST"], name="update_account"),
    Route("/unsubscribe/{token}", account.unsubscribe_form, name="unsubscribe_form"),
    Route("/unsubscribe/{token}", account.unsubscribe, methods=["POST"], name="unsubscribe"),
    Route("/notifications", notifications.index, name="notifications"),
    Route("/notifications/read", notifications.mark_read, methods=["POST"], name="mark_read"),
    Route("/staff", theme_views.overview, name="staff_dashboard"),
    Route("/staff/themes", theme_views.theme_list, name="themes"),
    Route("/staff/themes/rebuild", theme_views.rebuild, methods=["POST"], name="rebuild_themes"),
    Route("/staff/themes/{id:id}", theme_views.theme_page, name="theme"),
    Route(
        "/staff/themes/{id:id}/rename", theme_views.rename, methods=["POST"], name="rename_theme"
    ),
    Route("/staff/themes/{id:id}/merge", theme_views.merge, methods=["POST"], name="merge_theme"),
    Route(
        "/staff/themes/{id:id}/move",
        theme_views.move_idea,
        methods=["POST"],
        name="move_theme_idea",
    ),
    Route("/staff/themes/{id:id}/hide", theme_views.hide, methods=["POST"], name="hide_theme"),
    Route("/staff/themes/{id:id}/show", theme_views.show, methods=["POST"], name="show_theme"),
    Route("/staff/moderation", staff.moderation, name="moderation"),
    Route("/staff/audit", staff.audit_log, name="audit"),
    Route("/staff/duplicates", duplicates.queue, name="duplicates"),
    Route(
        "/staff/duplicates/{id:id}/merge",
        duplicates.merge_candidate,
        methods=["POST"],
        name="merge_candidate",
    ),
    Route(
        "/staff/duplicates/{id:id}/dismiss",
        duplicates.dismiss_candidate,
        methods=["POST"],
        name="dismiss_candidate",
    ),
    Route("/staff/roadmap", roadmap_views.board, name="roadmap_board"),
    Route("/staff/roadmap", roadmap_views.create, methods=["POST"], name="create_roadmap_item"),
    Route("/staff/roadmap/new", roadmap_views.new_form, name="new_roadmap_item"),
    Route("/staff/roadmap/{id:id}", roadmap_views.item_page, name="roadmap_item"),
    Route(
        "/staff/roadmap/{id:id}",
        roadmap_views.update,
        methods=["POST"],
        name="update_roadmap_item",
    ),
    Route(
        "/staff/roadmap/{id:id}/move",
        roadmap_views.move,
        methods=["POST"],
        name="move_roadmap_item",
    ),
    Route(
        "/staff/roadmap/{id:id}/link",
        roadmap_views.link,
        methods=["POST"],
        name="link_roadmap_ideas",
    ),
    Route(
        "/staff/roadmap/{id:id}/unlink",
        roadmap_views.unlink,
        methods=["POST"],
        name="unlink_roadmap_idea",
    ),
    Route(
        "/staff/roadmap/from-theme/{id:id}",
        roadmap_views.from_theme,
        methods=["POST"],
        name="roadmap_from_theme",
    ),
    Route("/roadmap", roadmap_views.public_roadmap, name="roadmap"),
    Route("/changelog", roadmap_views.changelog, name="changelog"),
    Route("/updates", weekly_views.archive, name="weekly_updates"),
    Route("/updates/feed.atom", weekly_views.feed, name="weekly_feed"),
    Route("/updates/{week:week}", weekly_views.week_page, name="weekly_update"),
    Route(
        "/updates/{week:week}.{format:export_format}",
        weekly_views.download,
        name="weekly_download",
    ),
    Route(
        "/staff/updates/export",
        weekly_views.make_now,
        methods=["POST"],
        name="make_weekly_export",
    ),
    Route("/users/{id:id}/block", staff.block_user, methods=["POST"], name="block_user"),
    Route("/users/{id:id}/unblock", staff.unblock_user, methods=["POST"], name="unblock_user"),
    Route("/admin/boards", admin.board_list, name="admin_boards"),
    Route("/admin/boards", admin.board_create, methods=["POST"], name="create_board"),
    Route("/admin/boards/{slug}/edit", admin.board_edit_form, name="edit_board"),
    Route("/admin/boards/{slug}/edit", admin.board_update, methods=["POST"], name="update_board"),
    Route("/admin/users", admin.user_list, name="admin_users"),
    Route("/admin/users/{id:id}/role", admin.user_role, methods=["POST"], name="set_role"),
    Route(
        "/admin/users/{id:id}/customer", admin.user_customer, methods=["POST"], name="set_customer"
    ),
    Route("/admin/webhooks", webhook_views.webhook_list, name="admin_webhooks"),
    Route("/admin/webhooks", webhook_views.webhook_create, methods=["POST"], name="create_webhook"),
    Route("/admin/webhooks/{id:id}", webhook_views.webhook_page, name="webhook"),
    Route(
        "/admin/webhooks/{id:id}",
        webhook_views.webhook_update,
        methods=["POST"],
        name="update_webhook",
    ),
    Route(
        "/admin/webhooks/{id:id}/rotate",
        webhook_views.webhook_rotate,
        methods=["POST"],
        name="rotate_webhook_secret",
    ),
    Route(
        "/admin/webhooks/{id:id}/ping",
        webhook_views.webhook_ping,
        methods=["POST"],
        name="ping_webhook",
    ),
    Route(
        "/admin/webhooks/{id:id}/delete",
        webhook_views.webhook_delete,
        methods=["POST"],
        name="delete_webhook",
    ),
    # JSON API
    Route("/api/v1/openapi.json", api.openapi, name="api_openapi"),
    Route("/api/v1/boards", api.list_boards, name="api_boards"),
    Route("/api/v1/ideas", api.list_ideas, name="api_ideas"),
    Route("/api/v1/ideas", api.create_idea, methods=["POST"], name="api_create_idea"),
    Route("/api/v1/ideas/similar", api.similar_ideas, name="api_similar_ideas"),
    Route("/api/v1/ideas/{id:id}", api.get_idea, name="api_idea"),
    Route("/api/v1/ideas/{id:id}/vote", api.vote, methods=["POST"], name="api_vote"),
    Route("/api/v1/ideas/{id:id}/vote", api.unvote, methods=["DELETE"], name="api_unvote"),
    Route("/api/v1/ideas/{id:id}/comments", api.list_comments, name="api_comments"),
    Route(
        "/api/v1/ideas/{id:id}/comments", api.add_comment, methods=["POST"], name="api_add_comment"
    ),
    Route("/api/v1/ideas/{id:id}/status", api.set_status, methods=["POST"], name="api_status"),
    Route("/api/v1/ideas/{id:id}/merge", api.merge, methods=["POST"], name="api_merge"),
    Route("/api/v1/ideas/{id:id}/unmerge", api.unmerge, methods=["POST"], name="api_unmerge"),
    Route("/api/v1/themes", api.list_themes, name="api_themes"),
    Route("/api/v1/roadmap", api.list_roadmap, name="api_roadmap"),
    Route(
        "/api/v1/roadmap",
        api.create_roadmap_item,
        methods=["POST"],
        name="api_create_roadmap_item",
    ),
    Route("/api/v1/roadmap/{id:id}", api.get_roadmap_item, name="api_roadmap_item"),
    Route(
        "/api/v1/roadmap/{id:id}",
        api.update_roadmap_item,
        methods=["PATCH"],
        name="api_update_roadmap_item",
    ),
    Route(
        "/api/v1/themes/{id:id}/promote",
        api.promote_theme,
        methods=["POST"],
        name="api_promote_theme",
    ),
    Route("/api/v1/updates", api.list_weekly_updates, name="api_weekly_updates"),
    Route("/api/v1/updates/{week:week}", api.get_weekly_update, name="api_weekly_update"),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def _status_and_message(exc: Exception, signed_in: bool) -> tuple[int, str]:
    if isinstance(exc, RequestRefused):
        return exc.status, exc.message.text
    if isinstance(exc, ValidationError):
        return 400, exc.message.text
    if isinstance(exc, NotFound):
        return 404, exc.message.text
    if isinstance(exc, Forbidden):
        return (403 if signed_in else 401), exc.message.text
    if isinstance(exc, Conflict):
        return 409, exc.message.text
    if isinstance(exc, DataError):  # input the database cannot hold, e.g. NUL in PostgreSQL text
        return 400, N_("Something is not right with that request")
    if isinstance(exc, HTTPException):
        return exc.status_code, {404: N_("Not found."), 405: N_("Method not allowed.")}.get(
            exc.status_code, exc.detail
        )
    return 503, N_("The service is briefly unavailable. Please try again in a moment.")


async def error_response(request: Request, exc: Exception) -> Response:
    """Every error as JSON for the API, as a page for people, in the reader's language."""
    state = request.scope.get("state", {})
    user = state.get("user")
    status, text = _status_and_message(exc, user is not None)
    locale = (
        state.get("locale")
        or (supported(request.session.get("locale")) if "session" in request.scope else None)
        or negotiate(request.headers.get("accept-language"))
    )
    params = exc.message.params if isinstance(exc, DomainError) else {}
    translated = (
        translations(locale).gettext(text) % params
        if params
        else translations(locale).gettext(text)
    )
    if request.url.path.startswith("/api/"):
        body: dict[str, object] = {"error": translated}
        if isinstance(exc, ValidationError):
            body["fields"] = {
                name: message.render(translations(locale).gettext)
                for name, message in exc.fields.items()
            }
        return JSONResponse(body, status_code=status)
    if status == 401 and request.method == "GET":
        return RedirectResponse(f"/signin?next={request.url.path}", 303)
    request.state.locale = locale
    pages: Pages = request.app.state.pages
    return pages.render(
        request, "error.html", {"status": status, "error": translated}, status_code=status
    )


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database error: %s", exc)
    return await error_response(request, exc)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    owns_db = db is None
    db = db or Database.from_settings(settings)
    secret = keys.secret_key(db, settings.secret_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running = worker.start_in_thread(db, settings) if settings.worker else None
        app.state.similar.start_warming()  # the model loads in seconds: not on the way in
        try:
            yield
        finally:
            if running:
                thread, stop = running
                stop.set()
                thread.join(timeout=10)
            if owns_db:
                db.dispose()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie="ideas_session",
                same_site="lax",
                https_only=settings.base_url.startswith("https://"),
            ),
            Middleware(
                GuardMiddleware, max_body_bytes=settings.max_body_bytes, on_refuse=error_response
            ),
            Middleware(
                AuthMiddleware, db=db, settings=settings, on_unavailable=database_unavailable
            ),
        ],
        exception_handlers={
            DomainError: error_response,
            HTTPException: error_response,
            OperationalError: database_unavailable,
            PoolTimeout: database_unavailable,  # no connection free in time: as busy as away
            DataError: error_response,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.secret_key = secret
    app.state.pages = Pages(app.router)
    # Built once per process; the model itself loads lazily (see the lifespan).
    app.state.embedder = embeddings.make_shared(
        settings.embedding_backend, settings.embedding_cache_dir
    )
    app.state.similar = similar.SimilarIdeas(db, app.state.embedder)
    return app
