"""The weekly roadmap update in its three file formats, made from a stored snapshot dict alone
(ideas.weekly), so the same week always gives the same bytes:

- Markdown, to paste in a newsletter or forum post, in the reader's language; `\\n` line ends.
- CSV, one row per roadmap item, for a spreadsheet: UTF-8 with a byte order mark (so Excel reads
  the accents right), RFC 4180 (`\\r\\n` row ends, quotes only where needed); the header names
  are fixed English identifiers, the texts (status label, what changed) in the reader's language,
  numbers with a dot; a text that would start a spreadsheet formula is prefixed with `'`.
- JSON, the documented schema (docs/weekly-export.md, docs/weekly-export.schema.json), version
  `schema_version`; sorted keys, two-space indent, `\\n` line ends; not translated.

Nothing in them depends on when they are made: dates are the week's bounds and the timestamps
of the changes, shown in the snapshot's time zone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_interval, format_skeleton

from ideas.errors import N_
from ideas.i18n import translations
from ideas.roadmap import STATUS_LABELS, STATUSES

SCHEMA_VERSION = 1
BOM = "\ufeff"
CSV_COLUMNS = (
    "week",
    "id",
    "title",
    "status",
    "status_label",
    "target",
    "score",
    "reach",
    "voters",
    "ideas",
    "votes",
    "shipped_at",
    "changed_this_week",
    "change",
    "url",
)
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}

TEXT = {
    "title": N_("Roadmap update: week %(week)d of %(year)d"),
    "dates": N_("%(dates)s (times in %(zone)s)"),
    "summary": N_("In short"),
    "summary_roadmap": N_(
        "Shipped: %(shipped)d · new on the roadmap: %(added)d · status changes: %(moves)d"
    ),
    "summary_community": N_("New ideas: %(ideas)d · votes: %(votes)d"),
    "nothing": N_("Nothing moved on the roadmap this week."),
    "shipped": N_("Shipped this week"),
    "moves": N_("Status changes"),
    "added": N_("New on the roadmap"),
    "grown": N_("Themes that grew most"),
    "grown_line": N_("%(name)s: +%(new)s (%(voters)s in all)"),
    "new_ideas": N_("Most voted new ideas"),
    "roadmap": N_("The roadmap"),
    "top_themes": N_("Top themes"),
    "theme_line": N_("%(name)s: %(voters)s, %(ideas)s"),
    "target": N_("target %(target)s"),
    "figures": N_("score %(score)s · %(ideas)s · %(voters)s"),
    "links": N_("See the roadmap: %(roadmap)s · all weekly updates: %(archive)s"),
    "change_added": N_("New on the roadmap"),
    "change_edited": N_("Title or target changed"),
}


def number(value: float) -> str:
    """At most two decimals, no trailing zeros, a dot: 0.25, 6.4, 12."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def md_escape(text: str) -> str:
    """User text inside Markdown: its own markup characters are shown, not obeyed."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", " ".join(text.split()))


class Words:
    """The snapshot's words in one language."""

    def __init__(self, snapshot: dict[str, Any], locale: str) -> None:
        self.locale = locale
        self.translations = translations(locale)
        self.gettext: Callable[[str], str] = self.translations.gettext
        self.zone = ZoneInfo(snapshot["time_zone"])

    def text(self, key: str, **params: Any) -> str:
        translated = self.gettext(TEXT[key])
        return translated % params if params else translated

    def votes(self, n: int) -> str:
        return self.translations.ngettext("%(num)d vote", "%(num)d votes", n) % {"num": n}

    def voters(self, n: int) -> str:
        return self.translations.ngettext("%(num)d voter", "%(num)d voters", n) % {"num": n}

    def new_voters(self, n: int) -> str:
        return self.translations.ngettext("%(num)d new voter", "%(num)d new voters", n) % {"num": n}

    def ideas(self, n: int) -> str:
        return self.translations.ngettext("%(num)d idea", "%(num)d ideas", n) % {"num": n}

    def status(self, status: str) -> str:
        label = STATUS_LABELS.get(status)
        return self.gettext(label) if label else status

    def moment(self, iso: str) -> str:
        """ "Sun, Nov 22 23:30" in the snapshot's zone, 24-hour clock."""
        moment = datetime.fromisoformat(iso).astimezone(self.zone)
        day = format_skeleton("MMMEd", moment, tzinfo=self.zone, locale=self.locale)
        return f"{day} {moment:%H:%M}"

    def day(self, iso: str) -> str:
        moment = datetime.fromisoformat(iso).astimezone(self.zone)
        return format_date(moment.date(), "medium", locale=self.locale)

    def dates(self, snapshot: dict[str, Any]) -> str:
        """ "November 23 – 29, 2026": Monday to Sunday, in the zone."""
        start = datetime.fromisoformat(snapshot["starts_at"]).astimezone(self.zone).date()
        end = date.fromordinal(
            datetime.fromisoformat(snapshot["ends_at"]).astimezone(self.zone).date().toordinal() - 1
        )
        return format_interval(start, end, "yMMMMd", locale=self.locale)

    def move(self, change: dict[str, Any]) -> str:
        return f"{self.status(change['from'])} → {self.status(change['to'])}"


def week_numbers(snapshot: dict[str, Any]) -> tuple[int, int]:
    year, _, number = snapshot["week"].partition("-W")
    return int(year), int(number)


def title(snapshot: dict[str, Any], locale: str) -> str:
    year, week = week_numbers(snapshot)
    return Words(snapshot, locale).text("title", week=week, year=year)


def idea_url(base_url: str, idea_id: int) -> str:
    return f"{base_url}/ideas/{idea_id}"


def item_url(base_url: str, item_id: int) -> str:
    return f"{base_url}/roadmap#item-{item_id}"


def _by_id(snapshot: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in snapshot["items"]}


def item_changes(snapshot: dict[str, Any], words: Words) -> dict[int, list[str]]:
    """What changed on each item this week, in words."""
    found: dict[int, list[str]] = {}
    added = set(snapshot["changes"]["added"])
    for item in snapshot["items"]:
        parts = [words.text("change_added")] if item["id"] in added else []
        parts += [
            f"{words.move(change)} ({words.moment(change['at'])})"
            for change in snapshot["changes"]["status_changes"]
            if change["item_id"] == item["id"]
        ]
        if item["changed_this_week"] and not parts:
            parts.append(words.text("change_edited"))
        found[item["id"]] = parts
    return found


# Markdown ---------------------------------------------------------------------------------------


def markdown(snapshot: dict[str, Any], locale: str, base_url: str, heading: bool = True) -> str:
    """The week in Markdown; without its first heading (the title) for a page that has one."""
    words = Words(snapshot, locale)
    changes = snapshot["changes"]
    items = _by_id(snapshot)
    lines = [f"# {title(snapshot, locale)}", ""] if heading else []
    lines += [
        words.text("dates", dates=words.dates(snapshot), zone=snapshot["time_zone"]),
        "",
        f"## {words.text('summary')}",
        "",
        "- "
        + words.text(
            "summary_roadmap",
            shipped=len(changes["shipped"]),
            added=len(changes["added"]),
            moves=len(changes["status_changes"]),
        ),
        "- "
        + words.text(
            "summary_community",
            ideas=snapshot["totals"]["new_ideas"],
            votes=snapshot["totals"]["votes"],
        ),
        "",
    ]

    def item_line(item: dict[str, Any], with_status: bool = False) -> str:
        details = [words.status(item["status"])] if with_status else []
        if item["target"]:
            details.append(words.text("target", target=item["target"]))
        line = f"- **[{md_escape(item['title'])}]({item_url(base_url, item['id'])})**"
        return line + (f" ({', '.join(details)})" if details else "")

    def quote(note: str) -> list[str]:
        return [f"  > {md_escape(line)}" for line in note.splitlines() if line.strip()]

    if not (changes["shipped"] or changes["status_changes"] or changes["added"]):
        lines += [words.text("nothing"), ""]
    if changes["shipped"]:
        lines += [f"## {words.text('shipped')}", ""]
        for item_id in changes["shipped"]:
            lines.append(item_line(items[item_id]))
            lines += quote(items[item_id]["note"])
        lines.append("")
    if changes["status_changes"]:
        lines += [f"## {words.text('moves')}", ""]
        for change in changes["status_changes"]:
            lines.append(
                f"- **{md_escape(change['title'])}**: {words.move(change)}, "
                f"{words.moment(change['at'])}"
            )
            lines += quote(change["note"])
        lines.append("")
    if changes["added"]:
        lines += [f"## {words.text('added')}", ""]
        lines += [item_line(items[item_id], with_status=True) for item_id in changes["added"]]
        lines.append("")
    if changes["themes_grown"]:
        lines += [f"## {words.text('grown')}", ""]
        lines += [
            "- "
            + words.text(
                "grown_line",
                name=md_escape(theme["name"]),
                new=words.new_voters(theme["new_voters"]),
                voters=words.voters(theme["voters"]),
            )
            for theme in changes["themes_grown"]
        ]
        lines.append("")
    if snapshot["new_ideas"]:
        lines += [f"## {words.text('new_ideas')}", ""]
        lines += [
            f"{number_}. [{md_escape(idea['title'])}]({idea_url(base_url, idea['id'])}): "
            f"{words.votes(idea['votes'])} · {md_escape(idea['board'])}"
            for number_, idea in enumerate(snapshot["new_ideas"], 1)
        ]
        lines.append("")
    lines += [f"## {words.text('roadmap')}", ""]
    for status in STATUSES:
        if status == "cancelled":
            continue  # withdrawn: said once among the status changes, then left off
        column = [item for item in snapshot["items"] if item["status"] == status]
        if not column:
            continue
        lines += [f"### {words.status(status)} ({len(column)})", ""]
        for item in column:
            figures = words.text(
                "figures",
                score=number(item["score"]),
                ideas=words.ideas(item["ideas"]),
                voters=words.voters(item["voters"]),
            )
            lines.append(f"{item_line(item)}: {figures}")
        lines.append("")
    if snapshot["themes"]:
        lines += [f"## {words.text('top_themes')}", ""]
        lines += [
            f"{number_}. "
            + words.text(
                "theme_line",
                name=md_escape(theme["name"]),
                voters=words.voters(theme["voters"]),
                ideas=words.ideas(theme["ideas"]),
            )
            for number_, theme in enumerate(snapshot["themes"], 1)
        ]
        lines.append("")
    lines += [
        "---",
        "",
        words.text("links", roadmap=f"{base_url}/roadmap", archive=f"{base_url}/updates"),
    ]
    return "\n".join(lines) + "\n"


# CSV --------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(snapshot: dict[str, Any], locale: str, base_url: str) -> str:
    words = Words(snapshot, locale)
    changes = item_changes(snapshot, words)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in snapshot["items"]:
        writer.writerow(
            [
                snapshot["week"],
                item["id"],
                _cell(item["title"]),
                item["status"],
                words.status(item["status"]),
                item["target"] or "",
                number(item["score"]),
                number(item["reach"]),
                item["voters"],
                item["ideas"],
                item["votes"],
                item["shipped_at"] or "",
                "true" if item["changed_this_week"] else "false",
                _cell("; ".join(changes[item["id"]])),
                item_url(base_url, item["id"]),
            ]
        )
    return BOM + buffer.getvalue()


# JSON -------------------------------------------------------------------------------------------


def document(snapshot: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The JSON export as data (the API's answer too)."""
    week = snapshot["week"]
    page = f"{base_url}/updates/{week}"
    return {
        "schema_version": SCHEMA_VERSION,
        "week": week,
        "time_zone": snapshot["time_zone"],
        "starts_at": snapshot["starts_at"],
        "ends_at": snapshot["ends_at"],
        "previous_week": snapshot["previous_week"],
        "compared_with": snapshot["compared_with"],
        "urls": {"page": page, "md": f"{page}.md", "csv": f"{page}.csv", "json": f"{page}.json"},
        "totals": snapshot["totals"],
        "items": [{**item, "url": item_url(base_url, item["id"])} for item in snapshot["items"]],
        "themes": snapshot["themes"],
        "new_ideas": [
            {**idea, "url": idea_url(base_url, idea["id"])} for idea in snapshot["new_ideas"]
        ],
        "changes": snapshot["changes"],
    }


def json_text(snapshot: dict[str, Any], base_url: str) -> str:
    return (
        json.dumps(document(snapshot, base_url), sort_keys=True, indent=2, ensure_ascii=False)
        + "\n"
    )


# Files ------------------------------------------------------------------------------------------


def render(snapshot: dict[str, Any], format: str, locale: str, base_url: str) -> bytes:
    """One format's bytes: "md", "csv" or "json"."""
    if format == "md":
        return markdown(snapshot, locale, base_url).encode()
    if format == "csv":
        return csv_text(snapshot, locale, base_url).encode()
    if format == "json":
        return json_text(snapshot, base_url).encode()
    raise ValueError(f"unknown format {format!r}")


def file_name(week: str, format: str) -> str:
    return f"roadmap-{week}.{format}"


def write_files(
    snapshot: dict[str, Any],
    folder: Path,
    locale: str,
    base_url: str,
    formats: tuple[str, ...] = ("md", "csv", "json"),
) -> list[Path]:
    """Writes the week's files (replacing each at once: a reader never sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for format in formats:
        path = folder / file_name(snapshot["week"], format)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(render(snapshot, format, locale, base_url))
        os.replace(partial, path)
        written.append(path)
    return written
