"""Hostile text in Chromium: every payload of xss_payloads.txt (script tags, event handlers,
javascript:/vbscript:/data: URLs in Markdown links and images, entity-encoded and unicode
variants, attribute and element breakouts, template and htmx injection...) goes, through the
domain's own functions, into idea titles and descriptions, comments, people's names, board
names, theme names and roadmap items; then the pages that show them are opened in a real
browser, a batch of payloads per page.

On every page: no dialog opened, no script error, no console error (CSP violations included),
no request made by injected htmx, no element with an event handler attribute, no script but
our own files, no frame, object or embed, and no link or resource with a javascript:, vbscript:
or data: URL. And each payload must be there, as text: a page that dropped the content would
pass the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ideas import accounts, boards, comments, duplicates, roadmap, themes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Theme, User
from tests.browser.conftest import assert_clean
from tests.browser.test_journeys import sign_in
from web.markdown import plain

pytestmark = pytest.mark.browser

PAYLOADS = [
    line
    for line in (Path(__file__).with_name("xss_payloads.txt")).read_text("utf-8").splitlines()
    if line.strip()
]
# Payloads that try to leave the context they are put in (an attribute, <title>, <textarea>):
# their ideas', themes' and roadmap items' own pages are opened too.
BREAKOUT = re.compile(r"[\"'`]|</")

# Run in the page: everything on it that could run script or leave the site.
AUDIT = """() => {
  const found = [];
  const urlAttributes = ["href", "src", "action", "formaction", "xlink:href", "data",
                         "background", "dynsrc", "lowsrc", "poster", "srcdoc", "ping"];
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    // The portal's own icon: an inline SVG picture, which runs no script as an icon.
    if (el.matches("head > link[rel=icon]") && el.href.startsWith("data:image/svg+xml,")) continue;
    if (["iframe", "frame", "frameset", "object", "embed", "base", "applet"].includes(tag)) {
      found.push(`<${tag}> element`);
    }
    if (tag === "script" && !el.src.startsWith(location.origin + "/static/")) {
      found.push(`script not from /static/: ${el.outerHTML.slice(0, 120)}`);
    }
    if (tag === "meta" && el.hasAttribute("http-equiv")) found.push(el.outerHTML);
    if (tag === "link" && !el.href.startsWith(location.origin + "/static/")) {
      found.push(`link not from /static/: ${el.outerHTML.slice(0, 120)}`);
    }
    for (const attribute of el.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on")) found.push(`${tag} ${name}=${attribute.value}`);
      if (name === "style") found.push(`${tag} style=${attribute.value}`);
      if (urlAttributes.includes(name)) {
        const scheme = attribute.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
        if (/^(javascript|vbscript|data):/.test(scheme)) {
          found.push(`${tag} ${name}=${attribute.value}`);
        }
      }
    }
  }
  for (const a of document.querySelectorAll("a[href], area[href]")) {
    const protocol = new URL(a.href, location.href).protocol;
    if (!["http:", "https:", "mailto:"].includes(protocol)) found.push(`${protocol} ${a.href}`);
  }
  return {found, text: document.body.textContent};
}"""


def squeezed(text: str) -> str:
    return " ".join(text.split())


@dataclass
class World:
    """Where the payloads went."""

    admin_email: str
    carrier_ids: list[int]  # ideas whose descriptions hold all the payloads, one chunk each
    idea_ids: list[int] = field(default_factory=list)  # one per payload, in its title
    idea_titles: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # people, one per payload
    board_names: list[str] = field(default_factory=list)
    board_slugs: list[str] = field(default_factory=list)
    theme_ids: list[int] = field(default_factory=list)
    theme_names: list[str] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)
    item_titles: list[str] = field(default_factory=list)


def marked(number: int, payload: str) -> str:
    """A payload as a Markdown text of its own, after a marker paragraph that names it."""
    return f"Payload {number:03d}\n\n{payload}\n\n"


def build(db: Database, make_user: Any) -> World:
    admin = make_user("admin", name="Ada Admin")
    world = World(admin_email=admin.email, carrier_ids=[])
    with db.transaction() as session:
        team = session.get_one(User, admin.id)
        main = boards.create_board(session, None, "Main", "", None)
        chunks, chunk = [], ""
        for number, payload in enumerate(PAYLOADS):
            if len(chunk) + len(marked(number, payload)) > idea_rules.DESCRIPTION_LIMITS[1]:
                chunks.append(chunk)
                chunk = ""
            chunk += marked(number, payload)
        chunks.append(chunk)
        carriers = [
            idea_rules.submit(session, team, main, f"Carrier idea {n}", text)
            for n, text in enumerate(chunks)
        ]
        world.carrier_ids = [idea.id for idea in carriers]
        for number, payload in enumerate(PAYLOADS):
            person = accounts.create_user(
                session, f"p{number}@example.com", f"U{number:03d} {payload}"[:80], None
            )
            world.names.append(person.name)
            idea = idea_rules.submit(
                session, person, main, f"I{number:03d} {payload}"[:150], marked(number, payload)
            )
            world.idea_ids.append(idea.id)
            world.idea_titles.append(idea.title)
            comments.add(session, person, carriers[0], marked(number, payload))
            board = boards.create_board(session, None, f"B{number:03d} {payload}"[:80], payload)
            world.board_names.append(board.name)
            world.board_slugs.append(board.slug)
            theme = Theme(auto_name=f"theme {number}")
            session.add(theme)
            session.flush()
            themes.rename(session, team, theme, f"T{number:03d} {payload}")
            world.theme_ids.append(theme.id)
            world.theme_names.append(theme.name)
            item = roadmap.create(
                session,
                team,
                roadmap.Fields(f"R{number:03d} {payload}"[:150], marked(number, payload)),
                [idea],
            )
            world.item_ids.append(item.id)
            world.item_titles.append(item.title)
        session.flush()
        for first, second in zip(world.idea_ids[::2], world.idea_ids[1::2], strict=False):
            duplicates.suggest(session, first, second, 0.9)
    return world


class Browser:
    """One signed-in page, audited on every visit."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.injected_requests: list[str] = []
        page.on(
            "console",
            lambda message: self.console.append(message.text) if message.type == "error" else None,
        )
        page.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        if request.method != "GET" or "hx-request" in request.headers:
            self.injected_requests.append(f"{request.method} {request.url}")

    def visit(self, path: str) -> str:
        """Opens the page, audits it, and returns its text (whitespace squeezed)."""
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        self.page.wait_for_load_state("load")
        result = self.page.evaluate(AUDIT)
        assert result["found"] == [], (path, result["found"])
        assert self.page.js_errors == [], (path, self.page.js_errors)
        assert self.console == [], (path, self.console)
        assert self.injected_requests == [], (path, self.injected_requests)
        return squeezed(result["text"])

    def visit_pages(self, path: str, pages: int) -> str:
        separator = "&" if "?" in path else "?"
        return " ".join(self.visit(f"{path}{separator}page={n}") for n in range(1, pages + 1))


def assert_shown(text: str, expected: list[str], where: str) -> None:
    missing = [value for value in expected if squeezed(value) not in text]
    assert missing == [], f"not shown as text on {where}: {missing[:5]}"


def markdown_text(payload: str) -> str:
    """What a reader sees of the payload as Markdown (markup and stripped links aside)."""
    return squeezed(plain(payload))


def breakout_numbers() -> list[int]:
    return [number for number, payload in enumerate(PAYLOADS) if BREAKOUT.search(payload)]


def test_hostile_text_stays_text_on_every_page(new_page: Any, db: Database, make_user: Any) -> None:
    # One world and one signed-in admin for all the pages: building it takes seconds.
    assert len(PAYLOADS) >= 100
    world = build(db, make_user)
    page = new_page()
    sign_in(page, world.admin_email)
    browser = Browser(page)  # from here on, no page may post or make htmx requests
    customer_pages(browser, world)
    staff_pages(browser, world)
    assert_clean(page)


def customer_pages(browser: Browser, world: World) -> None:
    listing = browser.visit_pages("/?sort=new", -(-(len(PAYLOADS) + 5) // idea_rules.PER_PAGE))
    assert_shown(listing, world.idea_titles, "the idea list")
    assert_shown(listing, world.board_names, "the board navigation")

    carriers = " ".join(browser.visit(f"/ideas/{idea_id}") for idea_id in world.carrier_ids)
    assert_shown(carriers, [f"Payload {n:03d}" for n in range(len(PAYLOADS))], "idea pages")
    assert_shown(carriers, [markdown_text(p) for p in PAYLOADS], "descriptions and comments")
    assert_shown(carriers, world.names, "comment authors")
    for idea_id in world.carrier_ids:  # the description inside <textarea>
        edit = browser.visit(f"/ideas/{idea_id}/edit")
        assert "Payload" in edit

    for number in breakout_numbers()[::4]:  # the title in <title>, <h1> and attributes
        idea_page = browser.visit(f"/ideas/{world.idea_ids[number]}")
        assert_shown(idea_page, [world.idea_titles[number]], f"idea {number}")
        assert browser.page.title().startswith(world.idea_titles[number])

    for number in (0, 52):
        board_page = browser.visit(f"/b/{world.board_slugs[number]}")
        assert_shown(board_page, [world.board_names[number]], f"board {number}")

    notifications = browser.visit_pages("/notifications", -(-len(PAYLOADS) // 30))
    assert_shown(notifications, world.names, "notifications")

    public_roadmap = browser.visit("/roadmap")
    assert_shown(public_roadmap, world.item_titles, "the public roadmap")
    assert_shown(public_roadmap, [markdown_text(p) for p in PAYLOADS], "roadmap descriptions")


def staff_pages(browser: Browser, world: World) -> None:
    queue = browser.visit("/staff/duplicates")
    paired = world.idea_titles[: len(world.idea_titles) // 2 * 2]
    assert_shown(queue, paired, "the duplicate queue")

    theme_list = browser.visit("/staff/themes")
    assert_shown(theme_list, world.theme_names, "the theme list")
    for number in breakout_numbers()[1::6]:
        theme_page = browser.visit(f"/staff/themes/{world.theme_ids[number]}")
        assert_shown(theme_page, [world.theme_names[number]], f"theme {number}")

    board = browser.visit("/staff/roadmap")
    assert_shown(board, world.item_titles, "the roadmap board")
    for number in breakout_numbers()[2::6]:
        item_page = browser.visit(f"/staff/roadmap/{world.item_ids[number]}")
        assert_shown(item_page, [world.item_titles[number]], f"roadmap item {number}")

    users = browser.visit_pages("/admin/users", -(-(len(PAYLOADS) + 1) // 50))
    assert_shown(users, world.names, "the admin's user list")
    admin_boards = browser.visit("/admin/boards")
    assert_shown(admin_boards, world.board_names, "the admin's board list")
